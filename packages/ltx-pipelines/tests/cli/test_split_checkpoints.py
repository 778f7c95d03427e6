"""Split checkpoints (delta E.1-E.3) on the generated tiny LTX-2.5 set: the distilled command on the single file and
on the split files gives the same frames and sound (the split run made through --jobs), --auto-duration gives an
8k+1 length, every bad combination of model flags is one line with exit 2, and each version decision reads the file
the spec names (the image CRF the video VAE's, the distilled sampler and the parser defaults the transformer's)."""

from __future__ import annotations

import functools
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

from ltx_core.loader import SafetensorsFile
from ltx_core.loader.model_paths import ModelPaths
from ltx_core.model.duration_head import AutoDuration
from ltx_core.testing.tiny_checkpoints import SPLIT_FILES
from ltx_pipelines.cli.commands import build_app, command
from ltx_pipelines.cli.options import CommonArgs
from ltx_pipelines.distilled import DistilledPipeline
from ltx_pipelines.testing.command_lines import flags

SIZE, FPS = 64, 24.0  # the smallest two-stage size
AUTO = (0.3, 0.4)  # seconds: 7 to 10 frames at 24 fps, whatever the random head predicts → 9 (8k+1)


def _split(folder: Path, **drop: Any) -> dict[str, Any]:
    """The split-file flags of the tiny set (an entry given as None in `drop` is left out, another value replaces)."""
    paths = {f"{slot}_path": folder / name for slot, name in SPLIT_FILES.items()}
    return {**paths, **drop}


def _common(folder: Path) -> dict[str, Any]:
    return {
        "spatial_upsampler_path": folder / "spatial_upsampler_x2.safetensors",
        "height": SIZE,
        "width": SIZE,
        "frame_rate": FPS,
        "seed": 5,
        "quiet": True,
    }


def _invoke(name: str, argv: list[str]) -> Any:
    return CliRunner().invoke(build_app(name), argv)


def _decoded(path: Path) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(frames, audio samples, audio rate, channels) of an MP4."""
    with av.open(str(path)) as container:
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate, channels = stream.rate, stream.channels
        audio = np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=-1)
    return frames, audio, rate, channels


@pytest.fixture(scope="module")
def runs(tiny_set_25: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One single-file run (duration chosen by the head within `AUTO`) and one split-file run of the same seed with
    --num-frames 9, the latter as a one-job --jobs batch."""
    folder, out = tiny_set_25, tmp_path_factory.mktemp("split_runs")
    single = out / "single.mp4"
    argv = flags(
        distilled_checkpoint_path=folder / "distilled.safetensors",
        gemma_root=folder / "gemma",
        prompt="a red fox in the snow",
        auto_duration=AUTO,
        output_path=single,
        **_common(folder),
    )
    result = _invoke("distilled", argv)
    assert result.exit_code == 0, result.output
    jobs = out / "jobs.jsonl"
    split = out / "split.mp4"
    jobs.write_text(json.dumps({"prompt": "a red fox in the snow", "num_frames": 9, "output_path": str(split)}) + "\n")
    result = _invoke("distilled", flags(**_split(folder), jobs=jobs, output_dir=out, **_common(folder)))
    assert result.exit_code == 0, result.output
    return single, split


def test_single_and_split_files_give_the_same_mp4_with_sound(runs: tuple[Path, Path]) -> None:
    single, split = (_decoded(p) for p in runs)
    frames, audio, rate, channels = single
    assert frames.shape == (9, SIZE, SIZE, 3)  # the head's choice within AUTO: 8k+1
    assert (rate, channels) == (48000, 2) and audio.shape[-1] > 0  # the BWE vocoder's stereo 48 kHz
    assert np.array_equal(frames, split[0])
    assert np.array_equal(audio, split[1]) and split[2:] == (rate, channels)


def test_video_vae_path_replaces_the_single_files_vae(tiny_set_25: Path, tmp_path: Path) -> None:
    """--video-vae-path beside a single file: the conv-decoder VAE stored with bare keys decodes (and its latent
    statistics serve the upsampler) in place of the file's diffusion decoder."""
    folder, out = tiny_set_25, tmp_path / "conv.mp4"
    argv = flags(
        distilled_checkpoint_path=folder / "distilled.safetensors",
        gemma_root=folder / "gemma",
        video_vae_path=folder / "video_vae_conv.safetensors",
        prompt="a red fox in the snow",
        num_frames=9,
        output_path=out,
        **_common(folder),
    )
    result = _invoke("distilled", argv)
    assert result.exit_code == 0, result.output
    frames, audio, rate, _ = _decoded(out)
    assert frames.shape == (9, SIZE, SIZE, 3) and rate == 48000 and audio.shape[-1] > 0


