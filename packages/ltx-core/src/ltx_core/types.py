"""Shape records and the diffusion state shared by samplers, conditioning items and pipelines.

Channel counts are always given by the caller (they come from the checkpoint config), so tiny test checkpoints
with 8 latent channels use the same code as the released 128-channel models.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from ltx_core.geometry import SPATIAL_SCALE, TIME_SCALE

# Audio latent timing of the released audio VAE (mel hop 160 at 16 kHz, 4x latent downsampling → 25 latents/s).
DEFAULT_AUDIO_SAMPLE_RATE = 16000
DEFAULT_AUDIO_HOP_LENGTH = 160
DEFAULT_AUDIO_LATENT_DOWNSAMPLE = 4


@dataclass(frozen=True)
class SpatioTemporalScaleFactors:
    """Pixels per latent cell along (time, height, width)."""

    time: int = TIME_SCALE
    height: int = SPATIAL_SCALE
    width: int = SPATIAL_SCALE

    def as_tuple(self) -> tuple[int, int, int]:
        return (self.time, self.height, self.width)


VIDEO_SCALE_FACTORS = SpatioTemporalScaleFactors()


@dataclass(frozen=True)
class VideoPixelShape:
    batch: int
    frames: int
    height: int
    width: int
    frame_rate: float

    @property
    def duration(self) -> float:
        return float(self.frames) / float(self.frame_rate)


@dataclass(frozen=True)
class VideoLatentShape:
    """Torch layout (B, C, F, H, W)."""

    batch: int
    channels: int
    frames: int
    height: int
    width: int

    @classmethod
    def from_pixel_shape(
        cls,
        shape: VideoPixelShape,
        *,
        channels: int,
        scale_factors: SpatioTemporalScaleFactors = VIDEO_SCALE_FACTORS,
    ) -> VideoLatentShape:
        # Causal VAE: pixel frame 0 alone, then groups of `time` frames; floors without validation (as official).
        return cls(
            batch=shape.batch,
            channels=channels,
            frames=(shape.frames - 1) // scale_factors.time + 1,
            height=shape.height // scale_factors.height,
            width=shape.width // scale_factors.width,
        )

    @classmethod
    def from_torch_shape(cls, shape: torch.Size | tuple[int, ...]) -> VideoLatentShape:
        b, c, f, h, w = shape
        return cls(b, c, f, h, w)

    def to_torch_shape(self) -> torch.Size:
        return torch.Size((self.batch, self.channels, self.frames, self.height, self.width))

    def token_count(self) -> int:
        return self.frames * self.height * self.width

    def mask_shape(self) -> VideoLatentShape:
        return replace(self, channels=1)

    def upscale(self, scale_factors: SpatioTemporalScaleFactors = VIDEO_SCALE_FACTORS) -> VideoLatentShape:
        """The RGB pixel shape this latent decodes to (channels 3)."""
        return VideoLatentShape(
            batch=self.batch,
            channels=3,
            frames=(self.frames - 1) * scale_factors.time + 1,
            height=self.height * scale_factors.height,
            width=self.width * scale_factors.width,
        )


def audio_latents_per_second(
    sample_rate: int = DEFAULT_AUDIO_SAMPLE_RATE,
    hop_length: int = DEFAULT_AUDIO_HOP_LENGTH,
    downsample: int = DEFAULT_AUDIO_LATENT_DOWNSAMPLE,
) -> float:
    return sample_rate / hop_length / downsample


def audio_latent_frames(
    duration: float,
    sample_rate: int = DEFAULT_AUDIO_SAMPLE_RATE,
    hop_length: int = DEFAULT_AUDIO_HOP_LENGTH,
    downsample: int = DEFAULT_AUDIO_LATENT_DOWNSAMPLE,
) -> int:
    """Number of audio latent frames for `duration` seconds (Python round: ties to even, as official).

    Delegates to the audio VAE's timing record (imported lazily: shapes must stay importable on their own).
    """
    from ltx_core.model.audio_vae.timing import AudioTiming

    return AudioTiming(sample_rate=sample_rate, hop_length=hop_length, downsample=downsample).latent_frames(duration)


@dataclass(frozen=True)
class AudioLatentShape:
    """Torch layout (B, C, T, M): channels x mel bins per latent frame."""

    batch: int
    channels: int
    frames: int
    mel_bins: int

    @classmethod
    def from_duration(
        cls,
        batch: int,
        duration: float,
        *,
        channels: int,
        mel_bins: int,
        sample_rate: int = DEFAULT_AUDIO_SAMPLE_RATE,
        hop_length: int = DEFAULT_AUDIO_HOP_LENGTH,
        audio_latent_downsample_factor: int = DEFAULT_AUDIO_LATENT_DOWNSAMPLE,
    ) -> AudioLatentShape:
        frames = audio_latent_frames(duration, sample_rate, hop_length, audio_latent_downsample_factor)
        return cls(batch=batch, channels=channels, frames=frames, mel_bins=mel_bins)

    @classmethod
    def from_video_pixel_shape(
        cls,
        shape: VideoPixelShape,
        *,
        channels: int,
        mel_bins: int,
        sample_rate: int = DEFAULT_AUDIO_SAMPLE_RATE,
        hop_length: int = DEFAULT_AUDIO_HOP_LENGTH,
        audio_latent_downsample_factor: int = DEFAULT_AUDIO_LATENT_DOWNSAMPLE,
    ) -> AudioLatentShape:
        return cls.from_duration(
            shape.batch,
            shape.duration,
            channels=channels,
            mel_bins=mel_bins,
            sample_rate=sample_rate,
            hop_length=hop_length,
            audio_latent_downsample_factor=audio_latent_downsample_factor,
        )

    @classmethod
    def from_torch_shape(cls, shape: torch.Size | tuple[int, ...]) -> AudioLatentShape:
        b, c, t, m = shape
        return cls(b, c, t, m)

    def to_torch_shape(self) -> torch.Size:
        return torch.Size((self.batch, self.channels, self.frames, self.mel_bins))

    def token_count(self) -> int:
        return self.frames

    def mask_shape(self) -> AudioLatentShape:
        return replace(self, channels=1, mel_bins=1)


@dataclass(frozen=True)
class Audio:
    """A waveform (channels, samples) with its rate."""

    waveform: torch.Tensor
    sampling_rate: int


@dataclass(frozen=True)
class LatentState:
    """The patchified diffusion state of one modality.

    latent:         [B, T, C] current (noisy) tokens, model dtype.
    denoise_mask:   [B, T, 1] float32, 1 = generate, 0 = keep the clean value.
    positions:      [B, 3, T, 2] (video) or [B, 1, T, 2] (audio) float32 [start, end) bounds.
    clean_latent:   [B, T, C] the clean reference the mask blends towards.
    attention_mask: optional [B, T, T] self-attention weights in [0, 1]; None = full attention.
    frozen:         the stream is held at its clean value for the whole stage (A2Vid audio, lip-dub stage-2 audio):
                    its mask is all zeros, and under 1.2.0 numerics the denoisers hand the transformer σ = 0 for it
                    (delta A.2), which the mask alone cannot tell from a fully conditioned stream.
    keyframes_mask: video only, [B, T, 1] float32: 1 for the tokens of the first target latent frame (and of
                    generated keyframe slots), 0 elsewhere, appended conditioning tokens included (delta B.4);
                    handed to the transformer, where only a file with a keyframe embedding (LTX-2.5) reads it.
    """

    latent: torch.Tensor
    denoise_mask: torch.Tensor
    positions: torch.Tensor
    clean_latent: torch.Tensor
    attention_mask: torch.Tensor | None = None
    frozen: bool = False
    keyframes_mask: torch.Tensor | None = None

    def clone(self) -> LatentState:
        return LatentState(
            latent=self.latent.clone(),
            denoise_mask=self.denoise_mask.clone(),
            positions=self.positions.clone(),
            clean_latent=self.clean_latent.clone(),
            attention_mask=None if self.attention_mask is None else self.attention_mask.clone(),
            frozen=self.frozen,
            keyframes_mask=None if self.keyframes_mask is None else self.keyframes_mask.clone(),
        )

    def with_(self, **changes: object) -> LatentState:
        return replace(self, **changes)

    @property
    def token_count(self) -> int:
        return self.latent.shape[1]
