"""The bf16 LoRA-fusion golden case: the loader's fusion helpers must reproduce the official bits."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ltx_core.loader.lora import LoraWeights, fuse_weight, lora_delta
from ltx_core.testing.golden import load_case


def test_lora_fusion_bf16_bitwise(golden: Path) -> None:
    path = golden / "cases" / "common" / "lora_fusion_bf16.safetensors"
    if not path.exists():
        pytest.skip("no bf16 LoRA fusion case")
    case = load_case(path)
    strength = float(case.params["strength"])
    names = case.params["weights"]
    assert names, "case lists no weights"
    for i, name in enumerate(names):
        stem = name.removesuffix(".weight")
        w, a, b = case.inputs[f"w{i}"], case.inputs[f"a{i}"], case.inputs[f"b{i}"]
        assert w.dtype == torch.bfloat16
        lora = LoraWeights(path, {stem: (a, b)}, {})
        delta = lora_delta([(lora, strength)], stem, torch.bfloat16, torch.device("cpu"))
        assert delta is not None
        fused = fuse_weight(w, delta, torch.bfloat16)
        expected = case.outputs[f"w{i}"]
        assert fused.dtype == torch.bfloat16
        assert torch.equal(fused, expected), f"{name}: {(fused != expected).sum().item()} elements differ"
        assert not torch.equal(fused, w), f"{name}: fusion changed nothing"
