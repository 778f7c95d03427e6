"""Distributed decode: the tiles spread over 2 and 3 gloo processes, blended on rank 0, give bitwise the
single-process tiled decode (the golden tiled case and a random latent with more tiles)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ltx_core.model.video_vae import load_video_decoder
from ltx_core.model.video_vae.tiled import tiled_decode
from ltx_core.model.video_vae.tiling import decode_tiles
from ltx_core.testing.distributed import run_ranks
from ltx_core.testing.golden import component_cases, load_case
from ltx_core.testing.parallel_cases import decode_case_latent, decode_case_tiling, distributed_decode_case

CASES = component_cases("video_vae_decode_tiled")


@pytest.mark.parametrize(("world", "seed"), [(2, None), (3, None), (3, 0)])
def test_tiles_over_ranks_are_bitwise_the_tiled_decode(world: int, seed: int | None, golden: Path) -> None:
    if not CASES:
        pytest.skip("no golden tiled-decode case")
    path = CASES[0]
    case = load_case(path)
    latent, tiling = decode_case_latent(case, seed), decode_case_tiling(case)
    assert len(decode_tiles(tuple(latent.shape), tiling)) > world, "every rank should get a tile"
    decoder = load_video_decoder(path.parents[2] / case.params["checkpoint"])
    with torch.no_grad():
        expected = torch.cat(list(tiled_decode(decoder, latent, tiling, numerics=case.numerics)), dim=2)
    results = run_ranks(distributed_decode_case, world, str(path), seed, timeout=300)
    for rank, result in enumerate(results):  # every rank returns the frames (each decoded only its share)
        assert torch.equal(result["video"], expected), f"rank {rank}"
