"""`--shard-weights` inside a pipeline: the distilled pipeline on 2 processes (video tokens split over both) with its
transformer blocks sharded between them gives bitwise the latents of the same run with replicated weights, while
each process holds half the block weights (the tiny model's non-block weights, kept whole, are most of it)."""

from __future__ import annotations

from pathlib import Path

import torch

from ltx_core.testing.distributed import run_ranks
from ltx_pipelines.testing.pipeline_runs import parallel_sharded_distilled


def test_sharded_weights_change_no_bit(tiny_sets: dict[str, Path]) -> None:
    ranks = run_ranks(parallel_sharded_distilled, 2, str(tiny_sets["ltx23"]), timeout=300)
    for rank in ranks:
        assert torch.equal(rank["sharded"], rank["replicated"])
        replicated, sharded = rank["held_bytes"].tolist()  # one stage (the distilled pipeline builds one)
        blocks = int(rank["block_bytes"])
        assert abs(replicated - sharded - blocks / 2) <= 0.02 * blocks, (replicated, sharded, blocks)
