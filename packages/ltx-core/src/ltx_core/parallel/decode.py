"""Distributed video decode: the tiles of a tiled decode are spread over the ranks and blended on rank 0.

Tile i of the plan is decoded on rank i mod N; rank 0 receives the others' tiles in plan order and blends exactly as
`tiled_decode` does in one process, so the frames are bitwise the single-process tiled decode. A decoder that draws
noise (timestep conditioning: off in the released VAEs) needs the draws in plan order from one generator, so it is
decoded on rank 0 alone.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.distributed as dist

from ltx_core.model.video_vae.decoder import VideoDecoder
from ltx_core.model.video_vae.tiled import tiled_decode
from ltx_core.model.video_vae.tiling import Tile, TilingConfig, decode_tiles
from ltx_core.numerics import DEFAULT_NUMERICS, Numerics


def draws_noise(decoder: VideoDecoder) -> bool:
    """True when decoding draws from the generator (timestep conditioning or noise-injecting blocks)."""
    cfg = decoder.config
    return cfg.timestep_conditioning or any(block.inject_noise for block in cfg.blocks)


def _decode(decoder: VideoDecoder, latent: torch.Tensor, tile: Tile) -> torch.Tensor:
    with torch.no_grad():
        return decoder(latent[tile.input_slices()], None, None)


def distributed_tiled_decode(
    decoder: VideoDecoder,
    latent: torch.Tensor,
    tiling: TilingConfig,
    group: dist.ProcessGroup | None = None,
    *,
    timestep: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    numerics: Numerics = DEFAULT_NUMERICS,
) -> Iterator[torch.Tensor]:
    """On the group's first rank: the chunks of `tiled_decode`. On the others: decode their tiles, send them, yield
    nothing. Every rank of `group` must call it with the same latent and tiling."""
    size, rank = dist.get_world_size(group), dist.get_rank(group)
    main = dist.get_global_rank(group, 0) if group is not None else 0
    if draws_noise(decoder) or size == 1:  # noise draws in plan order from one generator: one rank decodes
        if rank == 0:
            yield from tiled_decode(decoder, latent, tiling, timestep, generator, numerics=numerics)
        return
    tiles = decode_tiles(tuple(latent.shape), tiling)
    if rank != 0:
        for index, tile in enumerate(tiles):
            if index % size == rank:
                decoded = _decode(decoder, latent, tile).contiguous()
                dist.send(torch.tensor(decoded.shape, dtype=torch.int64, device=decoded.device), main, group=group)
                dist.send(decoded, main, group=group)
                del decoded
        return

    dtype: list[torch.dtype] = []

    def decode_tile(index: int, tile: Tile) -> torch.Tensor:
        owner = index % size
        if owner == 0:
            decoded = _decode(decoder, latent, tile)
            dtype[:] = [decoded.dtype]
            return decoded
        source = dist.get_global_rank(group, owner) if group is not None else owner
        shape = torch.empty(5, dtype=torch.int64, device=latent.device)
        dist.recv(shape, source, group=group)
        decoded = torch.empty(shape.tolist(), dtype=dtype[0], device=latent.device)  # tile 0 is always rank 0's
        dist.recv(decoded, source, group=group)
        return decoded

    yield from tiled_decode(decoder, latent, tiling, decode_tile=decode_tile, numerics=numerics)
