import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ltx_core.components.latent_tools import AudioLatentTools, VideoLatentTools
from ltx_core.components.patchifiers import AudioPatchifier, VideoLatentPatchifier, get_pixel_coords, video_positions
from ltx_core.testing.golden import load_case, report
from ltx_core.types import (
    AudioLatentShape,
    SpatioTemporalScaleFactors,
    VideoLatentShape,
    VideoPixelShape,
    audio_latent_frames,
)


@pytest.fixture(scope="module")
def case(golden):
    return load_case(golden / "cases" / "common" / "patchifiers.safetensors")


def test_video_patchify_and_positions_match_golden(case):
    assert case.params["video"]
    for p in case.params["video"]:
        i = p["index"]
        latent = case.inputs[f"video_latent_{i}"]
        shape = VideoLatentShape.from_torch_shape(latent.shape)
        patchifier = VideoLatentPatchifier(1)
        tokens = patchifier.patchify(latent)
        report(f"video_tokens_{i}", tokens, case.outputs[f"video_tokens_{i}"], 0.0)
        assert torch.equal(patchifier.unpatchify(tokens, shape), latent)
        bounds = patchifier.get_patch_grid_bounds(shape)
        assert bounds.dtype == torch.int64
        assert torch.equal(bounds.float(), case.outputs[f"video_latent_bounds_{i}"])
        pixel = get_pixel_coords(bounds, SpatioTemporalScaleFactors(), causal_fix=True)
        assert torch.equal(pixel.float(), case.outputs[f"video_pixel_bounds_{i}"])
        positions = video_positions(bounds, p["fps"])
        report(f"video_positions_{i}", positions, case.outputs[f"video_positions_{i}"], 0.0)
        assert torch.equal(positions, case.outputs[f"video_positions_{i}"])


def test_audio_patchify_and_positions_match_golden(case):
    assert case.params["audio"]
    for p in case.params["audio"]:
        i = p["index"]
        latent = case.inputs[f"audio_latent_{i}"]
        shape = AudioLatentShape.from_torch_shape(latent.shape)
        patchifier = AudioPatchifier(
            1,
            sample_rate=p["sample_rate"],
            hop_length=p["hop_length"],
            audio_latent_downsample_factor=p["latent_downsample"],
            is_causal=p["causal"],
            shift=p["shift"],
        )
        tokens = patchifier.patchify(latent)
        assert torch.equal(tokens, case.outputs[f"audio_tokens_{i}"])
        assert torch.equal(patchifier.unpatchify(tokens, shape), latent)
        positions = patchifier.get_patch_grid_bounds(shape)
        report(f"audio_positions_{i}", positions, case.outputs[f"audio_positions_{i}"], 0.0)
        assert torch.equal(positions, case.outputs[f"audio_positions_{i}"])


def test_shapes_from_pixel_shapes_match_golden(case):
    for s in case.params["shapes"]:
        frames, height, width, fps = s["pixel"]
        pixel = VideoPixelShape(1, frames, height, width, fps)
        v = VideoLatentShape.from_pixel_shape(pixel, channels=5)
        assert [v.frames, v.height, v.width] == s["video_latent_fhw"]
        assert v.channels == 5
        a = AudioLatentShape.from_video_pixel_shape(
            pixel, channels=s["audio_latent_channels"], mel_bins=s["audio_mel_bins"]
        )
        assert a.frames == s["audio_latent_frames"]
        assert a.token_count() == a.frames


def test_audio_rounding_is_ties_to_even():
    # 0.5 / 25 s → 0.5 latents → 0; 1.5 / 25 → 2 (Python round)
    assert audio_latent_frames(0.5 / 25) == 0
    assert audio_latent_frames(1.5 / 25) == 2
    assert audio_latent_frames(121 / 24) == 126


def test_video_shape_helpers():
    shape = VideoLatentShape(1, 7, 3, 2, 4)
    assert shape.token_count() == 24
    assert shape.mask_shape().channels == 1
    assert shape.upscale() == VideoLatentShape(1, 3, 17, 64, 128)


def test_patchifier_rejects_wrong_shape_type():
    with pytest.raises(ValueError):
        VideoLatentPatchifier(1).get_patch_grid_bounds(AudioLatentShape(1, 2, 3, 4))
    with pytest.raises(ValueError):
        AudioPatchifier(1).get_patch_grid_bounds(VideoLatentShape(1, 2, 3, 4, 5))


