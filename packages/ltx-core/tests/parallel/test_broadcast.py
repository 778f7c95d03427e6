"""Contexts and text from rank 0 reach every rank bit for bit; a tensor the broadcast cannot carry and differing
arguments are refused on every rank alike, the arguments naming the first that differs."""

from __future__ import annotations

import torch

from ltx_core.testing.distributed import run_ranks
from ltx_core.testing.parallel_cases import broadcast_case


def test_rank_0_tensors_and_text_reach_every_rank() -> None:
    results = run_ranks(broadcast_case, 3, 7, timeout=120)
    g = torch.Generator().manual_seed(7)
    expected = [torch.randn(2, 3, generator=g).bfloat16(), torch.arange(5), torch.ones(1, 4, dtype=torch.bool)]
    for result in results:
        for i, tensor in enumerate(expected):
            assert result[f"t{i}"].dtype == tensor.dtype and torch.equal(result[f"t{i}"], tensor)
        assert int(result["text_ok"]) == 1
        assert int(result["refused_dtype"]) == 1 and int(result["refused_dims"]) == 1  # every rank, none hangs
        assert int(result["refused"]) == 1  # every rank, rank 0 included, refuses
        message = bytes(result["arguments"].tolist()).decode()
        assert message == "--seed differs between the processes: 10 on ranks 0, 1; 12345 on rank 2; start them alike"
