"""The LTX-2.5 duration head (spec delta C) against the official 1.2.0 (`cases/ltx25/duration_head`, float32): the
seconds from both contexts, from each alone and for a random batch of 2, within 1e-5; the frame counts of the six
recorded (frame rate, min, max) settings exactly; and the spec's worked seconds → frames examples by hand."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ltx_core.errors import InputError
from ltx_core.model.duration_head import AutoDuration, frames_for_seconds, has_duration_head, load_duration_head
from ltx_core.testing.golden import cases_120, component_checkpoints, load_case, report

CASES = cases_120("duration_head")


@pytest.mark.parametrize("path", CASES or [None], ids=lambda p: p.parent.name if p else "none")
def test_head_matches_the_official(path: Path | None) -> None:
    if path is None:
        pytest.skip("no duration-head case in the fixture set (MANIFEST_120.json)")
    case = load_case(path)
    inp, out, p = case.inputs, case.outputs, case.params
    head = load_duration_head(case.file(p["checkpoint"]), dtype=torch.float32)
    assert head is not None
    with torch.no_grad():
        seconds = head(inp["video_context"], inp["audio_context"])
        report("seconds", seconds, out["seconds"], 1e-5)
        report("video only", head(video=inp["video_context"]), out["seconds_video_only"], 1e-5)
        report("audio only", head(audio=inp["audio_context"]), out["seconds_audio_only"], 1e-5)
        report(
            "random batch", head(inp["random_video_tokens"], inp["random_audio_tokens"]), out["random_seconds"], 1e-5
        )
    spoken = p["seconds_python_float"]  # the prediction as the Python float the official frame rule used
    for setting, frames in zip(p["frames_settings"], out["frames"].tolist(), strict=True):
        duration = AutoDuration(setting["min_seconds"], setting["max_seconds"])
        assert frames_for_seconds(spoken, setting["frame_rate"], duration) == frames == setting["frames"], setting


def test_worked_examples_of_the_frame_rule() -> None:
    """Spec C.3 at 24 fps with the defaults (24..480 frames), and the off-grid maximum at 23.976 fps."""
    assert frames_for_seconds(5.0, 24.0) == 113  # 120 → snapped down to 8k+1
    assert frames_for_seconds(0.3, 24.0) == 25  # 7 → clamped to 24 → 17 < 24 → up to 25
    assert frames_for_seconds(1.04, 24.0) == 25
    assert frames_for_seconds(30.0, 24.0) == 473  # 720 → 480 → 473
    assert frames_for_seconds(0.55, 23.976, AutoDuration(0.5, 0.6)) == 14  # min 12, max 14 within one step
    with pytest.raises(InputError, match="min_seconds <= max_seconds"):
        AutoDuration(3.0, 2.0)


def test_files_without_a_head_give_none() -> None:
    for ckpt in component_checkpoints():  # the LTX-2 / LTX-2.3 tiny files
        assert not has_duration_head(ckpt) and load_duration_head(ckpt) is None
