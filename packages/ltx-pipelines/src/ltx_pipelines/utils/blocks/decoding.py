"""Decoding: video latents → lazily decoded frame chunks, audio latents → waveforms."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from ltx_core.parallel.layout import SINGLE_PROCESS, ParallelLayout
from ltx_core.types import Audio, VideoLatentShape
from ltx_pipelines.utils.blocks.lifetime import CheckpointLike, ModelBlock, free


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
    """Latent → an iterator of frame chunks; the decoder is built now and freed when the iterator ends.

    Under several processes (`parallel`), a tiled decode spreads its tiles over every rank and the frames come out
    on rank 0 (bitwise the one-process tiled decode); an untiled one runs on rank 0. The other ranks get an iterator
    that yields nothing (they must still exhaust it: that is when they decode their tiles).
    """

    def __init__(
        self,
        checkpoint: CheckpointLike,
        *,
        dtype: torch.dtype = torch.bfloat16,
        device: torch.device | str | None = None,
        memory_efficient: bool = True,
        parallel: ParallelLayout = SINGLE_PROCESS,
    ) -> None:
        super().__init__(checkpoint, dtype=dtype, device=device, parallel=parallel)
        self.memory_efficient = memory_efficient

    def __call__(
        self, latent: torch.Tensor, tiling_config: Any = None, generator: torch.Generator | None = None
    ) -> FrameChunks:
        from ltx_core.model.video_vae import decode_video

        def build() -> nn.Module:
            return self._build("video_decoder", memory_efficient=self.memory_efficient)

        shape = VideoLatentShape.from_torch_shape(tuple(latent.shape)).upscale()
        layout = self.parallel
        if layout.is_parallel:
            tiling_config = self._agreed_tiling(tiling_config)
        if layout.is_parallel and tiling_config is None and not layout.is_main:  # rank 0 decodes it whole
            return FrameChunks(nn.Module(), iter(()), shape.frames, shape.height, shape.width, owns_decoder=False)
        kept = self.models.keep or self.models.is_built
        decoder = self.models.get(build) if kept else build()
        tiled: dict[str, Any] = {}
        if layout.is_parallel:
            from ltx_core.parallel.decode import distributed_tiled_decode

            def spread(dec: Any, lat: torch.Tensor, tiling: Any, timestep: Any, gen: Any) -> Any:
                return distributed_tiled_decode(dec, lat, tiling, layout.group, timestep=timestep, generator=gen)

            tiled["tiled"] = spread
        chunks = decode_video(decoder, latent, tiling_config, generator, **tiled)
        return FrameChunks(decoder, chunks, shape.frames, shape.height, shape.width, owns_decoder=not kept)

    def _agreed_tiling(self, tiling_config: Any) -> Any:
        """Rank 0's choice of a tiled or untiled decode, on every rank: without a caller's tiling, each rank's
        offload choice hints tiling from its own free memory, and the ranks must decode alike."""
        from ltx_core.model.video_vae import TilingConfig

        mine = [torch.tensor([tiling_config is not None], dtype=torch.uint8)] if self.parallel.is_main else None
        (tiled,) = self.parallel.share(mine, self.device)
        if not bool(tiled.item()):
            return None
        return tiling_config if tiling_config is not None else TilingConfig.default()


class AudioDecoder(ModelBlock):
    """Audio latent → waveform: the audio VAE decoder and the vocoder, built together, freed together.

    Under several processes (`parallel`) only rank 0 decodes (the waveform is small); the others get None."""

    def __call__(self, latent: torch.Tensor) -> Audio | None:
        from ltx_core.model.audio_vae import decode_audio

        if not self.parallel.is_main:
            return None

        def build() -> tuple[nn.Module, nn.Module]:
            return self._build("audio_decoder"), self._build("vocoder")

        with self.models.use(build) as (decoder, vocoder):
            waveform, rate = decode_audio(decoder, vocoder, latent)  # type: ignore[arg-type]
        return Audio(waveform=waveform, sampling_rate=rate)
