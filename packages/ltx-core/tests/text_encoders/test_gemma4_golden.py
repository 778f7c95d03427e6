"""Golden parity of the Gemma-4 unified text path (README_120 §4, §5.2): tokens, every hidden state, features and
contexts against the official 1.2.0 run; the HF folder and both packed files load to bitwise-equal encoders; the
weight-layout detection; layers streamed from RAM or the file equal the resident encoder bitwise."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ltx_core.loader import Checkpoint
from ltx_core.offload.policy import MemoryInfo
from ltx_core.testing.cpu_parity import reference_kernels
from ltx_core.testing.golden import cases_120, golden_dir, load_case, report
from ltx_core.text_encoders.gemma.assets import read_text_encoder_assets
from ltx_core.text_encoders.gemma.gemma4 import detect_layout, load_gemma4
from ltx_core.text_encoders.gemma.loading import load_text_path
from ltx_core.text_encoders.gemma.prompts import encode_prompts

TOL = 1e-5  # float32 component cases (as test_text_path_golden.py)
CASES = cases_120("text_gemma4_[0-9]")
LAYOUTS = cases_120("text_gemma4_te_layouts")
needs_cases = pytest.mark.skipif(not CASES, reason="the fixture set has no 1.2.0 Gemma-4 cases (README_120 §5.2)")
needs_layouts = pytest.mark.skipif(not LAYOUTS, reason="the fixture set has no 1.2.0 Gemma-4 layout case")


def _root(case) -> Path:
    """The case's Gemma-4 root folder (`case.file` resolves files only): param `gemma_root`, under the golden set."""
    name = case.params.get("gemma_root") or load_case(CASES[0]).params["gemma_root"]
    return golden_dir() / name


def _hidden_states_match(label: str, got: tuple[torch.Tensor, ...], expected: torch.Tensor) -> None:
    """Bitwise on the recording's kernels (the official run: AVX2), else within the float32 tolerance."""
    assert len(got) == expected.shape[0]
    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
        if reference_kernels().strict:
            assert torch.equal(g, e), f"{label} hidden state {i} differs"
        report(f"{label} hidden state {i}", g, e, TOL)


@needs_cases
@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_text_path_matches_official(path):
    case = load_case(path)
    params = case.params
    prompts, index = params["batched_encode_of"], params["batched_encode_of"].index(params["prompt"])
    encoder = load_gemma4(_root(case), dtype=torch.float32)
    tokens = encoder.tokenize(params["prompt"])
    assert torch.equal(tokens.input_ids, case.inputs["input_ids"])
    assert torch.equal(tokens.attention_mask, case.inputs["attention_mask"])
    assert int(tokens.attention_mask.sum()) == params["valid_tokens"]
    hidden, mask = encoder.encode_together(prompts)[index]  # the official ran both prompts in one batch
    assert torch.equal(mask, case.inputs["attention_mask"])
    _hidden_states_match(path.stem, hidden, case.outputs["hidden_states"])

    processor = load_text_path(case.file(params["checkpoint"]))
    with torch.no_grad():
        out = processor(hidden, mask)
    for name in ("video_features", "audio_features", "video_context", "audio_context"):
        report(f"{path.stem} {name}", getattr(out, name), case.outputs[name], TOL)
    assert torch.equal(out.mask, case.outputs["context_mask"])

    checkpoint = case.file(params["checkpoint"])
    contexts = encode_prompts(prompts, _root(case), checkpoint, device="cpu", dtype=torch.float32)[index]
    report(f"{path.stem} encode_prompts video", contexts.video_context, case.outputs["video_context"], TOL)
    report(f"{path.stem} encode_prompts audio", contexts.audio_context, case.outputs["audio_context"], TOL)
    assert torch.equal(contexts.mask, case.outputs["context_mask"])


@needs_layouts
def test_root_and_both_packed_files_are_bitwise_equal():
    case = load_case(LAYOUTS[0])
    layout = case.params["layout"]
    root = _root(case)
    sources = {"root": root, "comfy_flat": case.file(layout["comfy_flat_file"]), "hf": case.file(layout["hf_file"])}
    prompts = case.params["batched_encode_of"]
    index = prompts.index(case.params["prompt"])
    states = {}
    for name, source in sources.items():
        encoder = load_gemma4(source, dtype=torch.float32)
        hidden, mask = encoder.encode_together(prompts)[index]
        assert torch.equal(mask, case.inputs["attention_mask"])
        assert torch.equal(encoder.tokenize(prompts[index]).input_ids, case.inputs["input_ids"])
        states[name] = hidden
    for name in ("root", "hf"):
        assert all(torch.equal(a, b) for a, b in zip(states[name], states["comfy_flat"], strict=True)), name
    _hidden_states_match("comfy_flat pack", states["comfy_flat"], case.outputs["hidden_states"])


@needs_layouts
def test_layout_detection():
    case = load_case(LAYOUTS[0])
    layout = case.params["layout"]
    comfy = read_text_encoder_assets(case.file(layout["comfy_flat_file"]))
    hf = read_text_encoder_assets(case.file(layout["hf_file"]))
    assert layout["marker_in_comfy_flat_file"] and not layout["marker_in_hf_file"]
    assert detect_layout(Checkpoint(list(comfy.weight_files))) == "comfy_flat"
    assert detect_layout(Checkpoint(list(hf.weight_files))) == "hf"
    root = read_text_encoder_assets(_root(case))
    assert detect_layout(Checkpoint(list(root.weight_files))) == "hf"
    assert comfy.packed and hf.packed and not root.packed
    assert comfy.config == hf.config == root.config  # the packer stores the root's config.json
    assert comfy.tokenizer_json == root.tokenizer_json


@needs_cases
@pytest.mark.parametrize(("ram", "reader"), [(64 << 30, "ram"), (0, "disk")])
def test_streamed_layers_equal_resident(ram, reader):
    """The CPU stands in for the accelerator: `memory` says a CUDA card is short (and RAM too for the disk reader)."""
    case = load_case(CASES[0])
    root = _root(case)
    prompts = case.params["batched_encode_of"]
    resident = load_gemma4(root, dtype=torch.float32)
    streamed = load_gemma4(root, dtype=torch.float32, offload="auto", memory=MemoryInfo("cuda", 0, ram))
    layers = streamed.model.layers
    if reader == "disk":
        assert all(p.is_meta for p in layers.parameters())
    want = resident.encode_together(prompts)
    got = streamed.encode_together(prompts)
    for (g, gm), (w, wm) in zip(got, want, strict=True):
        assert torch.equal(gm, wm)
        assert all(torch.equal(a, b) for a, b in zip(g, w, strict=True))
    assert streamed.offload.uploads == len(layers)  # one forward for all prompts, each layer uploaded once
    streamed.release()
    resident.release()
