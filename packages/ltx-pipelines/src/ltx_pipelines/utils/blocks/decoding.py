"""Decoding: video latents → lazily decoded frame chunks, audio latents → waveforms."""

from __future__ import annotations

from collections.abc import Iterator
from enum import Enum
from functools import partial
from typing import Any

import torch
from torch import nn

from ltx_core.model.video_vae import DiffusionVideoDecoder
from ltx_core.model.video_vae.video import TiledDecode
from ltx_core.numerics import DEFAULT_NUMERICS, Numerics
from ltx_core.types import Audio, VideoLatentShape
from ltx_pipelines.utils.blocks.lifetime import CheckpointLike, ModelBlock, free
from ltx_pipelines.utils.recording import current_recorder


class DefaultTiling(Enum):
    """A pipeline call's `tiling_config` when the caller gives none: the release's default, resolved by the pipeline
    from its numerics (`decode_auto_tiling`: the AUTO plan under 1.2.0, untiled under 1.1.3). Distinct from None, which
    keeps meaning untiled (delta A.9.3: 1.2.0 callers who want the untiled decode pass None)."""

    RELEASE = "the numerics' default tiling"


DEFAULT_TILING = DefaultTiling.RELEASE


class FrameChunks(Iterator[torch.Tensor]):
    """Decoded frames, chunk by chunk (`[f, h, w, 3]` in [0, 1]); frees the decoder when exhausted or closed (unless
    the decoder block keeps it).

    Nothing is decoded until the first `next()`. `num_frames`, `height` and `width` describe the whole video.
    """

    def __init__(
        self,
        decoder: nn.Module,
        chunks: Iterator[torch.Tensor],
        num_frames: int,
        height: int,
        width: int,
        owns_decoder: bool = True,
    ) -> None:
        self._decoder: nn.Module | None = decoder
        self._owns_decoder = owns_decoder  # False: a kept decoder, not freed here
        self._chunks = chunks
        self.num_frames, self.height, self.width = num_frames, height, width

    def __next__(self) -> torch.Tensor:
        if self._decoder is None:
            raise StopIteration
        try:
            return next(self._chunks)
        except BaseException:
            self.close()
            raise

    @property
    def is_open(self) -> bool:
        """False once exhausted or closed (the decoder is freed then)."""
        return self._decoder is not None

    def close(self) -> None:
        """Stop decoding and free the decoder (idempotent)."""
        if self._decoder is not None:
            decoder, self._decoder = self._decoder, None
            close = getattr(self._chunks, "close", None)
            if close is not None:
                close()
            if self._owns_decoder:
                free(decoder)

    def __enter__(self) -> FrameChunks:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class VideoDecoder(ModelBlock):
    """Latent → an iterator of frame chunks; the decoder is built now and freed when the iterator ends (unless the
    block keeps it). Under several processes, `processes.across_processes` spreads a tiled decode's tiles."""

    def __init__(
        self,
        checkpoint: CheckpointLike,
        *,
        dtype: torch.dtype = torch.bfloat16,
        device: torch.device | str | None = None,
        memory_efficient: bool = True,
        numerics: Numerics = DEFAULT_NUMERICS,
    ) -> None:
        super().__init__(checkpoint, dtype=dtype, device=device)
        self.memory_efficient = memory_efficient
        self.numerics = numerics  # how tiles blend (delta A.9)

    def __call__(
        self,
        latent: torch.Tensor,
        tiling_config: Any = None,
        generator: torch.Generator | None = None,
        *,
        tiled: TiledDecode | None = None,
    ) -> FrameChunks:
        """`tiled` replaces the tiled decode of `tiling_config` (same arguments as `tiled_decode` plus `numerics`: a
        decode spread over processes)."""
        from ltx_core.model.video_vae import decode_video, tiled_decode

        def build() -> nn.Module:
            return self._build("video_decoder", memory_efficient=self.memory_efficient)

        shape = VideoLatentShape.from_torch_shape(tuple(latent.shape)).upscale()
        kept = self.models.keep or self.models.is_built
        decoder = self.models.get(build) if kept else build()
        _record_decode_noise(decoder, latent, generator)
        tiles = partial(tiled_decode if tiled is None else tiled, numerics=self.numerics)
        chunks = decode_video(decoder, latent, tiling_config, generator, tiled=tiles)
        return FrameChunks(decoder, chunks, shape.frames, shape.height, shape.width, owns_decoder=not kept)


def _record_decode_noise(decoder: nn.Module, latent: torch.Tensor, generator: torch.Generator | None) -> None:
    """With a recorder, the diffusion decoder's starting noise (`vae_decode_noise`: its one draw at the padded work
    shape, re-drawn from a copy of the generator's state, so the stream itself is not touched)."""
    record = current_recorder()
    if record is None or generator is None or not isinstance(decoder, DiffusionVideoDecoder):
        return
    if decoder.draws_per_tile():
        return
    padded, _ = decoder.pad_latent(latent)
    replay = torch.Generator(device=generator.device)
    replay.set_state(generator.get_state())
    s4 = decoder.s4_shape(tuple(padded.shape))
    record("vae_decode_noise", decoder.work_noise(latent.shape[0], s4, latent.dtype, replay, latent.device))


class AudioDecoder(ModelBlock):
    """Audio latent → waveform: the audio VAE decoder and the vocoder, built together, freed together. Under several
    processes every process decodes its own (the waveform is small): all return the same."""

    def __call__(self, latent: torch.Tensor) -> Audio:
        from ltx_core.model.audio_vae import decode_audio

        def build() -> tuple[nn.Module, nn.Module]:
            return self._build("audio_decoder"), self._build("vocoder")

        with self.models.use(build) as (decoder, vocoder):
            waveform, rate = decode_audio(decoder, vocoder, latent)  # type: ignore[arg-type]
        return Audio(waveform=waveform, sampling_rate=rate)