@settings(max_examples=30, deadline=None)
@given(
    b=st.integers(1, 2),
    c=st.integers(1, 6),
    f=st.integers(1, 4),
    h=st.integers(1, 4),
    w=st.integers(1, 4),
    p=st.sampled_from([1, 2]),
)
def test_video_patchify_round_trip(b, c, f, h, w, p):
    shape = VideoLatentShape(b, c, f, h * p, w * p)
    latent = torch.randn(shape.to_torch_shape())
    patchifier = VideoLatentPatchifier(p)
    tokens = patchifier.patchify(latent)
    assert tokens.shape == (b, patchifier.get_token_count(shape), c * p * p)
    assert torch.equal(patchifier.unpatchify(tokens, shape), latent)
    bounds = patchifier.get_patch_grid_bounds(shape)
    assert bounds.shape == (b, 3, tokens.shape[1], 2)
    # token index = f·H·W + h·W + w (patch size 1 axis sizes)
    assert bool(((bounds[..., 1] - bounds[..., 0]) == torch.tensor([1, p, p]).view(1, 3, 1)).all())


@settings(max_examples=30, deadline=None)
@given(b=st.integers(1, 2), c=st.integers(1, 4), t=st.integers(1, 12), m=st.integers(1, 8))
def test_audio_patchify_round_trip(b, c, t, m):
    shape = AudioLatentShape(b, c, t, m)
    latent = torch.randn(shape.to_torch_shape())
    patchifier = AudioPatchifier(1)
    tokens = patchifier.patchify(latent)
    assert tokens.shape == (b, t, c * m)
    assert torch.equal(tokens[:, :, :m], latent[:, 0].reshape(b, t, m))  # channel-major features
    assert torch.equal(patchifier.unpatchify(tokens, shape), latent)


@settings(max_examples=30, deadline=None)
@given(frames_k=st.integers(0, 20), fps=st.sampled_from([24.0, 25.0, 30.0, 23.976]))
def test_pixel_latent_frame_round_trip(frames_k, fps):
    pixel = VideoPixelShape(1, 8 * frames_k + 1, 64, 96, fps)
    latent = VideoLatentShape.from_pixel_shape(pixel, channels=3)
    assert latent.upscale().frames == pixel.frames
    assert (latent.upscale().height, latent.upscale().width) == (64, 96)


def test_video_positions_causal_fix_by_hand():
    bounds = VideoLatentPatchifier(1).get_patch_grid_bounds(VideoLatentShape(1, 1, 3, 1, 1))
    pos = video_positions(bounds, 24.0)
    assert pos[0, 0, :, 0].tolist() == pytest.approx([0.0, 1 / 24, 9 / 24])
    assert pos[0, 0, :, 1].tolist() == pytest.approx([1 / 24, 9 / 24, 17 / 24])
    assert pos[0, 1, 0].tolist() == [0.0, 32.0]


def test_latent_tools_initial_state_and_clear():
    vshape = VideoLatentShape(1, 4, 2, 2, 3)
    tools = VideoLatentTools(VideoLatentPatchifier(1), vshape, frame_rate=24.0)
    state = tools.create_initial_state("cpu", torch.bfloat16)
    assert state.latent.shape == (1, 12, 4) and state.latent.dtype == torch.bfloat16
    assert state.denoise_mask.shape == (1, 12, 1) and state.denoise_mask.dtype == torch.float32
    assert state.positions.shape == (1, 3, 12, 2) and state.positions.dtype == torch.float32
    grown = state.with_(
        latent=torch.cat([state.latent, state.latent[:, :2]], 1),
        clean_latent=torch.cat([state.clean_latent, state.clean_latent[:, :2]], 1),
        denoise_mask=torch.cat([state.denoise_mask, torch.zeros(1, 2, 1)], 1),
        positions=torch.cat([state.positions, state.positions[:, :, :2]], 2),
        attention_mask=torch.ones(1, 14, 14),
    )
    cleared = tools.clear_conditioning(grown)
    assert cleared.latent.shape == (1, 12, 4) and cleared.attention_mask is None
    assert torch.equal(cleared.denoise_mask, torch.ones(1, 12, 1))
    assert tools.unpatchify(cleared).latent.shape == vshape.to_torch_shape()
    with pytest.raises(ValueError):
        tools.create_initial_state("cpu", torch.float32, torch.zeros(1, 4, 2, 2, 2))

    ashape = AudioLatentShape(1, 2, 5, 3)
    atools = AudioLatentTools(AudioPatchifier(1), ashape)
    a = atools.create_initial_state("cpu", torch.float32)
    assert a.latent.shape == (1, 5, 6) and a.positions.shape == (1, 1, 5, 2)
