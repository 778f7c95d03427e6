import pytest
import torch

from ltx_core.components.latent_tools import AudioLatentTools, VideoLatentTools
from ltx_core.components.noisers import GaussianNoiser, create_noised_state
from ltx_core.components.patchifiers import AudioPatchifier, VideoLatentPatchifier
from ltx_core.conditioning import (
    AudioConditionByReferenceLatent,
    ConditioningError,
    ConditioningItemAttentionStrengthWrapper,
    TemporalRegionMask,
    VideoConditionByKeyframeIndex,
    VideoConditionByLatentIndex,
    VideoConditionByReferenceLatent,
    patchify_lipdub_audio_reference_latent,
)
from ltx_core.conditioning.mask_utils import build_attention_mask, resolve_cross_mask
from ltx_core.errors import InputError
from ltx_core.types import AudioLatentShape, VideoLatentShape

C = 3


def _video_tools(f=3, h=2, w=2, fps=24.0):
    return VideoLatentTools(VideoLatentPatchifier(1), VideoLatentShape(1, C, f, h, w), fps)


def _state(tools, dtype=torch.float32):
    return tools.create_initial_state("cpu", dtype)


def test_latent_index_replaces_one_frame():
    tools = _video_tools()
    img = torch.randn(1, C, 1, 2, 2)
    out = VideoConditionByLatentIndex(img, strength=0.9, latent_idx=1).apply_to(_state(tools), tools)
    assert out.latent.shape == (1, 12, C)
    assert torch.equal(out.latent[:, 4:8], img.flatten(2).transpose(1, 2))
    assert torch.equal(out.clean_latent[:, 4:8], out.latent[:, 4:8])
    assert out.denoise_mask[0, :, 0].tolist() == [1.0] * 4 + [torch.tensor(1.0 - 0.9).item()] * 4 + [1.0] * 4
    with pytest.raises(ConditioningError, match="does not match"):
        VideoConditionByLatentIndex(torch.randn(1, C, 1, 3, 2), 1.0, 0).apply_to(_state(tools), tools)
    with pytest.raises(InputError):
        VideoConditionByLatentIndex(img, 1.0, 3).apply_to(_state(tools), tools)


def test_keyframe_appends_tokens_with_time_position():
    tools = _video_tools(fps=24.0)
    key = torch.randn(1, C, 1, 2, 2, dtype=torch.bfloat16)
    out = VideoConditionByKeyframeIndex(key, frame_idx=8, strength=0.9).apply_to(_state(tools, torch.bfloat16), tools)
    assert out.latent.shape == (1, 16, C)
    new_pos = out.positions[0, :, 12:]
    assert new_pos[0, :, 0].tolist() == pytest.approx([8 / 24] * 4)
    assert new_pos[0, :, 1].tolist() == pytest.approx([9 / 24] * 4)
    assert new_pos[1, :, 0].tolist() == [0.0, 0.0, 32.0, 32.0]
    # mask value 1 − strength rounded in the keyframe dtype, then promoted to f32
    assert out.denoise_mask.dtype == torch.float32
    assert out.denoise_mask[0, 12:, 0].tolist() == [0.10009765625] * 4
    assert out.attention_mask is None
    frame0 = VideoConditionByKeyframeIndex(key, frame_idx=0, strength=1.0).apply_to(_state(tools), tools)
    assert frame0.positions[0, 0, 12:].flatten().tolist() == pytest.approx([0.0, 1 / 24] * 4)


def test_reference_latent_scales_spatial_positions():
    tools = _video_tools(f=2, h=2, w=2)
    ref = torch.randn(1, C, 2, 1, 1)
    out = VideoConditionByReferenceLatent(ref, downscale_factor=2).apply_to(_state(tools), tools)
    pos = out.positions[0, :, 8:]
    assert pos[1].tolist() == [[0.0, 64.0], [0.0, 64.0]]
    assert pos[0].flatten().tolist() == pytest.approx([0.0, 1 / 24, 1 / 24, 9 / 24])
    assert out.denoise_mask[0, 8:, 0].tolist() == [0.0, 0.0]


