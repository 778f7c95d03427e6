"""Waveform → log-mel front end: golden parity (resampler, both mels) and hand-checked properties."""

import math

import pytest
import torch

from ltx_core.errors import InputError
from ltx_core.loader import open_checkpoint
from ltx_core.model.audio_vae.config import MelConfig
from ltx_core.model.audio_vae.loading import audio_vae_config
from ltx_core.model.audio_vae.mel import log_mel_spectrogram, mel_filterbank, to_stereo, waveform_to_mel
from ltx_core.model.audio_vae.resample import resample
from ltx_core.testing.golden import load_case, report

TOL = 1e-5


@pytest.fixture(scope="module")
def case(golden):
    return load_case(golden / "cases" / "common" / "audio_preprocess.safetensors")


@pytest.fixture(scope="module")
def mel_cfg(golden) -> MelConfig:
    # The preprocessing sizes come from the audio_vae section (both checkpoints carry the same ones).
    ckpt = open_checkpoint(golden / "ltx2_tiny.safetensors")
    return audio_vae_config(ckpt.config, ckpt.path).mel


def test_config_matches_case_params(case, mel_cfg):
    p = case.params
    assert (mel_cfg.sample_rate, mel_cfg.n_fft, mel_cfg.hop_length, mel_cfg.n_mels) == (
        p["target_sample_rate"],
        p["n_fft"],
        p["hop_length"],
        p["mel_bins"],
    )


def _rate(name: str) -> int:
    return int(name.rsplit("_", 1)[1])


def test_resample_parity(case, mel_cfg):
    for name, wave in case.inputs.items():
        rate = _rate(name)
        key = f"resampled_{rate}"
        if key in case.outputs:
            got = resample(wave, rate, mel_cfg.sample_rate)
            report(f"audio_preprocess/{key}", got, case.outputs[key], TOL)


def test_mel_parity(case, mel_cfg):
    for name, wave in case.inputs.items():
        rate = _rate(name)
        got = waveform_to_mel(wave, rate, mel_cfg)
        report(f"audio_preprocess/mel_{rate}", got, case.outputs[f"mel_{rate}"], TOL)


def test_mel_frame_count_rule(mel_cfg):
    n = 3 * mel_cfg.hop_length + 7 + mel_cfg.n_fft
    mel = log_mel_spectrogram(torch.zeros(1, 2, n), mel_cfg)
    assert mel.shape == (1, 2, 1 + n // mel_cfg.hop_length, mel_cfg.n_mels)
    # Silence hits the log floor everywhere.
    assert torch.allclose(mel, torch.full_like(mel, math.log(1e-5)))


def test_resample_length_and_identity():
    x = torch.randn(1, 2, 441)
    assert resample(x, 44100, 16000).shape[-1] == math.ceil(441 * 160 / 441)
    assert resample(x, 16000, 16000) is x


def test_resample_keeps_low_tone():
    # A 440 Hz tone well below both Nyquists survives resampling (away from the zero-padded edges).
    t = torch.arange(44100) / 44100
    y = resample(torch.sin(2 * math.pi * 440 * t)[None, None], 44100, 16000)
    ref = torch.sin(2 * math.pi * 440 * torch.arange(16000) / 16000)
    assert (y[0, 0, 200:-200] - ref[200:-200]).abs().max() < 1e-2


def test_slaney_filterbank_hand_values():
    fb = mel_filterbank(513, 64, 16000)
    assert fb.shape == (513, 64)
    assert (fb >= 0).all()
    # Slaney area norm: each triangle has area 1 over Hz; sampled at 15.625 Hz spacing its column sum ≈ 1/15.625.
    assert torch.allclose(fb.sum(0), torch.full((64,), 1 / 15.625), rtol=0.05)


def test_mono_is_duplicated(mel_cfg):
    mono = torch.randn(1, 1, 4000)
    stereo = waveform_to_mel(mono, 16000, mel_cfg)
    assert stereo.shape[1] == 2
    assert torch.equal(stereo[:, 0], stereo[:, 1])
    # 2-D (channels, samples) input is accepted too.
    assert torch.equal(waveform_to_mel(mono[0], 16000, mel_cfg), stereo)


def test_bad_channel_count_and_short_audio(mel_cfg):
    with pytest.raises(InputError, match="3 channels"):
        to_stereo(torch.zeros(1, 3, 100))
    with pytest.raises(InputError, match="too short"):
        log_mel_spectrogram(torch.zeros(1, 2, mel_cfg.n_fft // 2), mel_cfg)
