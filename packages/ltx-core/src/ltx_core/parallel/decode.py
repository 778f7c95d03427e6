"""Distributed video decode: the tiles of a tiled decode are spread over the ranks, and every rank blends them.

The plan's tiles go in rounds of N (the group size): in each round rank r decodes tile r of the round, all at once,
then each tile is broadcast from its rank; every rank then blends the tiles in plan order exactly as `tiled_decode`
does in one process, so each rank yields the same chunks, bitwise the one-process tiled decode (every process
returns the same frames; only one of them writes the file). A rank holds at most one round of decoded tiles.

The LTX-2.5 diffusion decoder starts from noise: its v variant draws once at the work shape before any tile, on
every rank from its generator seeded alike, and each tile crops it; its one-step x0 variant draws per tile, so every
rank draws every tile's noise in plan order (keeping the generators in step) and decodes only its own. Its automatic
tiling depends on each rank's free memory, so the first rank's plan is used everywhere. A conv decoder that draws
noise (timestep conditioning: off in the released VAEs) draws in its blocks, tile by tile: every rank then decodes
the whole plan itself, from its own generator seeded alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
import torch.distributed as dist

from ltx_core.model.video_vae.decoder import VideoDecoder
from ltx_core.model.video_vae.diffusion.model import DiffusionVideoDecoder
from ltx_core.model.video_vae.diffusion.tiling import tiled_diffusion_decode
from ltx_core.model.video_vae.tiled import tiled_decode
from ltx_core.model.video_vae.tiling import Tile, TileSizeConfig, TilingConfig, decode_tiles
from ltx_core.numerics import DEFAULT_NUMERICS, Numerics
from ltx_core.parallel.broadcast import broadcast_tensors


def draws_noise(decoder: VideoDecoder | DiffusionVideoDecoder) -> bool:
    """True when decoding draws from the generator (timestep conditioning or noise-injecting blocks; the LTX-2.5
    diffusion decoder always starts from noise, drawn so that its tiles still spread)."""
    if isinstance(decoder, DiffusionVideoDecoder):
        return True
    cfg = decoder.config
    return cfg.timestep_conditioning or any(block.inject_noise for block in cfg.blocks)


def _decode(decoder: VideoDecoder, latent: torch.Tensor, tile: Tile) -> torch.Tensor:
    with torch.no_grad():
        return decoder(latent[tile.input_slices()], None, None)


def _global(group: dist.ProcessGroup | None, rank: int) -> int:
    return dist.get_global_rank(group, rank) if group is not None else rank


def in_rounds(
    tiles: Sequence[Any],
    start: Callable[[Any], torch.Tensor | None],
    local: Callable[[Any, torch.Tensor | None], torch.Tensor],
    group: dist.ProcessGroup | None,
    transport: torch.device,
    device: torch.device,
) -> Callable[[int, Any], torch.Tensor]:
    """The per-tile decode a blend calls in plan order: at the first tile of each round of N, every rank draws the
    round's starts in order (`start`: a tile's noise, or None), decodes its own tile (`local`), and the round's tiles
    are broadcast from their ranks."""
    size, rank = dist.get_world_size(group), dist.get_rank(group)
    ready: dict[int, torch.Tensor] = {}

    def decode_tile(index: int, _: Any) -> torch.Tensor:
        if index not in ready:
            round_ = tiles[index : index + size]
            starts = [start(tile) for tile in round_]  # every rank, every tile: the generators stay in step
            mine = local(round_[rank], starts[rank]) if rank < len(round_) else None
            for owner in range(len(round_)):
                (decoded,) = broadcast_tensors(
                    [mine] if owner == rank else None, _global(group, owner), group, transport
                )
                ready[index + owner] = decoded.to(device)
            del mine, starts
        return ready.pop(index)

    return decode_tile


def agreed_tiling(
    tiling: TilingConfig | TileSizeConfig, group: dist.ProcessGroup | None, transport: torch.device
) -> TileSizeConfig:
    """The group's first rank's tile sizes, on every rank (an automatic plan reads each rank's free memory)."""
    sizes = TileSizeConfig.of(tiling)
    mine = [torch.tensor([*sizes.frames, *sizes.height, *sizes.width], dtype=torch.int64)]
    (agreed,) = broadcast_tensors(mine if dist.get_rank(group) == 0 else None, _global(group, 0), group, transport)
    v = [int(x) for x in agreed.tolist()]
    return TileSizeConfig((v[0], v[1]), (v[2], v[3]), (v[4], v[5]))


def distributed_tiled_decode(
    decoder: VideoDecoder | DiffusionVideoDecoder,
    latent: torch.Tensor,
    tiling: TilingConfig | TileSizeConfig,
    group: dist.ProcessGroup | None = None,
    *,
    timestep: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    transport: torch.device | str | None = None,
    numerics: Numerics = DEFAULT_NUMERICS,
) -> Iterator[torch.Tensor]:
    """The chunks of `tiled_decode`, on every rank of `group`, each rank decoding its share of the tiles. Every rank
    must call it with the same latent, tiling and generator state and exhaust it. `transport`: where tiles travel
    (the latent's device by default; the CPU under gloo)."""
    size = dist.get_world_size(group)
    via = torch.device(transport) if transport is not None else latent.device
    if isinstance(decoder, DiffusionVideoDecoder):
        if size == 1:
            yield from tiled_diffusion_decode(decoder, latent, tiling, generator)
            return
        device = next(decoder.parameters()).device

        def spread(tiles: Sequence[Any], start: Any, local: Any) -> Callable[[int, Any], torch.Tensor]:
            return in_rounds(tiles, start, local, group, via, device)

        agreed = agreed_tiling(tiling, group, via)
        yield from tiled_diffusion_decode(decoder, latent, agreed, generator, spread=spread)
        return
    if draws_noise(decoder) or size == 1:  # noise drawn tile by tile inside the blocks: each rank decodes all
        yield from tiled_decode(decoder, latent, tiling, timestep, generator, numerics=numerics)
        return
    tiles = decode_tiles(tuple(latent.shape), tiling)

    def local(tile: Tile, _: torch.Tensor | None) -> torch.Tensor:
        return _decode(decoder, latent, tile)

    decode_tile = in_rounds(tiles, lambda _: None, local, group, via, latent.device)
    yield from tiled_decode(decoder, latent, tiling, decode_tile=decode_tile, numerics=numerics)