def _one_line(name: str, argv: list[str]) -> str:
    result = _invoke(name, argv)
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def _base(folder: Path, tmp_path: Path, **options: Any) -> list[str]:
    return flags(prompt="a fox", output_path=tmp_path / "out.mp4", **_common(folder), **options)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"gemma_root": "gemma"}, "--gemma-root and --transformer-path, --text-encoder-path, --audio-vae-path"),
        ({"audio_vae_path": None}, "--audio-vae-path is required with split files: this pipeline needs the audio VAE"),
        ({"text_encoder_path": None}, "--text-encoder-path is required with split files: this pipeline needs the text"),
        ({"transformer_path": SPLIT_FILES["video_vae"]}, "holds a video VAE (vae.* / encoder.* / decoder.*), not the "),
        ({"audio_vae_path": SPLIT_FILES["duration_head"]}, "holds a duration head (duration_head.*), not the audio"),
        ({"text_encoder_path": "gemma"}, "is a folder; split files need the packed single-file text encoder"),
        ({"duration_head_path": None, "auto_duration": (1, 2)}, "the split files (no --duration-head-path) have no"),
        ({"auto_duration": (2, 1)}, "MIN_S 2 and MAX_S 1: give 0 < MIN_S <= MAX_S"),
    ],
    ids=["gemma_root", "no_audio_vae", "no_te", "wrong_kind", "wrong_kind_2", "te_folder", "no_head", "bounds"],
)
def test_bad_split_files_are_one_line(
    options: dict[str, Any], expected: str, tiny_set_25: Path, tmp_path: Path
) -> None:
    folder = tiny_set_25
    named = {k: folder / v if isinstance(v, str) else v for k, v in options.items()}
    line = _one_line("distilled", _base(folder, tmp_path, **_split(folder, **named)))
    assert expected in line, line


def test_single_file_errors_are_one_line(tiny_set_25: Path, tmp_path: Path) -> None:
    folder = tiny_set_25
    line = _one_line("distilled", _base(folder, tmp_path, gemma_root=folder / "gemma"))
    assert "Missing option '--distilled-checkpoint-path' (or split files" in line
    replaced = _base(
        folder,
        tmp_path,
        distilled_checkpoint_path=folder / "distilled.safetensors",
        gemma_root=folder / "gemma",
        video_vae_path=folder / SPLIT_FILES["transformer"],
    )
    line = _one_line("distilled", replaced)
    assert "given as --video-vae-path holds a transformer (model.diffusion_model.*), not the video VAE" in line


def test_each_version_decision_reads_its_file(tiny_set_25: Path) -> None:
    """Delta E.3: the image CRF default follows the video VAE file (the conv VAE carries no model_version: 33; the
    2.5 VAE: 18), the Euler-ancestral stage 1 the transformer file (2.5 in both)."""
    folder, split = tiny_set_25, {slot: tiny_set_25 / name for slot, name in SPLIT_FILES.items()}
    upsampler = folder / "spatial_upsampler_x2.safetensors"
    replaced = ModelPaths(checkpoint=folder / "distilled.safetensors", video_vae=folder / "video_vae_conv.safetensors")
    for models, crf in ((ModelPaths(**split), 18), (replaced, 33), (folder / "distilled.safetensors", 18)):
        pipeline = DistilledPipeline(models, None if isinstance(models, ModelPaths) else folder / "gemma", upsampler)
        assert pipeline.ancestral
        assert pipeline.image_conditioner.default_image_crf == crf


def _parsed(pipeline: str, argv: list[str]) -> tuple[Any, list[CommonArgs]]:
    """Run `pipeline`'s command line with a plan that only keeps the parsed arguments (no check, no run)."""
    seen: list[CommonArgs] = []
    cli = command(pipeline)

    @functools.wraps(cli.plan)
    def plan(args: CommonArgs, **_: Any) -> None:
        seen.append(args)

    return CliRunner().invoke(replace(cli, plan=plan).app(pipeline), argv), seen


def test_defaults_and_auto_duration_from_the_split_files(tiny_set_25: Path, tmp_path: Path) -> None:
    """Delta E.1 / C.4: without a single file the parser's defaults come from the transformer's model_version
    (2.5: 30 steps, STG block 28; the same transformer without model_version, as LTX-2 files: 40, 29);
    --auto-duration MIN MAX is the head's range, an explicit --num-frames wins."""
    out = {"prompt": "a fox", "output_path": tmp_path / "out.mp4"}
    split = _split(tiny_set_25)
    result, seen = _parsed("ti2vid_one_stage", flags(**split, auto_duration=(0.5, 2), **out))
    assert result.exit_code == 0, result.output
    args = seen[-1]
    assert (args.num_inference_steps, args.video_stg_blocks, args.audio_stg_blocks) == (30, (28,), (28,))
    assert args.num_frames == AutoDuration(0.5, 2.0)
    assert args.models == ModelPaths(**{slot: tiny_set_25 / name for slot, name in SPLIT_FILES.items()})
    transformer = split["transformer_path"]
    metadata = {k: v for k, v in SafetensorsFile(transformer).metadata.items() if k != "model_version"}
    save_file(load_file(transformer), tmp_path / "unversioned.safetensors", metadata=metadata)
    split["transformer_path"] = tmp_path / "unversioned.safetensors"
    result, seen = _parsed("ti2vid_one_stage", flags(**split, auto_duration=(0.5, 2), num_frames=17, **out))
    assert result.exit_code == 0, result.output
    assert (seen[-1].num_inference_steps, seen[-1].video_stg_blocks, seen[-1].num_frames) == (40, (29,), 17)
