"""A pipeline's tiled video decode over 2 processes: each rank decodes its share of the tiles and both blend them, so
both get the frames (and the audio), bitwise the one-process run."""

from __future__ import annotations

import pytest
import torch

from ltx_core.model.video_vae import TilingConfig
from ltx_core.model.video_vae.tiling import SpatialTilingConfig
from ltx_core.testing.distributed import run_ranks
from ltx_pipelines.testing.pipeline_runs import parallel_tiled_distilled, run_tiled_distilled

TILE = 64  # px: several tiles on the 128 x 192 output


def test_tiles_spread_over_two_processes() -> None:
    _check_against_one_process("cpu")


@pytest.mark.gpu
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 GPUs")
def test_tiles_and_passes_spread_over_two_gpus_with_nccl() -> None:
    """The same over NCCL, one GPU per process (the contexts, the tiling choice, the x0 gathers and the tiles travel
    between GPUs)."""
    _check_against_one_process("cuda")


def _check_against_one_process(device: str) -> None:
    backend = "nccl" if device == "cuda" else "gloo"
    ranks = run_ranks(parallel_tiled_distilled, 2, TILE, device, timeout=300, backend=backend)
    alone = run_tiled_distilled(
        TilingConfig(SpatialTilingConfig(TILE, 32), None), device="cuda:0" if backend == "nccl" else "cpu"
    )
    assert torch.equal(ranks[0]["video_latent"], alone["video_latent"])
    assert torch.equal(ranks[1]["video_latent"], alone["video_latent"])
    for rank in ranks:  # every process returns the same result
        assert torch.equal(rank["frames"], alone["frames"])
        assert torch.equal(rank["audio"], alone["audio"])
