"""`--shard-weights` inside a pipeline: the distilled pipeline on 2 processes (video tokens split over both) with its
transformer blocks sharded between them gives bitwise the latents of the same run with replicated weights, while
each process holds half the block weights (the tiny model's non-block weights, kept whole, are most of it)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ltx_core.testing.distributed import run_ranks
from ltx_core.testing.tiny_checkpoints import make_tiny_checkpoints
from ltx_pipelines.testing.pipeline_runs import parallel_sharded_distilled


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The session-shared tiny set (packages/ltx-pipelines/tests/conftest.py uses the same folder).
    return make_tiny_checkpoints(tmp_path_factory.getbasetemp() / "tiny_sets", ("ltx23",), seed=0)["ltx23"]


def test_sharded_weights_change_no_bit(tiny: Path) -> None:
    ranks = run_ranks(parallel_sharded_distilled, 2, str(tiny), timeout=300)
    for rank in ranks:
        assert torch.equal(rank["sharded"], rank["replicated"])
        replicated, sharded = rank["held_bytes"].tolist()  # one stage (the distilled pipeline builds one)
        blocks = int(rank["block_bytes"])
        assert abs(replicated - sharded - blocks / 2) <= 0.02 * blocks, (replicated, sharded, blocks)
