"""Tiled decoding (a generator of temporal chunks) and tiled encoding, blended as the official code does.

Decoding groups tiles by temporal interval and accumulates one group at a time into a full-frame blend buffer
(latent dtype). Frames before the next group's start are final once the group is done: they are normalised and
yielded at once, and only the overlap with the next group (sums and weights) is carried over. So one group buffer,
one overlap and one tile decode are alive at a time, however long the video. The sums are the same as blending
whole groups pairwise (float addition is commutative), so the result is bitwise unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

from ltx_core.geometry import TIME_SCALE, latent_frames, latent_size, pixel_size
from ltx_core.model.video_vae.decoder import VideoDecoder
from ltx_core.model.video_vae.encoder import VideoEncoder
from ltx_core.model.video_vae.tiling import Tile, TilingConfig, decode_tiles, encode_tiles

_EPS = 1e-8
TileDecoder = Callable[[int, Tile], torch.Tensor]  # (index in plan order, tile) → decoded pixels of that tile


def _groups(tiles: list[Tile]) -> list[list[Tile]]:
    groups: list[list[Tile]] = []
    for tile in tiles:
        if groups and groups[-1][0].time.out == tile.time.out:
            groups[-1].append(tile)
        else:
            groups.append([tile])
    return groups


def tiled_decode(
    decoder: VideoDecoder,
    latent: torch.Tensor,
    tiling: TilingConfig,
    timestep: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    decode_tile: TileDecoder | None = None,
) -> Iterator[torch.Tensor]:
    """Yield (B, C_out, n_i, 32H', 32W') chunks in the latent's dtype; concatenated they are 8(F'−1)+1 frames.

    Chunks have variable length (a degenerate plan can yield an empty one, as the official code does).
    `decode_tile` replaces the local decode of each tile (distributed decode hands tiles to other processes); the
    blend is the same.
    """
    b, _, _, h, w = latent.shape
    channels = decoder.config.out_channels
    height, width = pixel_size(h), pixel_size(w)
    groups = _groups(decode_tiles(tuple(latent.shape), tiling))
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
            mask = tile.blend_mask(buffer.dtype, buffer.device)
            n = min(decoded.shape[2], length)
            region = (slice(None), slice(None), slice(0, n), tile.height.out, tile.width.out)
            part = decoded[:, :, :n]
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
        chunk = buffer[:, :, :keep] / weights[:, :, :keep].clamp(min=_EPS)
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
