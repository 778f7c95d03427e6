"""Audio latent ↔ time: latent counts for a clip, token timestamps, decoded lengths, fitting an encoded file.

The one place pipelines and patchifiers get these numbers from (spec §7.2–7.4). One latent frame covers
`downsample` mel frames of `hop_length` samples at `sample_rate`: 25 latents per second for the released models.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ltx_core.errors import InputError
from ltx_core.model.audio_vae.config import LATENT_DOWNSAMPLE_FACTOR, AudioVAEConfig

REFERENCE_GAP_S = 0.04


@dataclass(frozen=True)
class AudioTiming:
    """The audio latent's time grid. Defaults are what the official pipelines hard-wire (not read from files)."""

    sample_rate: int = 16000
    hop_length: int = 160
    downsample: int = LATENT_DOWNSAMPLE_FACTOR
    causal: bool = True

    @classmethod
    def from_config(cls, cfg: AudioVAEConfig) -> AudioTiming:
        """The grid a checkpoint's audio VAE implies (equal to the defaults for both released models)."""
        return cls(cfg.sample_rate, cfg.mel_hop_length, LATENT_DOWNSAMPLE_FACTOR, cfg.causality_axis != "none")

    @property
    def latents_per_second(self) -> float:
        return self.sample_rate / self.hop_length / self.downsample

    def latent_frames(self, duration_s: float) -> int:
        """round(duration · latents/s), ties to even (Python's round, as the official code)."""
        if duration_s < 0:
            raise InputError(f"audio duration must be >= 0 seconds, got {duration_s}")
        return round(duration_s * self.latents_per_second)

    def latent_frames_for_video(self, num_frames: int, fps: float) -> int:
        """Audio latent frames that accompany `num_frames` video frames at `fps` (121 @ 24 → 126)."""
        if fps <= 0:
            raise InputError(f"frame rate must be > 0, got {fps}")
        return self.latent_frames(float(num_frames) / float(fps))

    def mel_frames(self, latent_frames: int) -> int:
        """Mel frames decoded from `latent_frames` latents: 4·T − 3 when causal."""
        frames = latent_frames * self.downsample
        return max(frames - (self.downsample - 1), 1) if self.causal else frames

    def positions(
        self,
        latent_frames: int,
        *,
        batch: int = 1,
        shift: int = 0,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """(batch, 1, T, 2) float32 [start, end) seconds of each latent frame (causal: frame 0 is [0, 0.01))."""
        idx = torch.arange(shift, latent_frames + 1 + shift, dtype=torch.float32, device=device)
        mel = idx * self.downsample
        if self.causal:
            mel = (mel + 1 - self.downsample).clip(min=0)
        seconds = mel * self.hop_length / self.sample_rate
        bounds = torch.stack([seconds[:-1], seconds[1:]], dim=-1)
        return bounds[None, None].expand(batch, 1, latent_frames, 2).contiguous()


DEFAULT_TIMING = AudioTiming()


def audio_latent_frames(duration_s: float, timing: AudioTiming = DEFAULT_TIMING) -> int:
    return timing.latent_frames(duration_s)


def audio_latent_frames_for_video(num_frames: int, fps: float, timing: AudioTiming = DEFAULT_TIMING) -> int:
    return timing.latent_frames_for_video(num_frames, fps)


def audio_positions(
    latent_frames: int,
    *,
    batch: int = 1,
    shift: int = 0,
    timing: AudioTiming = DEFAULT_TIMING,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    return timing.positions(latent_frames, batch=batch, shift=shift, device=device)


def shift_before_zero(positions: torch.Tensor, gap_s: float = REFERENCE_GAP_S) -> torch.Tensor:
    """Move reference-audio positions so they end `gap_s` before time 0.

    Evaluated as (pos − last end) − gap, the float32 order that reproduces the official positions bit for bit
    (pos − (last end + gap) is off by one ulp).
    """
    last_end = positions[..., -1:, 1:]
    return (positions - last_end) - gap_s


def decoded_audio_samples(latent_frames: int, samples_per_mel_frame: int, timing: AudioTiming = DEFAULT_TIMING) -> int:
    """Waveform length a vocoder makes from `latent_frames` latents (LTX-2: 240 per mel frame, LTX-2.3: 480)."""
    return timing.mel_frames(latent_frames) * samples_per_mel_frame


def fit_audio_latent(latent: torch.Tensor, latent_frames: int, *, pad: bool = True) -> torch.Tensor:
    """Trim (B, C, T, F) along time to `latent_frames`, or append zeros (= the dataset mean) when shorter.

    With pad=False a too-short latent is an error (the A2V pipeline only ever truncates).
    """
    have = latent.shape[2]
    if have >= latent_frames:
        return latent[:, :, :latent_frames]
    if not pad:
        raise InputError(
            f"audio is too short: it encodes to {have} latent frames, the video needs {latent_frames} "
            f"({latent_frames / DEFAULT_TIMING.latents_per_second:.2f} s)"
        )
    return F.pad(latent, (0, 0, 0, latent_frames - have))
