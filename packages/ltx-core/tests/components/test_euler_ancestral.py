"""The Euler-ancestral step (spec delta D.1) against the official 1.2.0 (`cases/common/euler_ancestral_step`): every
(eta, s_noise, step) run of the case, raw and masked, float32 within 1e-5 relative; and the spec's reference
coefficients, computed by hand from the formula, for the distilled schedule."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ltx_core.components.diffusion_steps import EulerAncestralDiffusionStep
from ltx_core.components.velocity import post_process_latent
from ltx_core.testing.golden import cases_120, load_case, report

CASES = cases_120("euler_ancestral_step")


@pytest.mark.parametrize("path", CASES or [None], ids=lambda p: p.stem if p else "none")
def test_every_run_of_the_golden_case(path: Path | None) -> None:
    if path is None:
        pytest.skip("no 1.2.0 Euler-ancestral case in the fixture set (MANIFEST_120.json)")
    case = load_case(path)
    inp, out = case.inputs, case.outputs
    mask, clean = inp["denoise_mask"], inp["clean_latent"]
    blended = post_process_latent(inp["denoised"], mask, clean)
    report("denoised_blended", blended, out["denoised_blended"], 1e-5)
    for run in case.params["runs"]:
        stepper = EulerAncestralDiffusionStep(run["eta"], run["s_noise"])
        noise = inp["noise"] if run["eta"] > 0 else None
        got = stepper.step(inp["sample"], blended, inp["sigmas"], run["step_index"], noise)
        name = run["output"]
        report(name, got, out[name], 1e-5)
        if f"{name}_masked" in out:
            report(f"{name}_masked", post_process_latent(got, mask, clean), out[f"{name}_masked"], 1e-5)


def test_terminal_step_returns_the_denoised_and_eta_zero_takes_no_noise() -> None:
    sigmas = torch.tensor([1.0, 0.5, 0.0])
    x, d = torch.randn(1, 4, 2), torch.randn(1, 4, 2)
    assert torch.equal(EulerAncestralDiffusionStep().step(x, d, sigmas, 1, torch.randn(1, 4, 2)), d)
    plain = EulerAncestralDiffusionStep(eta=0.0).step(x, d, sigmas, 0)  # interpolation-form Euler
    assert torch.allclose(plain, 0.5 * x + 0.5 * d)
    with pytest.raises(ValueError, match="needs a noise tensor"):
        EulerAncestralDiffusionStep().step(x, d, sigmas, 0)


def test_reference_coefficients_of_the_distilled_schedule() -> None:
    """Spec D.1's table (σ_down, r, α_next/α_down, c for eta 1): with x = 1, d = 0, n = 0 the step returns
    (α_next/α_down)·r; with x = 0, d = 0, n = 1 it returns c."""
    distilled = (1.0, 0.99375, 0.9875, 0.98125, 0.975, 0.909375, 0.725, 0.421875, 0.0)  # spec D §10.3 stage-1 table
    sigmas = torch.tensor(distilled, dtype=torch.float32)
    table = {0: (0.987538993, 0.501566529, 0.861510634), 4: (0.869914889, 0.596873045, 0.755430937)}
    one, zero = torch.ones(1, 1, 1), torch.zeros(1, 1, 1)
    step = EulerAncestralDiffusionStep()
    for i, (r, alpha, c) in table.items():
        assert step.step(one, zero, sigmas, i, zero).item() == pytest.approx(alpha * r, rel=1e-6)
        assert step.step(zero, zero, sigmas, i, one).item() == pytest.approx(c, rel=1e-6)
