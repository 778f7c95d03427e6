"""`timeout` bounds every exchange and how long a process may be silent, not how long the others wait for one
process's own work: three processes with a 3 s timeout, one of them busy for 7.5 s, then stopped (SIGSTOP) before a
share, then stopped before an all-gather of a sub-group. One set of processes serves every test here."""

from __future__ import annotations

import pytest
import torch

from ltx_core.testing.distributed import run_ranks
from ltx_core.testing.parallel_cases import liveness_case

TIMEOUT = 3.0


@pytest.fixture(scope="module")
def ranks() -> list[dict[str, torch.Tensor]]:
    return run_ranks(liveness_case, 3, TIMEOUT, timeout=180)


def test_a_long_wait_for_the_main_process_is_no_timeout(ranks: list[dict[str, torch.Tensor]]) -> None:
    for rank in ranks[1:]:
        assert rank["busy/lost"].tolist() == [-1] and rank["busy/value"].tolist() == [7.0]
        assert float(rank["busy/seconds"]) >= 2 * TIMEOUT  # waited past the timeout, as long as rank 0 lived


def test_the_others_give_up_on_a_stopped_main_process_and_name_it(ranks: list[dict[str, torch.Tensor]]) -> None:
    for rank in ranks[1:]:
        assert rank["gate/lost"].tolist() == [0]
        assert TIMEOUT <= float(rank["gate/seconds"]) < TIMEOUT + 10  # bound generous for a loaded machine


def test_an_exchange_with_a_stopped_process_fails_and_names_it(ranks: list[dict[str, torch.Tensor]]) -> None:
    for index in (0, 2):
        assert ranks[index]["exchange/lost"].tolist() == [1]
        assert TIMEOUT * 0.9 <= float(ranks[index]["exchange/seconds"]) < TIMEOUT + 10
