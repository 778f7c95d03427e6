"""Tiled decoding (a generator of temporal chunks) and tiled encoding, blended as the official code does.

Decoding groups tiles by temporal interval and accumulates one group at a time into a full-frame blend buffer
(latent dtype). Frames before the next group's start are final once the group is done: they are normalised and
yielded at once, and only the overlap with the next group (sums and weights) is carried over. So one group buffer,
one overlap and one tile decode are alive at a time, however long the video. The sums are the same as blending
whole groups pairwise (float addition is commutative), so the result is bitwise unchanged.

Blending follows the numerics asked for. 1.1.3: each tile times its outer-product mask cast to the latent dtype,
weights summed, every frame divided. 1.2.0 (delta A.9.1): each tile times its 1-D float32 axis masks in turn (the
product in float32, added into the latent-dtype buffer), and no weights or division when the masks of every axis sum
to one (every default layout). Encoding: 1.1.3 plans pixel tiles with 0/1 masks (`tiled_encode`); 1.2.0 plans on
the latent grid with trapezoid masks (`tiled_encode_by_size`, delta A.10).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

from ltx_core.errors import InputError
from ltx_core.geometry import SPATIAL_SCALE, TIME_SCALE, latent_frames, latent_size, pixel_size
from ltx_core.model.video_vae.decoder import VideoDecoder
from ltx_core.model.video_vae.diffusion.model import DiffusionVideoDecoder
from ltx_core.model.video_vae.diffusion.tiling import tiled_diffusion_decode
from ltx_core.model.video_vae.encoder import VideoEncoder
from ltx_core.model.video_vae.tiling import (
    AxisTile,
    Tile,
    TileSizeConfig,
    TilingConfig,
    decode_tile_axes,
    decode_tiles,
    encode_tiles,
    latent_intervals,
    trapezoid_mask,
)
from ltx_core.numerics import DEFAULT_NUMERICS, Numerics

_EPS = 1e-8
_COMPLEMENTARY_ATOL = 1e-5
# the smallest overlaps the 1.2.0 tiled encode accepts (frames, pixels)
MIN_ENCODE_OVERLAP_FRAMES, MIN_ENCODE_OVERLAP_PX = 16, 64
TileDecoder = Callable[[int, Tile], torch.Tensor]  # (index in plan order, tile) → decoded pixels of that tile


def _groups(tiles: list[Tile]) -> list[list[Tile]]:
    groups: list[list[Tile]] = []
    for tile in tiles:
        if groups and groups[-1][0].time.out == tile.time.out:
            groups[-1].append(tile)
        else:
            groups.append([tile])
    return groups


def _axis_sums_to_one(axis: list[AxisTile], length: int) -> bool:
    """The 1-D masks of an axis's distinct output slices, summed in float32 over the axis, are all 1 (1.2.0)."""
    total = torch.zeros(length, dtype=torch.float32)
    for part in axis:
        total[part.out] += part.mask if part.mask is not None else torch.ones(1)
    return torch.allclose(total, torch.ones(length), atol=_COMPLEMENTARY_ATOL, rtol=0)


def _complementary(axes: tuple[list[AxisTile], ...], lengths: tuple[int, ...]) -> bool:
    return all(_axis_sums_to_one(axis, n) for axis, n in zip(axes, lengths, strict=True))


def _masked(part: torch.Tensor, tile: Tile, frames: int) -> torch.Tensor:
    """part · m_T · m_H · m_W, one 1-D float32 mask at a time (the official order; the batch and channel masks are
    1.0, which only promotes the tile to float32)."""
    out = part.float()
    for axis, view in ((tile.time, (-1, 1, 1)), (tile.height, (-1, 1)), (tile.width, (-1,))):
        if axis.mask is not None:
            mask = axis.mask.to(out.device)
            out = out * (mask[:frames] if view == (-1, 1, 1) else mask).view(view)
    return out


