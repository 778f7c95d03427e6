"""`color_space=` on the pipelines that take it, from in-memory components (the shared tester's cases; the golden
parity of the distilled one is test_ltx25_distilled_hdr): an EXR still conditions through the HDR input path (its
recorded VAE pixels are the ACEScct codes of its AP1 light, computed here by hand), the video decodes in float32,
and EXR refused without a colour space or mixed with SDR images."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from ltx_core.components.guiders import MultiModalGuiderParams
from ltx_core.errors import InputError
from ltx_core.hdr import primaries as P
from ltx_core.hdr.spaces import HDRColorSpace
from ltx_core.hdr.transfer import ACESCCT
from ltx_pipelines.utils.helpers import ImageConditioningInput

pytest.importorskip("OpenEXR", reason="the HDR extra (ltx-pipelines[hdr]) is not installed")

HEIGHT = WIDTH = 64
FRAMES, FPS = 9, 24.0
GUIDED = MultiModalGuiderParams(cfg_scale=3.0, stg_scale=1.0, stg_blocks=(1,))
STAGE_1, STAGE_2 = (1.0, 0.5, 0.0), (0.909375, 0.0)


def _run(name: str, c: Any, **kw: Any) -> Any:
    """`name` built from the shared in-memory components and called at 64 x 64 x 9 with short schedules."""
    from ltx_pipelines.a2vid_two_stage import A2VidPipelineTwoStage
    from ltx_pipelines.distilled import DistilledPipeline
    from ltx_pipelines.ti2vid_one_stage import TI2VidOneStagePipeline

    geometry = {"seed": 5, "height": HEIGHT, "width": WIDTH, "num_frames": FRAMES, "frame_rate": FPS}
    guided = {"num_inference_steps": 2, "video_guider_params": GUIDED, "audio_guider_params": GUIDED}
    if name == "distilled":
        pipeline = DistilledPipeline(c.distilled, None, c.distilled, device="cpu")
        return pipeline(c.positive, **geometry, stage_1_sigmas=STAGE_1, stage_2_sigmas=STAGE_2, **kw)
    if name == "ti2vid_one_stage":
        pipeline = TI2VidOneStagePipeline(c.dev, None, device="cpu")
        return pipeline(c.positive, c.negative, **geometry, **guided, sigmas=STAGE_1, **kw)
    from ltx_core.types import Audio

    pipeline = A2VidPipelineTwoStage(c.dev, [c.lora], c.dev, None, device="cpu")
    t = torch.arange(16000) / 16000
    audio = Audio(torch.stack([torch.sin(2 * torch.pi * 220 * t)] * 2) * 0.5, 16000)  # a tone, longer than the clip
    del guided["audio_guider_params"]
    return pipeline(
        c.positive,
        **geometry,
        audio=audio,
        negative_prompt=c.negative,
        **guided,
        stage_1_sigmas=STAGE_1,
        stage_2_sigmas=STAGE_2,
        **kw,
    )


@pytest.fixture(scope="module")
def still(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.Tensor]:
    """A scene-linear Rec.709 EXR still at the run's size (no resize), with highlights above 1.0."""
    from ltx_pipelines.media.exr import write_exr

    pixels = torch.rand(HEIGHT, WIDTH, 3, generator=torch.Generator().manual_seed(3)).pow(3).mul(16).half().float()
    return write_exr(tmp_path_factory.mktemp("hdr_still") / "still.exr", pixels, HDRColorSpace.SRGB_LINEAR), pixels


# the distilled pipeline's HDR run is the golden one (test_ltx25_distilled_hdr), whose steps (images at stage 2, the
# decode) the guided two-stage, HQ and keyframe pipelines share; one-stage conditions at stage 1, A2Vid decodes alone
@pytest.mark.parametrize("name", ["ti2vid_one_stage", "a2vid_two_stage"])
def test_an_exr_still_conditions_and_the_video_decodes_in_float32(
    name: str, components: Any, still: tuple[Path, torch.Tensor]
) -> None:
    path, pixels = still
    recorded: dict[str, torch.Tensor] = {}
    image = ImageConditioningInput(path, 0, 1.0)
    space = HDRColorSpace.SRGB_LINEAR
    result = _run(name, components, images=[image], color_space=space, record=recorded.__setitem__)
    frames = torch.cat(list(result.video))
    assert result.color_space is HDRColorSpace.SRGB_LINEAR
    assert frames.dtype == torch.float32 and frames.shape == (FRAMES, HEIGHT, WIDTH, 3)
    assert frames.min().item() >= 0 and frames.max().item() <= 1
    # by hand: Rec.709 → AP1 (x = M·rgb), clamp ≥ 0, ACEScct, 2c - 1, bf16
    ap1 = torch.einsum("hwc,dc->dhw", pixels, P.rec709_to_acescg()).clamp(min=0)
    expected = (ACESCCT.compress(ap1) * 2 - 1).to(torch.bfloat16)
    got = recorded["stage1_image_pixels" if name == "ti2vid_one_stage" else "stage2_image_pixels"][0, :, 0]
    assert got.dtype == torch.bfloat16
    assert (got.float() - expected.float()).abs().max().item() <= 2**-7  # one bf16 step: the einsum's rounding


def test_exr_needs_a_colour_space_and_no_sdr_beside_it(components: Any, still: tuple[Path, torch.Tensor]) -> None:
    from PIL import Image

    path, _ = still
    png = path.with_name("still.png")
    Image.new("RGB", (8, 8)).save(png)
    with pytest.raises(InputError, match="needs --hdr"):
        _run("distilled", components, images=[ImageConditioningInput(path, 0, 1.0)])
    mixed = [ImageConditioningInput(path, 0, 1.0), ImageConditioningInput(png, 8, 1.0)]
    with pytest.raises(InputError, match="mix EXR"):
        _run("distilled", components, images=mixed, color_space=HDRColorSpace.ACESCG)


