"""The pipelines' entry point: auto choice on CPU, forced modes, the compile/streaming refusal, release."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ltx_core.errors import InputError
from ltx_core.model.transformer import LTXModel
from ltx_core.offload.policy import GIB, MemoryInfo, OffloadMode
from ltx_core.offload.streaming import BlockStreamingWrapper, load_transformer_for_inference, release_transformer
from ltx_core.testing.golden import component_checkpoints


def _ckpt(golden: Path) -> Path:
    ckpts = component_checkpoints()
    assert ckpts
    return ckpts[0]


def test_auto_on_cpu_is_resident(golden: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model, choice = load_transformer_for_inference(_ckpt(golden), device="cpu", dtype=None)
    assert choice.mode is OffloadMode.NONE and isinstance(model, LTXModel)
    assert "offload: none" in capsys.readouterr().out
    release_transformer(model)
    assert all(p.is_meta for p in model.parameters())


def test_auto_streams_when_memory_is_short(golden: Path) -> None:
    tiny_gpu = MemoryInfo("cuda", 1, 64 * GIB)  # pretend: nothing fits the accelerator, RAM is plenty
    model, choice = load_transformer_for_inference(_ckpt(golden), device="cpu", memory=tiny_gpu, echo=None)
    assert choice.mode is OffloadMode.CPU and isinstance(model, BlockStreamingWrapper)
    assert "may run out" in choice.reason
    release_transformer(model)
    assert model.closed


def test_forced_disk_with_fp8(golden: Path) -> None:
    model, choice = load_transformer_for_inference(
        _ckpt(golden), device="cpu", offload="disk", quantization="fp8-cast", echo=None
    )
    assert choice.mode is OffloadMode.DISK and model.mode == "disk"
    assert model.model.transformer_blocks[0].attn1.to_q.weight.is_meta  # blocks live outside the module
    release_transformer(model)


def test_compile_with_streaming_is_refused(golden: Path) -> None:
    with pytest.raises(InputError, match=r"^compile=True cannot be combined with offload=.cpu."):
        load_transformer_for_inference(_ckpt(golden), device="cpu", offload="cpu", compile=True, echo=None)


def test_bf16_default(golden: Path) -> None:
    model, _ = load_transformer_for_inference(_ckpt(golden), device="cpu", offload="none", echo=None)
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
