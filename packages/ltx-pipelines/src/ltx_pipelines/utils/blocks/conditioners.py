"""Media encoders for conditioning: one VAE encoder built for one callback (`fn(encode)`), then freed.

`MediaConditioner` holds the lifetime; a subclass says only which encoder to load and how to call it. The seed's
`ImageConditioner` (video VAE encoder; `encode(pixels, tiling=None)` tiles when given a tiling config, for long
reference and source videos) and `AudioConditioner` (audio VAE encoder; `encode(waveform, sample_rate)`) are the two.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import torch
from torch import nn

from ltx_core.numerics import DEFAULT_NUMERICS, Numerics
from ltx_pipelines.utils.blocks.lifetime import CheckpointLike, ModelBlock
from ltx_pipelines.utils.constants import DEFAULT_IMAGE_CRF, detect_params

T = TypeVar("T")
E = TypeVar("E")

# (pixels (B, 3, F, H, W) in [-1, 1], tiling config or None) → normalised latent
VideoEncodeFn = Callable[..., torch.Tensor]
AudioEncodeFn = Callable[[torch.Tensor, int], torch.Tensor]  # (waveform, sample rate) → normalised latent


class MediaConditioner(ModelBlock, Generic[E]):
    """Builds its encoder for one callback (`fn(encode)`) and frees it after (kept with `models.keep`)."""

    def __call__(self, fn: Callable[[E], T]) -> T:
        with self.models.use(self._load) as encoder:
            return fn(self._encode_fn(encoder))

    def _load(self) -> nn.Module:
        raise NotImplementedError

    def _encode_fn(self, encoder: Any) -> E:
        raise NotImplementedError


class ImageConditioner(MediaConditioner[VideoEncodeFn]):
    """The video VAE encoder; `encode(pixels, tiling=None)`, a tiling planned as `numerics` says (delta A.10)."""

    def __init__(
        self,
        checkpoint: CheckpointLike,
        *,
        dtype: torch.dtype = torch.bfloat16,
        device: torch.device | str | None = None,
        numerics: Numerics = DEFAULT_NUMERICS,
    ) -> None:
        super().__init__(checkpoint, dtype=dtype, device=device)
        self.numerics = numerics

    @functools.cached_property
    def default_image_crf(self) -> int:
        """The CRF of an image given without one (delta A.11): under 1.2.0 numerics the one of this video VAE
        file's `model_version` (18 from LTX-2.4 on, else 33); 33 under 1.1.3."""
        if not self.numerics.image_exif_icc_decode:
            return DEFAULT_IMAGE_CRF
        return detect_params(self.checkpoint).default_image_crf

    def load_image(
        self,
        source: Any,
        height: int,
        width: int,
        dtype: torch.dtype,
        device: torch.device | str,
        crf: int | None,
    ) -> torch.Tensor:
        """`helpers.load_image` with this file's CRF default and this block's numerics (the image decode)."""
        from ltx_pipelines.utils.helpers import load_image

        crf = self.default_image_crf if crf is None else crf
        return load_image(source, height, width, dtype, device, crf, self.numerics)

    def _load(self) -> nn.Module:
        return self._build("video_encoder")

    def _encode_fn(self, encoder: Any) -> VideoEncodeFn:
        from ltx_core.model.video_vae import encode_video

        return lambda pixels, tiling=None: encode_video(encoder, pixels, tiling, self.numerics)


class AudioConditioner(MediaConditioner[AudioEncodeFn]):
    """The audio VAE encoder; `encode(waveform, sample_rate)`."""

    def _load(self) -> nn.Module:
        return self._build("audio_encoder")

    def _encode_fn(self, encoder: Any) -> AudioEncodeFn:
        from ltx_core.model.audio_vae import encode_audio

        return lambda waveform, rate: encode_audio(encoder, waveform, rate)
