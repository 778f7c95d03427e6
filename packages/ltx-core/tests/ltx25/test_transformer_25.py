"""The LTX-2.5 transformer (spec delta B.1-B.3) against the official 1.2.0, on both readings of the published flags
(`ltx25`: no FFN biases, no prompt AdaLN, connectors without FFN bias, keyframe embedding; `ltx25b`: only the video
FFN without bias and the keyframe embedding; golden README_120 §3.2): every output of every `cases/ltx25*/transformer_*`
case, float32, within 1e-5 relative; the flags are read from each file, never assumed."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ltx_core.loader import open_checkpoint
from ltx_core.model.transformer.loading import load_transformer, transformer_config
from ltx_core.testing.golden import cases_120, golden_dir, load_case, report
from ltx_core.testing.transformer_cases import case_arguments, run_case

CASES = [p for p in cases_120("transformer_*") if p.parent.name.startswith("ltx25")]


def test_cases_listed() -> None:
    if not CASES:
        pytest.skip(f"no LTX-2.5 transformer cases under {golden_dir()} (the in-repo subset has none)")
    assert {p.parent.name for p in CASES} == {"ltx25", "ltx25b"}


@pytest.mark.parametrize("path", CASES, ids=[f"{p.parent.name}/{p.stem}" for p in CASES])
def test_transformer_case_25(path: Path) -> None:
    case = load_case(path)
    model = load_transformer(case.file(case.params["checkpoint"]))
    got = run_case(model, case)
    assert set(case.outputs) <= set(got), f"unhandled outputs {set(case.outputs) - set(got)}"
    for name, expected in case.outputs.items():
        report(f"{path.parent.name}/{path.stem}.{name}", got[name], expected, 1e-5)


@pytest.mark.parametrize("path", [p for p in CASES if p.stem == "transformer_keyframes"], ids=lambda p: p.parent.name)
def test_keyframe_embedding_is_live(path: Path) -> None:
    """Zeroing the keyframe embedding changes the video output (the case's `embedding_effect_nonzero`), and a mask
    that marks nothing leaves the output of the plain forward bit for bit."""
    case = load_case(path)
    model = load_transformer(case.file(case.params["checkpoint"]))
    video, audio, ptb = case_arguments(case)
    with torch.no_grad():
        marked, _ = model(video, audio, ptb)
        unmarked, _ = model(video.with_(keyframes_mask=torch.zeros_like(video.keyframes_mask)), audio, ptb)
        plain, _ = model(video.with_(keyframes_mask=None), audio, ptb)
        model.keyframes_abs_pos_embedding.data.zero_()
        zeroed, _ = model(video, audio, ptb)
    assert torch.equal(unmarked, plain)
    assert not torch.equal(marked, zeroed) and bool(case.params.get("embedding_effect_nonzero", True))


def test_flags_come_from_the_file() -> None:
    """The two tiny 2.5 files say different things; each model has exactly the weights its file holds."""
    files = [golden_dir() / f"{name}.safetensors" for name in ("ltx25_tiny", "ltx25b_tiny")]
    if not all(f.exists() for f in files):
        pytest.skip("no LTX-2.5 tiny files in the fixture set")
    for file in files:
        ckpt = open_checkpoint(file)
        cfg = transformer_config(ckpt.config, source=ckpt.path)
        keys = set(load_transformer(file).state_dict())
        assert ("transformer_blocks.0.ff.net.2.bias" in keys) == cfg.ff_bias
        assert ("transformer_blocks.0.audio_ff.net.2.bias" in keys) == cfg.audio_ff_bias
        assert ("prompt_adaln_single.linear.weight" in keys) == cfg.has_prompt_adaln
        assert ("keyframes_abs_pos_embedding" in keys) == cfg.use_keyframes_abs_pos_embedding
