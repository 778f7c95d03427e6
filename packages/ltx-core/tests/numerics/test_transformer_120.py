"""1.2.0 transformer re-recordings (forward, STG, masked, isolation, audio disabled, LoRA): the model built with the
default numerics (A.1 per-token A↔V AdaLN; A.12 bf16 LoRA fusion) against the official 1.2.0 outputs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ltx_core.model.transformer.loading import load_transformer
from ltx_core.numerics import NUMERICS_1_1_3, NUMERICS_1_2_0
from ltx_core.testing.golden import component_cases_120, golden_dir, load_case, report
from ltx_core.testing.transformer_cases import case_model_loras, run_case

TOL = 1e-5
CASES = component_cases_120("transformer_*")


def test_cases_listed() -> None:
    if not CASES:
        pytest.skip(f"no 1.2.0 transformer cases under {golden_dir()} (the in-repo subset has none)")
    assert {p.stem for p in CASES} >= {"transformer_forward", "transformer_lora"}


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_transformer_case_120(path: Path, golden: Path) -> None:
    case = load_case(path)
    assert case.numerics is NUMERICS_1_2_0
    model = load_transformer(golden / case.params["checkpoint"], loras=case_model_loras(case, golden))
    got = run_case(model, case)
    assert set(case.outputs) <= set(got), f"unhandled outputs {set(case.outputs) - set(got)}"
    for name, expected in case.outputs.items():
        report(f"{path.parent.name}/{path.stem}.{name}", got[name], expected, TOL)


@pytest.mark.parametrize("path", [p for p in CASES if p.stem == "transformer_forward"], ids=["forward"])
def test_1_1_3_numerics_miss_the_120_outputs(path: Path, golden: Path) -> None:
    """The per-token timesteps of the case differ from σ, so the two AdaLN readings must give different outputs."""
    case = load_case(path)
    old = run_case(load_transformer(golden / case.params["checkpoint"], numerics=NUMERICS_1_1_3), case)
    err = (old["video_velocity"] - case.outputs["video_velocity"]).abs().max().item()
    assert err > 1e-3, "1.1.3 numerics reproduce the 1.2.0 output: the case does not exercise A.1"
    assert torch.isfinite(old["video_velocity"]).all()
