"""Keyframe interpolation end to end on generated tiny checkpoints: the MP4 the CLI writes, keyframes appended (never
replacing grid tokens) in both stages at their own time positions, determinism, and clear errors for frame indices.
(Golden parity for this pipeline runs in test_ti2vid_golden_parity.py with the other guided pipelines.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from ltx_core.components.guiders import MultiModalGuiderParams
from ltx_core.errors import InputError
from ltx_core.loader import LoraSpec
from ltx_pipelines.cli.commands import build_app
from ltx_pipelines.keyframe_interpolation import KeyframeInterpolationPipeline
from ltx_pipelines.testing.command_lines import flags
from ltx_pipelines.ti2vid_two_stages import TI2VidTwoStagesPipeline
from ltx_pipelines.utils.helpers import ImageConditioningInput

HEIGHT, WIDTH, FRAMES, FPS = 64, 128, 9, 24.0
GUIDED = MultiModalGuiderParams(cfg_scale=3.0, stg_scale=1.0, stg_blocks=(1,), rescale_scale=0.7, modality_scale=3.0)


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("keyframes")
    rng = np.random.default_rng(1)
    paths = []
    for i in range(2):
        paths.append(folder / f"key{i}.png")
        Image.fromarray(rng.integers(0, 256, (48, 80, 3), dtype=np.uint8)).save(paths[-1])
    return paths


def _pipeline(cls: type, folder: Path) -> Any:
    return cls(
        folder / "dev.safetensors",
        [LoraSpec(folder / "distilled_lora.safetensors", 0.8)],
        folder / "spatial_upsampler_x2.safetensors",
        folder / "gemma",
        device="cpu",
    )


def _run(pipeline: Any, contexts: tuple[Any, Any], images: list[ImageConditioningInput], seed: int = 4) -> dict:
    recorded: dict[str, torch.Tensor] = {}
    result = pipeline(
        *contexts,
        seed=seed,
        height=HEIGHT,
        width=WIDTH,
        num_frames=FRAMES,
        frame_rate=FPS,
        num_inference_steps=2,
        video_guider_params=GUIDED,
        audio_guider_params=GUIDED,
        images=images,
        stage_2_sigmas=(0.909375, 0.0),
        record=lambda name, t: recorded.__setitem__(name, t),
    )
    result.video.close()
    return recorded


def test_cli_writes_mp4_with_audio(tiny_sets: dict[str, Path], images: list[Path], tmp_path: Path) -> None:
    folder = tiny_sets["ltx2"]
    out = tmp_path / "kf.mp4"
    args = [
        *flags(
            checkpoint_path=folder / "dev.safetensors",
            gemma_root=folder / "gemma",
            spatial_upsampler_path=folder / "spatial_upsampler_x2.safetensors",
            distilled_lora=folder / "distilled_lora.safetensors",
            prompt="a fox walks",
            negative_prompt="blurry",
            height=HEIGHT,
            width=WIDTH,
            num_frames=FRAMES,
            frame_rate=FPS,
            num_inference_steps=2,
        ),
        *flags(image=(images[0], 0, "1.0")),
        *flags(image=(images[1], 8, "1.0")),
        *flags(output_path=out, quiet=True),
    ]
    result = CliRunner().invoke(build_app("keyframe_interpolation"), args)
    assert result.exit_code == 0, result.output
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (WIDTH, HEIGHT)
        assert float(stream.average_rate) == FPS and len(container.streams.audio) == 1
        assert sum(1 for _ in container.decode(video=0)) == FRAMES
    # a frame index past the clip: exit 2, one line naming the valid range, no file
    bad = tmp_path / "bad.mp4"
    args[args.index(str(out))] = str(bad)
    args[args.index("8")] = "9"
    result = CliRunner().invoke(build_app("keyframe_interpolation"), args)
    message = " ".join(result.output.replace("│", " ").split())  # the message may wrap inside rich's box
    assert result.exit_code == 2 and "valid: 0 to 8" in message and not bad.exists()


def test_keyframes_are_appended_in_both_stages(components: Any, images: list[Path]) -> None:
    contexts = (components.positive, components.negative)  # in-memory components: no Gemma, no checkpoint file
    given = [ImageConditioningInput(images[0], 0, 1.0), ImageConditioningInput(images[1], 8, 1.0)]
    keyframes = _run(
        KeyframeInterpolationPipeline(components.dev, [components.lora], components.dev, None, device="cpu"),
        contexts,
        given,
    )
    replaced = _run(
        TI2VidTwoStagesPipeline(components.dev, [components.lora], components.dev, None, device="cpu"), contexts, given
    )
    for stage, scale in (("stage1", 2), ("stage2", 1)):
        f, h, w = (FRAMES - 1) // 8 + 1, HEIGHT // 32 // scale, WIDTH // 32 // scale
        grid, per_image = f * h * w, h * w
        mask = keyframes[f"{stage}_video_denoise_mask"][0, :, 0]
        # every image appended (frame 0 included); the grid itself is generated everywhere
        assert mask.shape[0] == grid + 2 * per_image
        assert torch.all(mask[:grid] == 1) and torch.all(mask[grid:] == 0)
        times = keyframes[f"{stage}_video_positions"][0, 0, grid:]  # (tokens, [start, end]) in seconds
        expected = torch.tensor([[0.0, 1 / FPS]] * per_image + [[8 / FPS, 9 / FPS]] * per_image)
        assert torch.allclose(times, expected)
        assert torch.equal(
            keyframes[f"{stage}_video_clean_latent"][0, grid : grid + per_image],
            keyframes[f"{stage}_image_latent_0"].flatten(2)[0].T,
        )
        # the two-stage pipeline instead writes frame 0 into the grid and appends only the other image
        mask = replaced[f"{stage}_video_denoise_mask"][0, :, 0]
        assert mask.shape[0] == grid + per_image
        assert torch.all(mask[:per_image] == 0) and torch.all(mask[per_image:grid] == 1)
        assert keyframes[f"{stage}_video_latent"].shape == replaced[f"{stage}_video_latent"].shape
    with pytest.raises(InputError, match="valid: 0 to 8"):
        pipeline = KeyframeInterpolationPipeline(components.dev, [components.lora], components.dev, None, device="cpu")
        _run(pipeline, contexts, [ImageConditioningInput(images[0], -1, 1.0)])  # type: ignore[arg-type]