def test_attention_mask_layout_by_hand():
    existing = torch.full((1, 3, 3), 0.5)
    cross = torch.tensor([[0.25, 0.75]])
    m = build_attention_mask(
        existing, num_noisy_tokens=2, num_new_tokens=2, num_tokens=3, cross=cross, dtype=torch.float32
    )
    expected = torch.tensor(
        [
            [0.5, 0.5, 0.5, 0.25, 0.75],
            [0.5, 0.5, 0.5, 0.25, 0.75],
            [0.5, 0.5, 0.5, 0.0, 0.0],
            [0.25, 0.25, 0.0, 1.0, 1.0],
            [0.75, 0.75, 0.0, 1.0, 1.0],
        ]
    )
    assert torch.equal(m[0], expected)


def test_resolve_cross_mask_forms():
    f = torch.float32
    assert resolve_cross_mask(0.5, 3, 2, "cpu", f).tolist() == [[0.5] * 3] * 2
    assert resolve_cross_mask(torch.tensor(0.5), 3, 2, "cpu", f).shape == (2, 3)
    assert resolve_cross_mask(torch.tensor([0.1, 0.2, 0.3]), 3, 2, "cpu", f).shape == (2, 3)
    assert resolve_cross_mask(torch.ones(1, 3), 3, 2, "cpu", f).shape == (2, 3)
    with pytest.raises(ValueError):
        resolve_cross_mask(torch.ones(4), 3, 2, "cpu", f)
    with pytest.raises(ValueError):
        resolve_cross_mask(torch.ones(1, 1, 3), 3, 2, "cpu", f)


def test_attention_wrapper_builds_mask_and_later_items_extend_it():
    tools = _video_tools(f=1, h=2, w=2)
    ref = VideoConditionByReferenceLatent(torch.randn(1, C, 1, 1, 2))
    wrapped = ConditioningItemAttentionStrengthWrapper(ref, 0.5)
    out = wrapped.apply_to(_state(tools), tools)
    assert out.attention_mask.shape == (1, 6, 6)
    assert out.attention_mask[0, 0, 4:].tolist() == [0.5, 0.5]
    assert out.attention_mask[0, 4:, 4:].tolist() == [[1.0, 1.0], [1.0, 1.0]]
    # a later keyframe (no mask of its own) gets full attention to the generated tokens, none to the reference
    later = VideoConditionByKeyframeIndex(torch.randn(1, C, 1, 2, 2), 8, 1.0).apply_to(out, tools)
    assert later.attention_mask.shape == (1, 10, 10)
    assert later.attention_mask[0, 0, 6:].tolist() == [1.0] * 4
    assert later.attention_mask[0, 4, 6:].tolist() == [0.0] * 4


def test_temporal_region_mask_video_and_audio():
    tools = _video_tools(f=3, h=1, w=1, fps=24.0)  # frames [0,1/24), [1/24,9/24), [9/24,17/24)
    out = TemporalRegionMask(0.1, 0.3, 24.0).apply_to(_state(tools), tools)
    assert out.denoise_mask[0, :, 0].tolist() == [0.0, 1.0, 0.0]
    atools = AudioLatentTools(AudioPatchifier(1), AudioLatentShape(1, 2, 9, 4))  # 0.04 s per latent
    a = TemporalRegionMask(0.1, 0.2, 24.0).apply_to(atools.create_initial_state("cpu", torch.float32), atools)
    # token i spans [max(4i−3,0), 4i+1)·0.01 s
    assert a.denoise_mask[0, :, 0].tolist() == [0, 0, 0, 1, 1, 1, 0, 0, 0]


def test_lipdub_reference_positions_end_before_zero():
    latent = torch.randn(1, 2, 5, 4)
    item = patchify_lipdub_audio_reference_latent(latent)
    assert item.positions[0, 0, -1, 1].item() == pytest.approx(-0.04)
    assert item.positions[0, 0, 0, 0].item() == pytest.approx(-(0.17 + 0.04))
    atools = AudioLatentTools(AudioPatchifier(1), AudioLatentShape(1, 2, 3, 4))
    out = item.apply_to(atools.create_initial_state("cpu", torch.float32), atools)
    assert out.latent.shape == (1, 8, 8)
    assert out.denoise_mask[0, :, 0].tolist() == [1, 1, 1, 0, 0, 0, 0, 0]
    assert isinstance(item, AudioConditionByReferenceLatent)


