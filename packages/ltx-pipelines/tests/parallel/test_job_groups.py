"""`--jobs` with `--processes-per-job 2` on 2 processes (gloo; the distilled command on the tiny files): each job is
really made by both processes together, its transformer the parallel one (the video tokens split over the two:
sequence degree 2; with `--shard-weights`, each process holding half the block weights), and a job that fails on
the first process alone (the file it writes, Gemma's prompt enhancement) fails on both, is reported once, and the
batch goes on with the next job on both: no hang (the harness's timeout), the last job written. One set of
processes serves every test here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from ltx_core.testing.distributed import run_ranks
from ltx_pipelines.testing.batch_runs import GEMMA_FAILURE, WRITE_FAILURE, jobs_made_together


@pytest.fixture(scope="module")
def runs(tiny_sets: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    out = tmp_path_factory.mktemp("job_groups")
    return out, run_ranks(jobs_made_together, 2, str(tiny_sets["ltx23"]), str(out), timeout=300)


def _stderr(rank: dict[str, torch.Tensor], batch: str) -> str:
    return bytes(rank[f"{batch}/stderr"].tolist()).decode()


def test_each_process_builds_the_parallel_transformer(runs: tuple[Path, list[dict]]) -> None:
    out, ranks = runs
    for rank in ranks:
        assert rank["group/degrees"].tolist() == [2], "one transformer for the group's jobs, tokens split in 2"
        assert rank["sharded/degrees"].tolist() == [2]
        replicated, sharded = int(rank["group/block_bytes"]), int(rank["sharded/block_bytes"])
        assert abs(sharded - replicated / 2) <= 0.02 * replicated, (replicated, sharded)
        assert int(rank["sharded/code"]) == 0, _stderr(rank, "sharded")
    assert [p.name for p in (out / "sharded").glob("*.mp4")] == ["0001-seed4-a-cat.mp4"]


def test_a_job_failing_on_the_first_process_alone_fails_once_and_the_batch_goes_on(
    runs: tuple[Path, list[dict]],
) -> None:
    out, ranks = runs
    first, second = (_stderr(rank, "group") for rank in ranks)
    assert [int(rank["group/code"]) for rank in ranks] == [1, 1]  # two jobs failed: both processes say so
    assert first.count(f"error: jobs line 1: {WRITE_FAILURE}") == 1, first
    assert first.count(f"error: jobs line 2: {GEMMA_FAILURE}") == 1, first
    assert "jobs line" not in second and "Traceback" not in first + second, second
    results = [json.loads(line) for line in (out / "group" / "group.results.jsonl").read_text().splitlines()]
    assert [(r["line"], r["status"]) for r in results] == [(1, "failed"), (2, "failed"), (3, "done")]
    assert [p.name for p in (out / "group").iterdir() if p.suffix == ".mp4"] == ["0003-seed3-a-cat-on-a-sofa.mp4"]