def tiled_decode(
    decoder: VideoDecoder | DiffusionVideoDecoder,
    latent: torch.Tensor,
    tiling: TilingConfig | TileSizeConfig,
    timestep: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    decode_tile: TileDecoder | None = None,
    numerics: Numerics = DEFAULT_NUMERICS,
) -> Iterator[torch.Tensor]:
    """Yield (B, C_out, n_i, 32H', 32W') chunks in the latent's dtype; concatenated they are 8(F'−1)+1 frames.

    Chunks have variable length (a degenerate plan can yield an empty one, as the official code does).
    `decode_tile` replaces the local decode of each tile (distributed decode hands tiles to other processes); the
    blend is the same. A diffusion decoder (LTX-2.5) decodes and blends its own tile plan
    (`diffusion.tiling.tiled_diffusion_decode`; `timestep` must be None).
    """
    if isinstance(decoder, DiffusionVideoDecoder):
        if decode_tile is not None or timestep is not None:
            raise ValueError("a diffusion decoder's tiled decode takes no timestep and no conv-plan decode_tile")
        yield from tiled_diffusion_decode(decoder, latent, tiling, generator)
        return
    b, _, f, h, w = latent.shape
    channels = decoder.config.out_channels
    height, width = pixel_size(h), pixel_size(w)
    groups = _groups(decode_tiles(tuple(latent.shape), tiling))
    separable = numerics.decode_separable_masks
    lengths = (1 + TIME_SCALE * (f - 1), height, width)
    divide = not (separable and _complementary(decode_tile_axes(tuple(latent.shape), tiling), lengths))
    carried: tuple[torch.Tensor, torch.Tensor] | None = None  # (sums, weights) of frames shared with this group
    if decode_tile is None:

        def decode_tile(_: int, tile: Tile) -> torch.Tensor:
            with torch.no_grad():  # not inference_mode: a context held across a yield would leak to the caller
                return decoder(latent[tile.input_slices()], timestep, generator)

    number = 0
    for index, group in enumerate(groups):
        t_out = group[0].time.out
        length = t_out.stop - t_out.start
        buffer = torch.zeros(b, channels, length, height, width, dtype=latent.dtype, device=latent.device)
        weights = torch.zeros(1, 1, length, height, width, dtype=latent.dtype, device=latent.device)
        for tile in group:
            decoded = decode_tile(number, tile)
            number += 1
            n = min(decoded.shape[2], length)
            region = (slice(None), slice(None), slice(0, n), tile.height.out, tile.width.out)
            part = decoded[:, :, :n]
            if separable:
                buffer[region] += _masked(part, tile, n)
                if divide:  # the float32 mask product added into the buffer-dtype weights
                    weights[region] += tile.blend_mask(torch.float32, buffer.device)[:, :, :n]
                del decoded, part
                continue
            mask = tile.blend_mask(buffer.dtype, buffer.device)
            # in place when no dtype promotion is involved (same numbers, one tile-sized temporary less)
            part = part.mul_(mask[:, :, :n]) if part.dtype == buffer.dtype else part * mask[:, :, :n]
            buffer[region] += part
            weights[region] += mask[:, :, :n]
            del decoded, part, mask
        if carried is not None:
            overlap = carried[0].shape[2]
            buffer[:, :, :overlap] += carried[0]
            weights[:, :, :overlap] += carried[1]
            carried = None
        keep = length
        if index + 1 < len(groups):
            keep = groups[index + 1][0].time.out.start - t_out.start
            carried = (buffer[:, :, keep:].clone(), weights[:, :, keep:].clone())
        chunk = buffer[:, :, :keep] / weights[:, :, :keep].clamp(min=_EPS) if divide else buffer[:, :, :keep].clone()
        del buffer, weights
        yield chunk
        del chunk


def tiled_encode(encoder: VideoEncoder, video: torch.Tensor, tiling: TilingConfig) -> torch.Tensor:
    """(B, 3, 1+8k, H, W) → normalised latent, encoding overlapping tiles and averaging them (0/1 masks)."""
    param = next(encoder.parameters())
    extra = (video.shape[2] - 1) % TIME_SCALE
    if extra:
        video = video[:, :, : video.shape[2] - extra]
    b, _, f, h, w = video.shape
    shape = (b, encoder.config.latent_channels, latent_frames(f), latent_size(h), latent_size(w))
    buffer = torch.zeros(shape, dtype=param.dtype, device=param.device)
    weights = torch.zeros(1, 1, *shape[2:], dtype=param.dtype, device=param.device)
    for tile in encode_tiles(tuple(video.shape), tiling):
        latent = encoder(video[tile.input_slices()].to(device=param.device, dtype=param.dtype))
        mask = tile.blend_mask(param.dtype, param.device)
        region = (slice(None), slice(None), tile.time.out, tile.height.out, tile.width.out)
        buffer[region] += latent * mask
        weights[region] += mask.expand(1, 1, *latent.shape[2:])
    return buffer / weights.clamp(min=_EPS)


