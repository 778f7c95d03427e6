"""Every item is claimed exactly once across processes; without a store a process takes every item in order."""

from __future__ import annotations

from pathlib import Path

import torch

from ltx_core.parallel.work_queue import claimed
from ltx_core.testing.distributed import run_ranks
from ltx_core.testing.parallel_cases import claims_case


def test_without_a_store_every_item_in_order() -> None:
    assert list(claimed(4)) == [0, 1, 2, 3]


def test_each_item_taken_once_by_some_rank(tmp_path: Path) -> None:
    results = run_ranks(claims_case, 3, str(tmp_path / "store"), 12, timeout=120)
    taken = torch.cat([r["taken"] for r in results if "taken" in r]).tolist()
    assert sorted(taken) == list(range(12))
    assert all(r["taken"].numel() > 0 for r in results), "the work is shared"
