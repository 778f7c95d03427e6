"""What the pipelines call: `encode_video` (pixels → normalised latent) and `decode_video` (latent → frames).

Unlike the official encoder, which silently drops trailing frames, a clip whose frame count is not 1 + 8k or whose
size is not a multiple of 32 is rejected with the nearest valid values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

from ltx_core.errors import InputError
from ltx_core.geometry import SPATIAL_SCALE, check_frame_count, check_multiple
from ltx_core.model.video_vae.decoder import VideoDecoder
from ltx_core.model.video_vae.diffusion.model import DiffusionVideoDecoder
from ltx_core.model.video_vae.diffusion.tiling import auto_diffusion_tiling
from ltx_core.model.video_vae.encoder import VideoEncoder
from ltx_core.model.video_vae.tiled import tiled_decode, tiled_encode, tiled_encode_by_size
from ltx_core.model.video_vae.tiling import AutoTiling, TileSizeConfig, TilingConfig, decode_tiles
from ltx_core.numerics import DEFAULT_NUMERICS, Numerics

# (decoder, latent, tiling, timestep, generator) → decoded chunks, as `tiled_decode`
TiledDecode = Callable[..., Iterator[torch.Tensor]]


def check_video_shape(shape: tuple[int, ...]) -> None:
    """Raise InputError unless `shape` is (B, C, 1+8k, 32m, 32n)."""
    if len(shape) != 5:
        raise InputError(f"video must be (batch, channels, frames, height, width); got shape {tuple(shape)}")
    _, _, f, h, w = shape
    check_frame_count("frame count", f)
    check_multiple("height", h, SPATIAL_SCALE)
    check_multiple("width", w, SPATIAL_SCALE)


def to_model_range(video: torch.Tensor) -> torch.Tensor:
    """uint8 pixels → float32 in [−1, 1] (x/127.5 − 1); float input is taken as already in [−1, 1]."""
    if video.dtype == torch.uint8:
        return video.to(torch.float32) / 127.5 - 1.0
    if not video.is_floating_point():
        raise InputError(f"video dtype {video.dtype} is unsupported; give uint8 pixels or floats in [-1, 1]")
    return video


def encode_video(
    encoder: VideoEncoder,
    video: torch.Tensor,
    tiling: TilingConfig | TileSizeConfig | None = None,
    numerics: Numerics = DEFAULT_NUMERICS,
) -> torch.Tensor:
    """(B, 3, 1+8k, H, W) uint8 or [−1, 1] floats → normalised latent (B, C_lat, 1+k, H/32, W/32), model dtype.

    A tiling is planned as `numerics` says: on the latent grid (1.2.0, either config) or in pixels (1.1.3, a
    `TilingConfig` only)."""
    check_video_shape(tuple(video.shape))
    if video.shape[1] != encoder.config.in_channels:
        raise InputError(f"video has {video.shape[1]} channels; the encoder takes {encoder.config.in_channels}")
    param = next(encoder.parameters())
    video = to_model_range(video)
    with torch.no_grad():
        if tiling is not None and numerics.encode_latent_tile_plan:
            return tiled_encode_by_size(encoder, video, tiling)
        if isinstance(tiling, TileSizeConfig):
            raise InputError("a TileSizeConfig is the 1.2.0 tiling; under 1.1.3 numerics give a TilingConfig")
        if tiling is not None:
            return tiled_encode(encoder, video, tiling)
        return encoder(video.to(device=param.device, dtype=param.dtype))


def _check_latent(decoder: VideoDecoder, latent: torch.Tensor, tiling: TilingConfig | TileSizeConfig | None) -> None:
    cfg = decoder.config
    if latent.dim() != 5 or latent.shape[1] != cfg.latent_channels:
        raise InputError(
            f"latent shape {tuple(latent.shape)} is invalid; expected (batch, {cfg.latent_channels}, frames, h, w)"
        )
    if cfg.spatial_padding_mode != "reflect":
        return
    # Reflect padding needs every spatial extent > 1 latent; a tile plan can leave a 1-latent last tile.
    tiles = decode_tiles(tuple(latent.shape), tiling) if tiling is not None else None
    spans = [(latent.shape[3], latent.shape[4])]
    if tiles is not None:
        spans = [(t.height.inp.stop - t.height.inp.start, t.width.inp.stop - t.width.inp.start) for t in tiles]
    if min(min(s) for s in spans) < 2:
        raise InputError(
            f"latent {tuple(latent.shape[3:])} (or a tile of it) is 1 latent wide, which this reflect-padded decoder "
            "cannot decode; use a larger size or a spatial tile overlap of at least 32 px"
        )


def decode_video(
    decoder: VideoDecoder | DiffusionVideoDecoder,
    latent: torch.Tensor,
    tiling: TilingConfig | TileSizeConfig | AutoTiling | None = None,
    generator: torch.Generator | None = None,
    timestep: torch.Tensor | None = None,
    *,
    tiled: TiledDecode = tiled_decode,
) -> Iterator[torch.Tensor]:
    """Yield frames of batch item 0 as (n, H, W, 3) floats in [0, 1], chunk by chunk (one chunk when untiled).

    Values are `clamp((x + 1)·0.5, 0, 1)` rounded in the decoder output dtype (bf16 in pipelines). `tiled` decodes
    when a tiling is given (`ltx_core.parallel.decode` spreads the tiles over processes). Either decoder: the
    LTX-2.5 diffusion decoder draws its starting noise from `generator`. An `AutoTiling` is planned here for this
    latent: the conv decoder's size-based plan (delta A.9.2), the diffusion decoder's from the free memory.
    """
    if isinstance(tiling, AutoTiling):
        if isinstance(decoder, DiffusionVideoDecoder):
            tiling = auto_diffusion_tiling(decoder, tuple(latent.shape))
        else:
            tiling = tiling.plan(tuple(latent.shape))
    if isinstance(decoder, DiffusionVideoDecoder):
        decoder.check_latent(latent)
    else:
        _check_latent(decoder, latent, tiling)
    if tiling is not None:
        chunks = tiled(decoder, latent, tiling, timestep, generator)
    else:
        with torch.no_grad():
            chunks = iter([decoder(latent, timestep, generator)])
    for chunk in chunks:
        frames = chunk[0].permute(1, 2, 3, 0)
        frames.add_(1).mul_(0.5).clamp_(0, 1)
        yield frames
