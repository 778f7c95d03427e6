"""A pipeline's tiled video decode over 2 processes: the tiles are decoded on both ranks and blended on rank 0, which
alone gets the frames (the other rank's iterator yields nothing but must be read); bitwise the one-process run."""

from __future__ import annotations

import torch

from ltx_core.model.video_vae import TilingConfig
from ltx_core.model.video_vae.tiling import SpatialTilingConfig
from ltx_core.testing.distributed import run_ranks
from ltx_pipelines.testing.pipeline_runs import parallel_tiled_distilled, run_tiled_distilled

TILE = 64  # px: several tiles on the 128 x 192 output


def test_tiles_spread_over_two_processes() -> None:
    ranks = run_ranks(parallel_tiled_distilled, 2, TILE, timeout=300)
    alone = run_tiled_distilled(TilingConfig(SpatialTilingConfig(TILE, 32), None))
    assert torch.equal(ranks[0]["video_latent"], alone["video_latent"])
    assert torch.equal(ranks[1]["video_latent"], alone["video_latent"])
    assert torch.equal(ranks[0]["frames"], alone["frames"])
    assert "frames" not in ranks[1]
