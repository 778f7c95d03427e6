"""The transformer's weight placements inside a pipeline under sequence parallelism: the distilled pipeline on 2
processes (video tokens split over both, Ulysses: the tiny transformer has 2 heads) with its transformer replicated
and resident, its blocks sharded between the processes (`--shard-weights`), streamed from RAM or from the file
(`--offload cpu|disk`, what `--offload auto` picks when the transformer does not fit the card), or as `--offload
auto` decides from the free memory of every process. Every placement gives bitwise the latents of the resident run,
and its frames are the one-process run's within the bound of the sequence-parallel command
(tests/test_torchrun_cli.py: 2 levels; measured 0). One set of processes serves every test here."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ltx_core.testing.distributed import run_ranks
from ltx_pipelines.testing.pipeline_runs import PLACEMENTS, parallel_placed_distilled


@pytest.fixture(scope="module")
def ranks(tiny_sets: dict[str, Path]) -> list[dict[str, torch.Tensor]]:
    return run_ranks(parallel_placed_distilled, 2, str(tiny_sets["ltx23"]), timeout=300)


def test_every_placement_changes_no_bit(ranks: list[dict[str, torch.Tensor]]) -> None:
    for rank in ranks:
        for name, _, _ in PLACEMENTS:
            assert torch.equal(rank[f"{name}/video_latent"], rank["replicated/video_latent"]), name
            assert torch.equal(rank[f"{name}/frames"], ranks[0][f"{name}/frames"]), name  # the same on every process


def test_every_placement_matches_one_process(ranks: list[dict[str, torch.Tensor]]) -> None:
    """Bitwise the one-process run: each process's share of the video tokens keeps the one-process tokens' memory
    layout (under 1.2.0 numerics a channel-major view, on which the CPU bf16 matmul rounds differently)."""
    single = ranks[0]["single/frames"].int()
    for name, _, _ in PLACEMENTS:
        assert torch.equal(ranks[0][f"{name}/video_latent"], ranks[0]["single/video_latent"]), name
        assert (ranks[0][f"{name}/frames"].int() - single).abs().max() <= 2, name


def test_sharded_weights_hold_half_the_blocks(ranks: list[dict[str, torch.Tensor]]) -> None:
    """Each process holds half the block weights (the tiny model's non-block weights, kept whole, are most of it)."""
    for rank in ranks:
        replicated, sharded = rank["held_bytes"].tolist()  # one stage (the distilled pipeline builds one)
        blocks = int(rank["block_bytes"])
        assert abs(replicated - sharded - blocks / 2) <= 0.02 * blocks, (replicated, sharded, blocks)


def test_offload_auto_decides_once_for_every_process(ranks: list[dict[str, torch.Tensor]]) -> None:
    """The last process has no RAM to spare, the first plenty: both stream from the file (what fits the most
    constrained one), and only the first logs the choice (one "offload:" line per streamed or automatic build)."""
    from ltx_core.offload.policy import OffloadMode

    assert [int(rank["auto_mode"]) for rank in ranks] == [list(OffloadMode).index(OffloadMode.DISK)] * 2
    built = sum(offload != "none" for _, _, offload in PLACEMENTS)
    assert [int(rank["offload_lines"]) for rank in ranks] == [built, 0]
