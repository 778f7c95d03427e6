"""Sequence parallelism against the official transformer outputs: every golden transformer case run with its video
tokens split over 2 and 3 gloo processes matches within the single-process float32 tolerance (1e-5 of the output
scale). The tiny checkpoints have 2 heads, so degree 2 runs Ulysses and degree 3 the gathered keys/values path;
odd token counts exercise the padding."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ltx_core.parallel.collectives import Shard, local_part
from ltx_core.parallel.sequence import sequence_parallel_mode
from ltx_core.testing.distributed import run_ranks
from ltx_core.testing.golden import component_cases, load_case, report
from ltx_core.testing.parallel_cases import sequence_parallel_cases
from ltx_core.testing.transformer_cases import case_model, run_case

TOL = 1e-5
CASES = component_cases("transformer_*")


@pytest.mark.parametrize("world", [2, 3])
def test_golden_transformer_cases_split_over_ranks(world: int, golden: Path) -> None:
    if not CASES:
        pytest.skip("no golden transformer cases")
    results = run_ranks(sequence_parallel_cases, world, [str(p) for p in CASES], timeout=300)
    for path in CASES:
        case = load_case(path)
        key = f"{path.parent.name}/{path.stem}"
        for name, expected in case.outputs.items():
            got = results[0][f"{key}.{name}"]
            report(f"{key}.{name} [sequence degree {world}]", got, expected, TOL)
            for other in results[1:]:  # every rank returns the same full output
                assert torch.equal(other[f"{key}.{name}"], got)
        names, blocks = results[0][f"{key}.kernels"].tolist()
        assert blocks > 1 and names <= 2  # one kernel per role, shared by every block (torch.compile: one graph)


@pytest.mark.parametrize("world", [2, 3])
def test_uneven_token_counts_are_padded_and_masked(world: int, golden: Path) -> None:
    """An odd video token count (pads on the last rank; the masked case also slices its attention mask) gives the
    single-process result on the same tokens."""
    paths = [p for p in CASES if p.stem in ("transformer_masked", "transformer_stg_mixed")]
    if not paths:
        pytest.skip("no golden transformer cases")
    tokens = load_case(paths[0]).inputs["video_latent"].shape[1] - 1
    assert tokens % world, "the count must not divide"
    results = run_ranks(sequence_parallel_cases, world, [str(p) for p in paths], tokens, timeout=300)
    for path in paths:
        case = load_case(path)
        expected = run_case(case_model(case, path.parents[2]), case, tokens)
        for name, value in expected.items():
            report(
                f"{path.parent.name}/{path.stem}.{name} [{tokens} tokens, degree {world}]",
                results[0][f"{path.parent.name}/{path.stem}.{name}"],
                value,
                TOL,
            )


def test_shard_arithmetic_by_hand() -> None:
    shards = [Shard(length=7, size=3, rank=r) for r in range(3)]
    assert [(s.start, s.local, s.valid) for s in shards] == [(0, 3, 3), (3, 3, 3), (6, 3, 1)]
    assert shards[0].padded == 9
    x = torch.arange(7.0).reshape(1, 7, 1)
    assert local_part(x, shards[2], dim=1).flatten().tolist() == [6.0, 0.0, 0.0]
    assert local_part(x, shards[2], dim=1, mode="edge").flatten().tolist() == [6.0, 6.0, 6.0]
    assert Shard(length=1, size=3, rank=2).valid == 0


def test_mode_follows_head_divisibility() -> None:
    assert sequence_parallel_mode(heads=32, size=4) == "ulysses"
    assert sequence_parallel_mode(heads=32, size=3) == "gathered"
