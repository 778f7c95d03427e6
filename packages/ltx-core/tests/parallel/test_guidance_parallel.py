"""Guidance parallelism: the rows of a batched x0 call (guidance passes) spread over K groups give bitwise the
single-process `BatchSplitAdapter` result (each chunk is the same computation); with sequence parallelism inside the
groups, the single-process result within the float32 transformer tolerance. Plus the layout arithmetic."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ltx_core.batch_split import BatchSplitAdapter
from ltx_core.errors import InputError
from ltx_core.model.transformer.x0 import X0Model
from ltx_core.parallel.layout import ParallelLayout, check_degrees, check_group_size
from ltx_core.testing.distributed import run_ranks
from ltx_core.testing.golden import component_cases, load_case, report
from ltx_core.testing.parallel_cases import guidance_parallel_cases
from ltx_core.testing.transformer_cases import case_arguments, case_model

NAMES = ("transformer_stg_mixed", "transformer_isolate_modality")
CASES = [p for p in component_cases("transformer_*") if p.stem in NAMES]


def _single_process(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    case = load_case(path)
    video, audio, ptb = case_arguments(case)
    with torch.no_grad():
        return BatchSplitAdapter(X0Model(case_model(case, path.parents[2])), 1)(video, audio, ptb)  # type: ignore[return-value]


@pytest.mark.parametrize(("world", "degree"), [(2, 2), (4, 2)])
def test_passes_spread_over_groups(world: int, degree: int, golden: Path) -> None:
    if not CASES:
        pytest.skip("no golden transformer cases")
    results = run_ranks(guidance_parallel_cases, world, [str(p) for p in CASES], degree, timeout=300)
    for path in CASES:
        expected = dict(zip(("video_x0", "audio_x0"), _single_process(path), strict=True))
        for name, value in expected.items():
            key = f"{path.parent.name}/{path.stem}.{name}"
            for rank_result in results:
                if world == degree:  # guidance parallel alone: the same computations, the same bits
                    assert torch.equal(rank_result[key], value), key
                else:
                    report(f"{key} [world {world}, guidance {degree}]", rank_result[key], value, 1e-5)


def test_layout_arithmetic() -> None:
    layout = ParallelLayout(world_size=6, rank=4, guidance_degree=2)
    assert (layout.sequence_degree, layout.guidance_index, layout.sequence_rank) == (3, 1, 1)
    assert layout.describe() == "6 processes: sequence degree 3 × guidance degree 2, weights replicated"
    assert ParallelLayout().describe() == "single process"


def test_guidance_degree_must_divide_the_world() -> None:
    check_degrees(6, 3)
    with pytest.raises(InputError, match=r"^guidance_degree 4 does not divide the 6 processes; use one of 1, 2, 3, 6$"):
        check_degrees(6, 4)
    check_group_size(8, 2)
    with pytest.raises(InputError, match=r"^group_size 3 does not divide the 8 processes; .* 1, 2, 4, 8$"):
        check_group_size(8, 3)
    with pytest.raises(InputError, match=r"^--cfg-parallel 4 does not divide"):  # the CLI names its flag
        check_degrees(6, 4, name="--cfg-parallel")