def _check_encode_overlaps(tiling: TileSizeConfig) -> None:
    """1.2.0 refuses overlaps below the minimum on a tiled axis (1.1.3 silently raised them)."""
    for name, (size, overlap), least, unit in (
        ("frames", tiling.frames, MIN_ENCODE_OVERLAP_FRAMES, "frames"),
        ("height", tiling.height, MIN_ENCODE_OVERLAP_PX, "px"),
        ("width", tiling.width, MIN_ENCODE_OVERLAP_PX, "px"),
    ):
        if size and overlap < least:
            raise InputError(f"tiled encode {name} overlap {overlap} {unit} is too small; use at least {least} {unit}")


def encode_tile_axes(
    latent_shape: tuple[int, ...], tiling: TileSizeConfig
) -> tuple[list[AxisTile], list[AxisTile], list[AxisTile]]:
    """Per-axis 1.2.0 encode tiles: pixel input slices, latent output slices, float32 trapezoid masks in latent
    units (an untiled axis: one all-ones mask of its length)."""
    _, _, f, h, w = latent_shape
    axes_t = []
    for p in latent_intervals(f, tiling.frames, TIME_SCALE, causal=True):
        mask = trapezoid_mask(p.end - p.start, p.left_ramp, p.right_ramp, True)
        axes_t.append(AxisTile(slice(TIME_SCALE * p.start, 1 + TIME_SCALE * (p.end - 1)), slice(p.start, p.end), mask))
    spatial = []
    for length, axis in ((h, tiling.height), (w, tiling.width)):
        spatial.append(
            [
                AxisTile(
                    slice(SPATIAL_SCALE * p.start, SPATIAL_SCALE * p.end),
                    slice(p.start, p.end),
                    trapezoid_mask(p.end - p.start, p.left_ramp, p.right_ramp, False),
                )
                for p in latent_intervals(length, axis, SPATIAL_SCALE, causal=False)
            ]
        )
    return axes_t, spatial[0], spatial[1]


def tiled_encode_by_size(
    encoder: VideoEncoder, video: torch.Tensor, tiling: TilingConfig | TileSizeConfig
) -> torch.Tensor:
    """(B, 3, 1+8k, H, W) → normalised latent, the 1.2.0 way (delta A.10): tiles planned on the latent grid, each
    encoded tile times its float32 axis masks added into the latent buffer; divided by the summed masks only when
    they do not sum to one."""
    tiling = TileSizeConfig.of(tiling)
    _check_encode_overlaps(tiling)
    param = next(encoder.parameters())
    extra = (video.shape[2] - 1) % TIME_SCALE
    if extra:
        video = video[:, :, : video.shape[2] - extra]
    b, _, f, h, w = video.shape
    shape = (b, encoder.config.latent_channels, latent_frames(f), latent_size(h), latent_size(w))
    axes = encode_tile_axes(shape, tiling)
    divide = not _complementary(axes, shape[2:])
    buffer = torch.zeros(shape, dtype=param.dtype, device=param.device)
    weights = torch.zeros(1, 1, *shape[2:], dtype=param.dtype, device=param.device) if divide else None
    for tile in (Tile(t, hh, ww) for t in axes[0] for hh in axes[1] for ww in axes[2]):
        pixels = video[:, :, tile.time.inp, tile.height.inp, tile.width.inp]
        latent = encoder(pixels.to(device=param.device, dtype=param.dtype))
        region = (slice(None), slice(None), tile.time.out, tile.height.out, tile.width.out)
        buffer[region] += _masked(latent, tile, latent.shape[2])
        if weights is not None:
            weights[region] += tile.blend_mask(torch.float32, param.device)
    return buffer if weights is None else buffer / weights.clamp(min=_EPS)
