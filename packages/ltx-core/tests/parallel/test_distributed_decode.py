"""Distributed decode: the tiles spread over 2 and 3 gloo processes, blended on every rank, give bitwise the
single-process tiled decode (the golden tiled case and a random latent with more tiles; the LTX-2.5 diffusion
decoder's two noise variants)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ltx_core.model.video_vae import DiffusionVideoDecoder, load_video_decoder
from ltx_core.model.video_vae.diffusion.tiling import plan_tiles, tiled_diffusion_decode
from ltx_core.model.video_vae.tiled import tiled_decode
from ltx_core.model.video_vae.tiling import decode_tiles
from ltx_core.testing.distributed import run_ranks
from ltx_core.testing.golden import cases_120, component_cases, golden_dir, load_case
from ltx_core.testing.parallel_cases import (
    decode_case_latent,
    decode_case_tiling,
    diffusion_case_tiling,
    distributed_decode_case,
    distributed_diffusion_decode,
)

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


DIFFUSION_TILED = cases_120("diffvae_decode_tiled_spatial_*")  # 4 tiles: two rounds on 2 processes
DIFFUSION_FILES = ("ltx25_tiny.safetensors", "ltx25_dvae_x0_tiny.safetensors")  # v (one draw), x0 (a draw per tile)


def test_diffusion_decoder_tiles_over_ranks_are_bitwise_the_tiled_decode() -> None:
    """LTX-2.5: both noise variants spread over 2 processes give bitwise the one-process tiled decode, and leave the
    generator where one process leaves it (the x0 variant draws every tile's noise on every process)."""
    files = [golden_dir() / name for name in DIFFUSION_FILES]
    if not DIFFUSION_TILED or not all(f.is_file() for f in files):
        pytest.skip("no LTX-2.5 tiled diffusion-decoder cases or files")
    case = load_case(DIFFUSION_TILED[0])
    tiling = diffusion_case_tiling([case.params])
    latent, seed = case.inputs["latent"], case.params["generator_seed"]
    world = 2
    results = run_ranks(
        distributed_diffusion_decode,
        world,
        [str(f) for f in files],
        str(DIFFUSION_TILED[0]),
        [str(p) for p in DIFFUSION_TILED],
        timeout=300,
    )
    for path in files:
        decoder = load_video_decoder(path)
        assert isinstance(decoder, DiffusionVideoDecoder)
        padded, _ = decoder.pad_latent(latent)
        assert len(plan_tiles(decoder, decoder.s4_shape(tuple(padded.shape)), tiling).tiles) > world
        generator = torch.Generator().manual_seed(seed)
        expected = torch.cat(list(tiled_diffusion_decode(decoder, latent, tiling, generator)), dim=2)
        after = torch.randn(4, generator=generator)
        for rank, result in enumerate(results):
            assert torch.equal(result[f"{path.stem}.video"], expected), f"{path.stem}, rank {rank}"
            assert torch.equal(result[f"{path.stem}.after"], after), f"{path.stem}, rank {rank}"
