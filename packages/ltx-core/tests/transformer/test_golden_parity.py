"""Golden parity of the transformer (velocity and x0) for every transformer case on disk, loaded through
`load_transformer` (LoRA cases with the case's LoRA file and strength)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ltx_core.testing.golden import component_cases, golden_dir, load_case, report
from ltx_core.testing.transformer_cases import case_model, run_case

TOL = 1e-5


def _case_paths() -> list[Path]:
    return component_cases("transformer_*")


CASES = _case_paths()


@pytest.mark.parametrize("path", CASES, ids=[f"{p.parent.name}/{p.stem}" for p in CASES])
def test_transformer_case(path: Path, golden: Path) -> None:
    case = load_case(path)
    got = run_case(case_model(case, golden), case)
    assert set(case.outputs) <= set(got), f"unhandled outputs {set(case.outputs) - set(got)}"
    for name, expected in case.outputs.items():
        assert got[name] is not None
        report(f"{path.parent.name}/{path.stem}.{name}", got[name], expected, TOL)


@pytest.mark.parametrize("variant", sorted({p.parent.name for p in CASES}))
def test_math_kernel_matches_sdpa(variant: str, golden: Path) -> None:
    case = load_case(golden / "cases" / variant / "transformer_masked.safetensors")
    model = case_model(case, golden)
    model.set_attention_kernel("math")
    got = run_case(model, case)
    for name, expected in case.outputs.items():
        report(f"{variant}/masked[math].{name}", got[name], expected, TOL)


def test_cases_found() -> None:
    if not golden_dir().exists():
        pytest.skip("no golden fixtures")
    assert CASES, "no transformer cases found under the golden dir"
