"""`python -m ltx_pipelines.dfr_pipeline` end to end on the generated tiny LTX-2.5 set (with the tiny DFR files
`ltx_core.testing.tiny_dfr` writes into it: a temporal upsampler, a detailing IC-LoRA): an MP4 of
(N − 1)·4 + 1 frames at four times the rate after two rounds; and the one-line refusals before any model is built."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ltx_core.testing.golden import component_checkpoints
from ltx_pipelines.cli.commands import build_app
from ltx_pipelines.testing.command_lines import flags


@pytest.fixture(scope="module")
def files(tiny_set_25: Path) -> dict[str, Path]:
    """The generated tiny LTX-2.5 set: its single file (keyframe embedding on), Gemma-4 folder, spatial upsampler,
    distilled LoRA, temporal upsampler and detailing IC-LoRA."""
    return {
        "checkpoint": tiny_set_25 / "distilled.safetensors",
        "gemma": tiny_set_25 / "gemma",
        "upsampler": tiny_set_25 / "spatial_upsampler_x2.safetensors",
        "distilled_lora": tiny_set_25 / "distilled_lora.safetensors",
        "temporal": tiny_set_25 / "temporal_upsampler_x2.safetensors",
        "detailing": tiny_set_25 / "detailing_lora.safetensors",
    }


def _argv(files: dict[str, Path], out: Path, size: int = 64, **extra: object) -> list[str]:
    given = {
        "checkpoint_path": files["checkpoint"],
        "distilled_lora": files["distilled_lora"],
        "spatial_upsampler_path": files["upsampler"],
        "gemma_root": files["gemma"],
        "prompt": "A cat walks on the beach at sunset.",
        "height": size,
        "width": size,
        "output_path": out,
        "quiet": True,
    }
    return flags(**{**given, **extra})


def test_two_rounds_with_the_detailing_lora_write_the_video_at_four_times_the_rate(
    files: dict[str, Path], tmp_path: Path
) -> None:
    """Two rounds have no official recording: the spec's lengths and rates. 9 frames: a 25-frame canvas with one
    slot (24); round 1 (49 frames, seam 48) one tile; round 2 (97 frames, seams 48 and 96 from the carried anchor
    and slot) two tiles, positions at min(96, 60) fps; the MP4 (9 − 1)·4 + 1 frames at 24·4 fps. 128 px: the tiny
    spatial upsampler's GroupNorm needs more than one value per group in the stage-1 slot latent
    (README_120_pipelines §7)."""
    from ltx_pipelines.media.video import read_video_info

    out = tmp_path / "dfr.mp4"
    argv = _argv(
        files,
        out,
        128,
        num_frames=9,
        frame_rate=24,
        detailing_lora=(files["detailing"], 0.5),
        temporal_upsampler_path=files["temporal"],
        temporal_upsample_rounds=2,
    )
    result = CliRunner().invoke(build_app("dfr_pipeline"), argv)
    assert result.exit_code == 0, result.output
    info = read_video_info(out)
    assert (info.frames, info.fps, info.height, info.width) == ((9 - 1) * 4 + 1, 96.0, 128, 128)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"temporal_upsample_rounds": 1}, "1 temporal upsample round(s) need the temporal upsampler"),
        ({"temporal_upsample_rounds": 3}, "--temporal-upsample-rounds"),
        ({"num_frames": 10}, "--num-frames 10 must be 8k+1"),
        ({"temporal_upsampler_path": "UPSAMPLER", "temporal_upsample_rounds": 1}, "is not a temporal latent upsampler"),
        ({"checkpoint_path": "LTX2"}, "has no keyframe embedding (use_keyframes_abs_pos_embedding), which DFR"),
    ],
    ids=["round_without_upsampler", "three_rounds", "bad_length", "spatial_as_temporal", "no_keyframe_embedding"],
)
def test_refused_in_one_line(files: dict[str, Path], tmp_path: Path, extra: dict[str, object], expected: str) -> None:
    out = tmp_path / "dfr.mp4"
    given = {"UPSAMPLER": files["upsampler"], "LTX2": component_checkpoints()[0]}
    argv = _argv(files, out, **{"num_frames": 41, **{k: given.get(str(v), v) for k, v in extra.items()}})
    result = CliRunner().invoke(build_app("dfr_pipeline"), argv)
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert not out.exists()


def test_the_duration_head_chooses_the_length(files: dict[str, Path], tmp_path: Path) -> None:
    """`--auto-duration` (spec new_pipelines §1: DFR is among the auto-duration pipelines): the head's 8k+1 length
    within the bounds, no temporal round, so the MP4 has that length at the asked rate."""
    from ltx_pipelines.media.video import read_video_info

    out = tmp_path / "auto.mp4"
    result = CliRunner().invoke(build_app("dfr_pipeline"), _argv(files, out, 128, auto_duration=(0.3, 0.7)))
    assert result.exit_code == 0, result.output
    info = read_video_info(out)
    assert (info.frames - 1) % 8 == 0 and 0.3 * 24 - 8 <= info.frames <= 0.7 * 24 + 8 and info.fps == 24.0
