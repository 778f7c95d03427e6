"""ICLoraPipeline end to end on generated tiny checkpoints: the MP4 the CLI writes (with a reference video and an
attention mask), determinism and `skip_stage_2` through the Python API, and one-line errors without output files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import pytest
import torch
from typer.testing import CliRunner

from ltx_core.types import Audio
from ltx_pipelines.cli.commands import build_app
from ltx_pipelines.ic_lora import ICLoraPipeline
from ltx_pipelines.media.mp4 import write_mp4
from ltx_pipelines.media.video import VideoClip
from ltx_pipelines.utils.ic_reference import VideoConditioningInput

SIZE, FRAMES, FPS = 128, 9, 24.0  # the tiny IC-LoRA has downscale factor 2: stage 64 px → 32-px reference


@pytest.fixture(scope="module")
def tiny(tiny_sets: dict[str, Path]) -> dict[str, Path]:
    return tiny_sets


def _clip(frames: int, height: int = 48, width: int = 80, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    small = torch.rand(1, 3, 3, 4, 6, generator=g)
    video = torch.nn.functional.interpolate(small, size=(frames, height, width), mode="trilinear")
    return (video[0].permute(1, 2, 3, 0) * 255).to(torch.uint8)


def _write_clip(path: Path, frames: int, with_audio: bool = True) -> Path:
    audio = None
    if with_audio:
        t = torch.arange(int(16000 * frames / FPS)) / 16000
        audio = Audio(0.5 * torch.stack([torch.sin(2 * torch.pi * 440 * t), torch.sin(2 * torch.pi * 660 * t)]), 16000)
    return write_mp4(path, _clip(frames).float() / 255, FPS, audio)


def _args(folder: Path, out: Path, reference: Path, *extra: str, ckpt: str = "distilled.safetensors") -> list[str]:
    return [
        "--distilled-checkpoint-path",
        str(folder / ckpt),
        "--spatial-upsampler-path",
        str(folder / "spatial_upsampler_x2.safetensors"),
        "--gemma-root",
        str(folder / "gemma"),
        "--prompt",
        "a red fox in the snow",
        "--height",
        str(SIZE),
        "--width",
        str(SIZE),
        "--num-frames",
        str(FRAMES),
        "--frame-rate",
        str(FPS),
        "--video-conditioning",
        str(reference),
        "1.0",
        "--output-path",
        str(out),
        "--quiet",
        *extra,
    ]


def _invoke(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(build_app("ic_lora"), args)
    return result.exit_code, result.output


def test_cli_writes_mp4_with_reference_and_mask(tiny: dict[str, Path], tmp_path: Path) -> None:
    folder = tiny["ltx23"]
    reference = _write_clip(tmp_path / "control.mp4", 11)
    out = tmp_path / "out.mp4"
    lora = ["--lora", str(folder / "ic_lora.safetensors")]
    code, text = _invoke(_args(folder, out, reference, *lora, "--conditioning-attention-mask", str(reference), "0.5"))
    assert code == 0, text
    with av.open(str(out)) as container:
        video = container.streams.video[0]
        assert (video.width, video.height, video.average_rate) == (SIZE, SIZE, int(FPS))
        assert sum(1 for _ in container.decode(video=0)) == FRAMES
    with av.open(str(out)) as container:
        assert container.streams.audio[0].channels == 2 and container.streams.audio[0].rate == 48000
        assert sum(f.samples for f in container.decode(audio=0)) > 0


def test_skip_stage_2_decodes_stage_1_at_half_size(components: Any) -> None:
    """From in-memory components (the shared tester's; determinism and shapes are checked there)."""
    pipeline = ICLoraPipeline(components.distilled, components.distilled, None, [components.ic_lora], device="cpu")
    reference = [VideoConditioningInput(VideoClip(_clip(1, SIZE, SIZE), FPS), 0.8)]  # one frame keeps this test quick
    runs = []
    for skip in (False, True):
        result = pipeline(components.positive, 4, SIZE, SIZE, 1, FPS, video_conditioning=reference, skip_stage_2=skip)
        runs.append((torch.cat(list(result.video)), result.audio.waveform, result.video_latent))
    (v1, _, l1), (v2, a2, l2) = runs
    assert v1.shape == (1, SIZE, SIZE, 3) and v2.shape == (1, SIZE // 2, SIZE // 2, 3)  # stage 1 decoded: half
    assert l2.shape[-2:] == (l1.shape[-2] // 2, l1.shape[-1] // 2) and bool(torch.isfinite(a2).all())


@pytest.mark.parametrize(
    ("extra", "ckpt", "code", "message"),
    [
        ((), "dev.safetensors", 2, "dev.safetensors is a non-distilled (dev) checkpoint"),
        (("--lora", "IC"), "distilled.safetensors", 2, "needs an IC-LoRA"),
        (("--height", "192"), "distilled.safetensors", 1, "height 192 gives a 48-px reference video"),
        (("--num-frames", "17"), "distilled.safetensors", 1, "has 11 frames"),
        (("--conditioning-attention-mask", "REF", "1.5"), "distilled.safetensors", 2, "strength 1.5 is outside"),
        (
            ("--conditioning-attention-mask", "BAD", "0.5"),
            "distilled.safetensors",
            2,
            "--conditioning-attention-mask: cannot read video file",
        ),
    ],
)
def test_bad_inputs_one_line_no_file(
    tiny: dict[str, Path], tmp_path: Path, extra: tuple[str, ...], ckpt: str, code: int, message: str
) -> None:
    folder = tiny["ltx23"]
    reference = _write_clip(tmp_path / "control.mp4", 11)
    out = tmp_path / "out.mp4"
    lora = [] if "--lora" in extra else ["--lora", str(folder / "ic_lora.safetensors")]
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(reference.read_bytes()[:200])  # a truncated download
    extra = tuple({"REF": str(reference), "BAD": str(bad)}.get(e, e) for e in extra if e not in ("--lora", "IC"))
    got, text = _invoke(_args(folder, out, reference, *lora, *extra, ckpt=ckpt))
    assert got == code, text
    assert message in text and len(text.strip().splitlines()) == 1, text
    assert not out.exists()