def test_noised_state_mixes_by_mask_and_freezes():
    tools = _video_tools(f=2, h=1, w=1)
    img = torch.randn(1, C, 1, 1, 1, dtype=torch.bfloat16)
    gen = torch.Generator().manual_seed(3)
    state = create_noised_state(
        tools, GaussianNoiser(gen), conditionings=[VideoConditionByLatentIndex(img, 1.0, 0)], noise_scale=1.0
    )
    noise = torch.randn(1, 2, C, dtype=torch.bfloat16, generator=torch.Generator().manual_seed(3))
    assert torch.equal(state.latent[:, 0], img.flatten(2).transpose(1, 2)[:, 0])  # mask 0: clean kept
    assert torch.equal(state.latent[:, 1], noise[:, 1])  # mask 1: pure noise
    frozen = create_noised_state(tools, GaussianNoiser(torch.Generator().manual_seed(3)), noise_scale=0.0, frozen=True)
    assert torch.equal(frozen.latent, torch.zeros_like(frozen.latent))
    assert torch.equal(frozen.denoise_mask, torch.zeros_like(frozen.denoise_mask))


def test_noised_state_conditioning_latent_by_numerics():
    """Delta A.4/A.5 by hand: at 0 < m < 1 and s < 1, 1.2.0 mixes the noise with the untouched latent (zeros here,
    also for the appended keyframe) and takes the rest from the clean tokens; 1.1.3 mixes with the tokens."""
    from ltx_core.numerics import NUMERICS_1_1_3

    tools = _video_tools(f=2, h=1, w=1)
    img = torch.randn(1, C, 1, 1, 1)
    items = [VideoConditionByLatentIndex(img, 0.5, 0), VideoConditionByKeyframeIndex(img, 8, 0.5)]
    s = 0.909375
    noise = torch.randn(1, 3, C, generator=torch.Generator().manual_seed(5))
    tokens = img.flatten(2).transpose(1, 2)[:, 0]
    new = create_noised_state(
        tools, GaussianNoiser(torch.Generator().manual_seed(5)), conditionings=items, noise_scale=s, dtype=torch.float32
    )
    for i in (0, 2):  # conditioned (m = 0.5): lerp(tokens, lerp(0, n, s), 0.5)
        assert torch.equal(new.latent[:, i], torch.lerp(tokens, torch.lerp(torch.zeros(1, C), noise[:, i], s), 0.5))
    assert torch.equal(new.latent[:, 1], torch.lerp(torch.zeros(1, C), noise[:, 1], s))  # m = 1, initial zeros
    old = create_noised_state(
        tools,
        GaussianNoiser(torch.Generator().manual_seed(5), NUMERICS_1_1_3),
        conditionings=items,
        noise_scale=s,
        dtype=torch.float32,
    )
    for i in (0, 2):  # 1.1.3: n·(m·s) + tokens·(1 − m·s)
        assert torch.equal(old.latent[:, i], noise[:, i] * (0.5 * s) + tokens * (1 - 0.5 * s))
    assert torch.equal(old.clean_latent, new.clean_latent) and torch.equal(old.denoise_mask, new.denoise_mask)


def test_keyframes_mask_marks_latent_frame_0_and_follows_the_state():
    """Delta B.4: every video state marks its first target latent frame (H·W tokens) 1, the later frames 0;
    appended conditioning tokens are 0, a latent-index item keeps the marks, the transformer input carries the
    mask, and dropping the conditioning drops it. Audio states have none."""
    from ltx_core.components.modality_input import modality_from_latent_state

    tools = _video_tools(f=3, h=2, w=2)
    state = _state(tools)
    assert state.keyframes_mask.tolist() == [[[1.0]] * 4 + [[0.0]] * 8]
    key = torch.randn(1, C, 1, 2, 2)
    out = VideoConditionByKeyframeIndex(key, frame_idx=8, strength=1.0).apply_to(state, tools)
    out = VideoConditionByLatentIndex(torch.randn(1, C, 1, 2, 2), 1.0, 0).apply_to(out, tools)
    assert out.keyframes_mask[0, :, 0].tolist() == [1.0] * 4 + [0.0] * 8 + [0.0] * 4
    modality = modality_from_latent_state(out, torch.zeros(1, 2, 4), torch.tensor(0.5))
    assert modality.keyframes_mask is out.keyframes_mask
    assert tools.clear_conditioning(out).keyframes_mask is None
    audio = AudioLatentTools(AudioPatchifier(1), AudioLatentShape(1, 2, 4, 2))
    assert _state(audio).keyframes_mask is None
