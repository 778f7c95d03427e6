"""The command-line defaults the release decides (delta A.14, A.11, C.4), on the real commands' option sets (their
`plan` replaced by one that records the parsed arguments): the negative prompt and A2Vid's parameters follow
--numerics, --num-frames left out is 121 for files without a duration head, --image's CRF is left to the pipeline,
and --frame-rate is refused with the reason where the source video sets it."""

from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import save_file
from typer.testing import CliRunner

from ltx_core.model.duration_head import AutoDuration
from ltx_pipelines.cli.command import EXIT_USAGE
from ltx_pipelines.cli.commands import command
from ltx_pipelines.cli.options import CommonArgs
from ltx_pipelines.cli.runtime import cli_images
from ltx_pipelines.testing.command_lines import flags
from ltx_pipelines.utils.constants import DEFAULT_NEGATIVE_PROMPT, NEGATIVE_PROMPT_1_1_3

ENV = {"COLUMNS": "200", "NO_COLOR": "1"}


def _parsed(pipeline: str, argv: list[str]) -> tuple[Any, list[CommonArgs]]:
    """Run `pipeline`'s command line with a plan that only keeps the parsed arguments."""
    seen: list[CommonArgs] = []
    cli = command(pipeline)

    @functools.wraps(cli.plan)  # the real plan's own options
    def plan(args: CommonArgs, **_: Any) -> None:
        seen.append(args)

    cli = replace(cli, plan=plan)
    return CliRunner().invoke(cli.app(pipeline), argv, env=ENV), seen


@pytest.fixture
def base(tmp_path: Path, golden: Path) -> dict[str, Any]:
    (tmp_path / "gemma").mkdir()
    return {"gemma_root": tmp_path / "gemma", "prompt": "a fox", "output_path": tmp_path / "out.mp4"}


def _guided(base: dict[str, Any], checkpoint: Path, **more: Any) -> list[str]:
    return flags(checkpoint_path=checkpoint, **base, **more)


@pytest.mark.parametrize("numerics,expected", [("1.2.0", DEFAULT_NEGATIVE_PROMPT), ("1.1.3", NEGATIVE_PROMPT_1_1_3)])
def test_default_negative_prompt_follows_numerics(base: dict[str, Any], golden: Path, numerics: str, expected: str):
    result, seen = _parsed("ti2vid_one_stage", _guided(base, golden / "ltx23_tiny.safetensors", numerics=numerics))
    assert result.exit_code == 0, result.output
    assert seen[-1].negative_prompt == expected
    given = _guided(base, golden / "ltx23_tiny.safetensors", numerics=numerics, negative_prompt="rain")
    assert _parsed("ti2vid_one_stage", given)[1][-1].negative_prompt == "rain"


@pytest.mark.parametrize("numerics,steps,blocks", [("1.2.0", 40, (29,)), ("1.1.3", 30, (28,))])
def test_a2vid_detects_its_parameters_under_1_2_0_only(
    base: dict[str, Any], golden: Path, numerics: str, steps: int, blocks: tuple[int, ...]
):
    """On an LTX-2 file: 1.2.0 detects LTX-2's 40 steps and STG block 29; 1.1.3 used LTX-2.3's 30 and 28."""
    ltx2 = golden / "ltx2_tiny.safetensors"
    argv = _guided(base, ltx2, numerics=numerics, distilled_lora=ltx2, spatial_upsampler_path=ltx2)
    result, seen = _parsed("a2vid_two_stage", [*argv, "--audio-path", str(ltx2)])
    assert result.exit_code == 0, result.output
    args = seen[-1]
    assert (args.num_inference_steps, args.video_stg_blocks, args.audio_stg_blocks) == (steps, blocks, blocks)
    assert args.num_frames == 121


def test_num_frames_left_out_is_121_or_the_duration_heads_choice(base: dict[str, Any], golden: Path, tmp_path: Path):
    ltx23 = golden / "ltx23_tiny.safetensors"
    result, seen = _parsed("distilled", flags(distilled_checkpoint_path=ltx23, spatial_upsampler_path=ltx23, **base))
    assert result.exit_code == 0, result.output
    assert seen[-1].num_frames == 121
    headed = tmp_path / "ltx25.safetensors"
    save_file({"duration_head.mlp_out.bias": torch.zeros(1)}, headed)
    argv = flags(distilled_checkpoint_path=headed, spatial_upsampler_path=ltx23, **base)
    result, seen = _parsed("distilled", argv)
    assert result.exit_code == 0, result.output
    assert seen[-1].num_frames == AutoDuration(1.0, 20.0)  # the head chooses, between the official 1 and 20 s
    result, seen = _parsed("distilled", [*argv, *flags(num_frames=17)])  # a given count needs no prediction
    assert result.exit_code == 0, result.output
    assert seen[-1].num_frames == 17


def test_image_crf_is_optional_and_left_to_the_pipeline(base: dict[str, Any], golden: Path, tmp_path: Path):
    image = tmp_path / "cat.png"
    image.write_bytes(b"png")
    ltx23 = golden / "ltx23_tiny.safetensors"
    argv = _guided(base, ltx23, image=(image, 0, 1.0))
    argv += flags(image=(image, 8, 0.5, 20))
    result, seen = _parsed("ti2vid_one_stage", argv)
    assert result.exit_code == 0, result.output
    assert [i.crf for i in cli_images(seen[-1])] == [None, 20]  # None: the VAE file's default, resolved when run
    result, _ = _parsed("ti2vid_one_stage", _guided(base, ltx23, image=(image, 0, 1.0, 52)))
    assert result.exit_code == EXIT_USAGE and "CRF 52 is outside 0 (no compression) to 51" in result.output


def test_retake_refuses_frame_rate_for_a_video_file(base: dict[str, Any], golden: Path, tmp_path: Path):
    """--frame-rate is Retake's for EXR frame folders only (they have none): a video file keeps its own, refused
    before the file is opened."""
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"mp4")
    argv = flags(distilled_checkpoint_path=golden / "ltx23_tiny.safetensors", **base, video_path=video)
    argv += flags(start_time=0.1, end_time=0.5, frame_rate=30)
    result = CliRunner().invoke(command("retake").app("retake"), argv, env=ENV)
    assert result.exit_code == EXIT_USAGE
    (line,) = [line for line in result.output.splitlines() if line.strip()]
    assert "--frame-rate is only for a folder of EXR frames (with --hdr): --video-path clip.mp4 keeps its own" in line
