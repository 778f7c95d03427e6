"""IC reference helpers: mask downsampling (golden and by hand), LoRA metadata, size/length checks, the distilled
check, and where the appended reference tokens go (after the target, positions scaled onto the target frame)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from ltx_core.components.latent_tools import VideoLatentTools
from ltx_core.components.patchifiers import VideoLatentPatchifier
from ltx_core.errors import CheckpointError, InputError, LoraError
from ltx_core.loader import LoraSpec
from ltx_core.testing.golden import e2e_cases, golden_dir, load_case
from ltx_core.types import VideoLatentShape
from ltx_pipelines.utils.ic_reference import (
    check_distilled_checkpoint,
    downsample_mask_video_to_latent,
    lora_downscale_factor,
    read_reference_video,
    reference_conditioning,
    reference_downscale_factor,
    reference_frame_count,
    reference_size,
)
from ltx_pipelines.utils.recording import recording


def _e2e(pattern: str) -> list[Path]:
    e2e = golden_dir() / "e2e"
    return sorted(p for p in e2e.glob(pattern) if "tiny" not in p.name) if e2e.exists() else []


@pytest.mark.parametrize("path", e2e_cases("*_ic_lora_mask*"), ids=lambda p: p.stem)
def test_mask_downsampling_matches_golden(path: Path) -> None:
    case = load_case(path)
    mask = case.inputs["conditioning_attention_mask"]
    latent = case.outputs["reference_latent"]
    _, _, f, h, w = latent.shape
    got = downsample_mask_video_to_latent(mask, f, h, w)
    assert torch.equal(got, case.outputs["reference_latent_mask"])
    recorded: dict[str, torch.Tensor] = {}
    strength = case.params["conditioning_attention_strength"]
    with recording(recorded.__setitem__):
        item = reference_conditioning(latent, 2, 1.0, strength, mask)
    assert torch.equal(recorded["reference_attention_weights"], case.outputs["reference_attention_weights"])
    assert torch.equal(item.attention_mask, case.outputs["reference_attention_weights"])  # type: ignore[attr-defined]


def test_mask_downsampling_by_hand() -> None:
    """Frame 0 alone (area-averaged), then each latent frame = mean of its run of (F−1)/(F_lat−1) pixel frames."""
    mask = torch.zeros(1, 1, 9, 4, 4)
    mask[0, 0, 0, :2, :2] = 1.0  # frame 0: top-left quadrant
    mask[0, 0, 0, 2:, 2:] = 0.5  # and a half-weight bottom-right quadrant
    for k in range(1, 9):
        mask[0, 0, k] = k / 8
    mask[0, 0, 1, 0, 0] = 1.0 + 1 / 8  # one pixel of frame 1: +1 there lifts latent (1, 0, 0) by (1/4) / 8
    got = downsample_mask_video_to_latent(mask, 2, 2, 2)
    mean_rest = sum(k / 8 for k in range(1, 9)) / 8
    expected = torch.tensor([[1.0, 0.0, 0.0, 0.5, mean_rest + 1 / 32, mean_rest, mean_rest, mean_rest]])
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-7)


def test_mask_single_frame_and_bad_frame_counts() -> None:
    one = torch.full((1, 1, 1, 8, 8), 0.25)
    assert torch.equal(downsample_mask_video_to_latent(one, 1, 2, 2), torch.full((1, 4), 0.25))
    with pytest.raises(InputError, match=r"mask has 6 frames .* 3 latent frames; the mask needs 1 \+ k·2 \(e.g. 17\)"):
        downsample_mask_video_to_latent(torch.zeros(1, 1, 6, 4, 4), 3, 1, 1)
    with pytest.raises(InputError, match=r"mask has 9 frames .* 1 latent frames; the mask needs 1$"):
        downsample_mask_video_to_latent(torch.zeros(1, 1, 9, 4, 4), 1, 1, 1)
    with pytest.raises(InputError, match="expected \\(batch, 1, frames, H, W\\)"):
        downsample_mask_video_to_latent(torch.zeros(1, 3, 1, 4, 4), 1, 1, 1)


def test_attention_weights_scalar_or_none() -> None:
    latent = torch.zeros(1, 8, 1, 1, 1)
    assert reference_conditioning(latent, 1, 1.0, 1.0).__class__.__name__ == "VideoConditionByReferenceLatent"
    wrapped = reference_conditioning(latent, 1, 1.0, 0.5)
    assert wrapped.attention_mask == 0.5  # type: ignore[attr-defined]


def test_lora_downscale_factor_from_metadata(tmp_path: Path) -> None:
    ic = _e2e("*_ic_lora_e2e_tiny.safetensors")
    lipdub = _e2e("*_lipdub_ic_lora_e2e_tiny.safetensors")
    for path in ic:
        assert lora_downscale_factor(path) == 2  # metadata "2" (README 7.8)
    for path in lipdub:
        assert lora_downscale_factor(path) == 1  # no entry → 1
    pair = {"diffusion_model.a.lora_A.weight": torch.zeros(1, 2), "diffusion_model.a.lora_B.weight": torch.zeros(2, 1)}
    files = {}
    for name, value in (("two", "2"), ("three", "3"), ("one", "1"), ("bad", "half")):
        files[name] = tmp_path / f"{name}.safetensors"
        save_file(pair, str(files[name]), metadata={"reference_downscale_factor": value})
    with pytest.raises(LoraError, match=r"bad.safetensors: metadata reference_downscale_factor='half'"):
        lora_downscale_factor(files["bad"])
    assert reference_downscale_factor([LoraSpec(files["one"]), LoraSpec(files["two"])]) == 2
    assert reference_downscale_factor([LoraSpec(files["one"])]) == 1
    assert reference_downscale_factor([]) == 1
    with pytest.raises(LoraError, match=r"different reference_downscale_factor values \(two.safetensors: 2, three"):
        reference_downscale_factor([LoraSpec(files["two"]), LoraSpec(files["three"])])


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("ltx-2-19b-distilled.safetensors", True),
        ("ltx-2.3-22b-distilled-fp8.safetensors", True),
        ("ltx2_e2e_tiny.safetensors", True),
        ("distilled.safetensors", True),
        ("my-devices-model.safetensors", True),  # "devices" is not the word "dev"
        ("ltx-2-19b-dev.safetensors", False),
        ("ltx-2.3-22b-dev-fp8.safetensors", False),
        ("dev.safetensors", False),
    ],
)
def test_distilled_checkpoint_rule(name: str, ok: bool) -> None:
    if ok:
        check_distilled_checkpoint(Path(name), "IC-LoRA")
    else:
        with pytest.raises(CheckpointError, match="non-distilled \\(dev\\) checkpoint; the IC-LoRA pipeline"):
            check_distilled_checkpoint(Path(name), "IC-LoRA")


def test_reference_size_and_length_errors() -> None:
    assert reference_size(64, 128, 2) == (32, 64)
    with pytest.raises(InputError, match=r"height 192 gives a 48-px reference .* multiple of 128, e.g. 128 or 256"):
        reference_size(96, 128, 2, output_scale=2)
    assert reference_frame_count(11, 9) == 9
    assert reference_frame_count(9, 17) == 9  # a shorter clip conditions the first frames only
    with pytest.raises(
        InputError, match=r"ref.mp4 has 5 frames; .* = 5 are used .* at least 9 frames, or trim it to 1"
    ):
        reference_frame_count(5, 9, "ref.mp4")


def test_read_reference_video_from_frames() -> None:
    frames = torch.zeros(11, 8, 8, 3, dtype=torch.uint8)
    clip = read_reference_video(frames, frame_cap=9)
    assert clip.frames.shape[0] == 9 and clip.fps == 0.0
    with pytest.raises(InputError, match="give uint8 RGB frames"):
        read_reference_video(torch.zeros(2, 8, 8, 3))


def test_reference_tokens_appended_with_scaled_positions() -> None:
    """Target tokens keep their slots; the half-size reference covers the whole target frame (positions × factor)."""
    fps, factor = 24.0, 2
    target = VideoLatentShape(1, 8, 2, 2, 4)  # stage latent: 2 frames, 64 x 128 px
    tools = VideoLatentTools(VideoLatentPatchifier(1), target, fps)
    state = tools.create_initial_state("cpu", torch.bfloat16)
    reference = torch.randn(1, 8, 2, 1, 2, generator=torch.Generator().manual_seed(0)).to(torch.bfloat16)
    new = reference_conditioning(reference, factor, 1.0).apply_to(state, tools)
    n = target.token_count()
    assert new.latent.shape[1] == n + 4
    assert torch.equal(new.positions[:, :, :n], state.positions)
    assert torch.equal(new.clean_latent[:, n:], reference.flatten(2).transpose(1, 2))
    ref_pos = new.positions[0, :, n:]  # (3 axes, 4 tokens, [start, end))
    # time: the reference's own latent frames, causal first frame, as the target's frames
    assert torch.equal(ref_pos[0, :, 0].unique(), state.positions[0, 0, :, 0].unique())
    # height: one reference row of 32 px spans the target's 64 px; width: two columns of 64 px each
    assert ref_pos[1].unique(dim=0).tolist() == [[0.0, 64.0]]
    assert sorted({tuple(x) for x in ref_pos[2].tolist()}) == [(0.0, 64.0), (64.0, 128.0)]
    assert torch.equal(new.denoise_mask[0, n:, 0], torch.zeros(4))
