"""Audio latent timing: frame counts, token positions, decoded lengths, fitting encoded audio to a clip."""

import pytest
import torch

from ltx_core.errors import InputError
from ltx_core.loader import open_checkpoint
from ltx_core.model.audio_vae.loading import audio_vae_config
from ltx_core.model.audio_vae.timing import (
    AudioTiming,
    audio_latent_frames,
    audio_latent_frames_for_video,
    audio_positions,
    decoded_audio_samples,
    fit_audio_latent,
    shift_before_zero,
)
from ltx_core.testing.golden import load_case


def test_latents_per_second_and_video_rule():
    assert AudioTiming().latents_per_second == 25.0
    # README 5.9 / spec 7.3: 121 frames @ 24 fps → 5.0417 s → 126.04 → 126.
    assert audio_latent_frames_for_video(121, 24) == 126
    assert audio_latent_frames_for_video(97, 25.0) == 97
    assert audio_latent_frames_for_video(9, 30.0) == 8  # 7.5 → ties to even
    assert audio_latent_frames_for_video(1, 24.0) == 1
    assert audio_latent_frames(0.1) == 2  # 2.5 → ties to even
    assert audio_latent_frames(0.14) == 4  # 3.5 → 4


@pytest.mark.parametrize("variant", ["ltx2", "ltx23"])
def test_timing_from_checkpoint_config(golden, variant):
    ckpt = open_checkpoint(golden / f"{variant}_tiny.safetensors")
    timing = AudioTiming.from_config(audio_vae_config(ckpt.config, ckpt.path))
    assert timing == AudioTiming()  # the pipelines' hard-wired grid agrees with the files


def test_shapes_case_latent_counts(golden):
    case = load_case(golden / "cases" / "common" / "patchifiers.safetensors")
    for shape in case.params["shapes"]:
        frames, _, _, fps = shape["pixel"]
        assert audio_latent_frames_for_video(frames, fps) == shape["audio_latent_frames"]


def test_positions_match_golden(golden):
    case = load_case(golden / "cases" / "common" / "patchifiers.safetensors")
    for spec in case.params["audio"]:
        timing = AudioTiming(spec["sample_rate"], spec["hop_length"], spec["latent_downsample"], spec["causal"])
        expected = case.outputs[f"audio_positions_{spec['index']}"]
        got = audio_positions(spec["frames"], batch=spec["batch"], shift=spec["shift"], timing=timing)
        assert got.dtype == torch.float32
        assert torch.equal(got, expected)


def test_positions_by_hand():
    pos = audio_positions(3)[0, 0]
    expected = torch.tensor([[0.0, 1.0], [1.0, 5.0], [5.0, 9.0]]) * 160 / 16000
    assert torch.equal(pos, expected)
    non_causal = AudioTiming(causal=False).positions(2)[0, 0]
    assert torch.equal(non_causal, torch.tensor([[0.0, 4.0], [4.0, 8.0]]) * 160 / 16000)


def test_reference_positions_end_before_zero():
    pos = shift_before_zero(audio_positions(11))[0, 0]
    # The last reference token ends 0.04 s before 0; the first starts at −(0.41 + 0.04).
    assert abs(pos[-1, 1].item() + 0.04) < 1e-7
    assert abs(pos[0, 0].item() + 0.45) < 1e-7


def test_decoded_lengths():
    assert AudioTiming().mel_frames(126) == 501
    assert decoded_audio_samples(126, 240) == 120_240
    assert decoded_audio_samples(126, 480) == 240_480
    assert AudioTiming().mel_frames(1) == 1


def test_fit_audio_latent_trims_and_pads():
    latent = torch.randn(1, 8, 5, 16)
    assert torch.equal(fit_audio_latent(latent, 3), latent[:, :, :3])
    padded = fit_audio_latent(latent, 7)
    assert padded.shape == (1, 8, 7, 16)
    assert torch.equal(padded[:, :, :5], latent) and (padded[:, :, 5:] == 0).all()
    with pytest.raises(InputError, match="too short"):
        fit_audio_latent(latent, 7, pad=False)


def test_invalid_timing_inputs():
    with pytest.raises(InputError, match="frame rate"):
        audio_latent_frames_for_video(9, 0)
    with pytest.raises(InputError, match="duration"):
        audio_latent_frames(-1.0)
