"""Distributed video decode: the tiles of a tiled decode are spread over the ranks, and every rank blends them.

Tile i of the plan is decoded on rank i mod N and broadcast from there; every rank then blends the tiles in plan
order exactly as `tiled_decode` does in one process, so each rank yields the same chunks, bitwise the one-process
tiled decode (every process returns the same frames; only one of them writes the file). A decoder that draws noise
(timestep conditioning: off in the released VAEs) needs the draws in plan order from one generator: every rank then
decodes the whole plan itself, from its own generator seeded alike.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.distributed as dist

from ltx_core.model.video_vae.decoder import VideoDecoder
from ltx_core.model.video_vae.diffusion.model import DiffusionVideoDecoder
from ltx_core.model.video_vae.tiled import tiled_decode
from ltx_core.model.video_vae.tiling import Tile, TilingConfig
from ltx_core.numerics import DEFAULT_NUMERICS, Numerics
from ltx_core.parallel.broadcast import broadcast_tensors


def draws_noise(decoder: VideoDecoder | DiffusionVideoDecoder) -> bool:
    """True when decoding draws from the generator (timestep conditioning or noise-injecting blocks; the LTX-2.5
    diffusion decoder always starts from noise)."""
    if isinstance(decoder, DiffusionVideoDecoder):
        return True
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
    transport: torch.device | str | None = None,
    numerics: Numerics = DEFAULT_NUMERICS,
) -> Iterator[torch.Tensor]:
    """The chunks of `tiled_decode`, on every rank of `group`, each rank decoding its share of the tiles. Every rank
    must call it with the same latent and tiling and exhaust it. `transport`: where tiles travel (the latent's device
    by default; the CPU under gloo)."""
    size, rank = dist.get_world_size(group), dist.get_rank(group)
    if draws_noise(decoder) or size == 1:  # noise draws in plan order from one generator: each rank decodes all
        yield from tiled_decode(decoder, latent, tiling, timestep, generator, numerics=numerics)
        return
    via = torch.device(transport) if transport is not None else latent.device

    def decode_tile(index: int, tile: Tile) -> torch.Tensor:
        owner = index % size
        source = dist.get_global_rank(group, owner) if group is not None else owner
        mine = [_decode(decoder, latent, tile)] if owner == rank else None
        (decoded,) = broadcast_tensors(mine, source, group, via)
        return decoded.to(latent.device)

    yield from tiled_decode(decoder, latent, tiling, decode_tile=decode_tile, numerics=numerics)