def test_ic_lora_takes_a_folder_of_exr_frames(components: Any, tmp_path: Path) -> None:
    """The reference folder's frames are read, shrunk to fit the reference size and reflect-padded (the golden-tested
    `load_exr_frames`), into the working space; the video decodes in float32."""
    from ltx_pipelines.ic_lora import ICLoraPipeline
    from ltx_pipelines.media.exr import ResizeMode, load_exr_frames, write_exr

    folder = tmp_path / "plates"
    folder.mkdir()
    light = torch.rand(FRAMES, 24, 40, 3, generator=torch.Generator().manual_seed(4)).mul(4)
    for k, frame in enumerate(light):
        write_exr(folder / f"plate.{k:04d}.exr", frame, HDRColorSpace.ACESCG)
    pipeline = ICLoraPipeline(components.distilled, components.distilled, None, [components.ic_lora], device="cpu")
    recorded: dict[str, torch.Tensor] = {}
    result = pipeline(
        components.positive,
        seed=5,
        height=HEIGHT,
        width=WIDTH,
        num_frames=FRAMES,
        frame_rate=FPS,
        video_conditioning=[(folder, 0.8)],
        color_space=HDRColorSpace.ACESCG,
        stage_1_sigmas=STAGE_1,
        stage_2_sigmas=STAGE_2,
        record=recorded.__setitem__,
    )
    frames = torch.cat(list(result.video))
    assert frames.dtype == torch.float32 and frames.shape == (FRAMES, HEIGHT, WIDTH, 3)
    size = tuple(recorded["reference_pixels"].shape[-2:])
    expected = load_exr_frames(
        folder, *size, torch.bfloat16, "cpu", HDRColorSpace.ACESCG, frame_cap=FRAMES, resize_mode=ResizeMode.REFLECT_PAD
    )
    assert torch.equal(recorded["reference_pixels"], expected)


@pytest.fixture(scope="module")
def plates(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.Tensor]:
    """A folder of scene-linear Rec.709 EXR frames at the run's size (highlights above 1.0), named out of write order
    so that only the sort by name puts them in place."""
    from ltx_pipelines.media.exr import write_exr

    folder = tmp_path_factory.mktemp("hdr_plates")
    light = torch.rand(FRAMES, HEIGHT, WIDTH, 3, generator=torch.Generator().manual_seed(6)).pow(3).mul(16)
    light = light.half().float()  # what the half-float files hold
    for k in reversed(range(FRAMES)):
        write_exr(folder / f"plate.{k:04d}.exr", light[k], HDRColorSpace.SRGB_LINEAR)
    return folder, light


def test_retake_takes_a_folder_of_exr_frames(components: Any, plates: tuple[Path, torch.Tensor]) -> None:
    """Every frame of the folder, by name, reaches the VAE as the ACEScct codes of its AP1 light (computed here by
    hand); no audio track (the soundtrack is generated); the video decodes in float32 at the folder's size."""
    from ltx_pipelines.retake import RetakePipeline

    folder, light = plates
    pipeline = RetakePipeline(components.distilled, None, device="cpu")
    recorded: dict[str, torch.Tensor] = {}
    space = HDRColorSpace.SRGB_LINEAR
    result = pipeline(
        folder,
        components.positive,
        0.1,
        0.3,
        5,
        frame_rate=FPS,
        color_space=space,
        sigmas=torch.tensor(STAGE_1),
        record=recorded.__setitem__,
    )
    frames = torch.cat(list(result.video))
    assert result.color_space is space and result.frame_rate == FPS
    assert frames.dtype == torch.float32 and frames.shape == (FRAMES, HEIGHT, WIDTH, 3)
    assert frames.min().item() >= 0 and frames.max().item() <= 1
    assert result.audio is not None and any("no audio track" in note for note in result.notes)
    # by hand: Rec.709 → AP1 (x = M·rgb), clamp ≥ 0, ACEScct, 2c - 1, bf16
    ap1 = torch.einsum("fhwc,dc->dfhw", light, P.rec709_to_acescg()).clamp(min=0)
    expected = (ACESCCT.compress(ap1) * 2 - 1).to(torch.bfloat16)
    got = recorded["source_pixels"][0]
    assert got.dtype == torch.bfloat16 and got.shape == expected.shape
    assert (got.float() - expected.float()).abs().max().item() <= 2**-7  # one bf16 step: the einsum's rounding
    assert recorded["source_video_latent"].shape[2] == (FRAMES - 1) // 8 + 1


def test_retake_exr_folder_needs_hdr_and_a_frame_rate(components: Any, plates: tuple[Path, torch.Tensor]) -> None:
    from ltx_pipelines.media.video import VideoClip
    from ltx_pipelines.retake import RetakePipeline

    folder, _ = plates
    pipeline = RetakePipeline(components.distilled, None, device="cpu")
    with pytest.raises(InputError, match="needs --hdr"):
        pipeline(folder, components.positive, 0.1, 0.3, 5, frame_rate=FPS)
    with pytest.raises(InputError, match="has no frame rate of its own"):
        pipeline(folder, components.positive, 0.1, 0.3, 5, color_space=HDRColorSpace.SRGB_LINEAR)
    clip = VideoClip(torch.zeros(FRAMES, HEIGHT, WIDTH, 3, dtype=torch.uint8), FPS)
    with pytest.raises(InputError, match="only for a folder of EXR frames"):
        pipeline(clip, components.positive, 0.1, 0.3, 5, frame_rate=FPS)
