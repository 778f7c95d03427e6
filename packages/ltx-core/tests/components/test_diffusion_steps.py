import math

import pytest
import torch

from ltx_core.components.diffusion_steps import EulerDiffusionStep, Res2sDiffusionStep, get_sde_coeff
from ltx_core.components.velocity import post_process_latent, to_velocity
from ltx_core.testing.golden import load_case, report


@pytest.fixture(scope="module")
def case(golden):
    return load_case(golden / "cases" / "common" / "euler_step.safetensors")


def test_euler_step_matches_golden(case):
    i = case.inputs
    indices = case.params["step_indices"]
    assert indices
    for k in indices:
        blended = post_process_latent(i["denoised"], i["denoise_mask"], i["clean_latent"])
        report(f"denoised_blended_{k}", blended, case.outputs[f"denoised_blended_{k}"], 1e-6)
        nxt = EulerDiffusionStep().step(i["sample"], blended, i["sigmas"], k)
        report(f"next_sample_{k}", nxt, case.outputs[f"next_sample_{k}"], 1e-5)


def test_euler_step_rounds_velocity_to_bf16():
    torch.manual_seed(0)
    x = torch.randn(1, 16, 8).bfloat16()
    d = torch.randn(1, 16, 8).bfloat16()
    sigmas = torch.tensor([0.9, 0.4])
    v = ((x.float() - d.float()) / 0.9).bfloat16()
    expected = (x.float() + v.float() * (sigmas[1] - sigmas[0])).bfloat16()
    assert torch.equal(EulerDiffusionStep().step(x, d, sigmas, 0), expected)


def test_to_velocity_rejects_zero_sigma():
    with pytest.raises(ValueError):
        to_velocity(torch.ones(1), 0.0, torch.zeros(1))


def test_to_velocity_device_sigma_matches_the_float_bit_for_bit():
    """The samplers pass σ as a 0-d tensor (no host read); same bits as the σ read back as a Python float."""
    torch.manual_seed(0)
    x, x0 = torch.randn(2, 64, 8).bfloat16(), torch.randn(2, 64, 8).bfloat16()
    for value in (0.9, 0.421875, 0.0011, 1 / 3):
        sigma = torch.tensor(value, dtype=torch.float32)
        assert torch.equal(to_velocity(x, sigma, x0), to_velocity(x, float(sigma), x0))


def test_res2s_step_told_the_schedule_outcome_matches_reading_it():
    torch.manual_seed(0)
    x, d, noise = (torch.randn(1, 8, 4, dtype=torch.float64) for _ in range(3))
    for sigmas in (torch.tensor([0.8, 0.5], dtype=torch.float64), torch.tensor([0.5, 0.0], dtype=torch.float64)):
        to_zero = float(sigmas[1]) == 0.0
        told = Res2sDiffusionStep().step(x, d, sigmas, 0, noise, 0.5, to_zero=to_zero)
        assert torch.equal(told, Res2sDiffusionStep().step(x, d, sigmas, 0, noise, 0.5))


def test_sde_coeff_eta_half_closed_form():
    sn = torch.tensor(0.6, dtype=torch.float64)
    alpha, sd, su = get_sde_coeff(sn, sigma_up=sn * 0.5)
    resid = 0.6 * math.sqrt(0.75)
    assert su.item() == pytest.approx(0.3)
    assert alpha.item() == pytest.approx(1 - 0.6 + resid)
    assert sd.item() == pytest.approx(resid / (1 - 0.6 + resid))


def test_res2s_step_returns_denoised_at_zero_sigma():
    x, d = torch.randn(1, 4, 2), torch.randn(1, 4, 2)
    out = Res2sDiffusionStep().step(x, d, torch.tensor([0.5, 0.0]), 0, torch.randn(1, 4, 2))
    assert torch.equal(out, d)


def test_res2s_step_without_noise_lands_on_flow_trajectory():
    # `denoised` is the deterministic target at σn; with zero noise the step re-expresses it at σ_down, scaled
    x0 = torch.randn(1, 6, 3, dtype=torch.float64)
    noise = torch.randn(1, 6, 3, dtype=torch.float64)
    s, sn = 0.8, 0.5
    sample = (1 - s) * x0 + s * noise
    target = (1 - sn) * x0 + sn * noise
    sigmas = torch.tensor([s, sn], dtype=torch.float64)
    out = Res2sDiffusionStep().step(sample, target, sigmas, 0, torch.zeros_like(x0), eta=0.5)
    alpha, sd, _ = get_sde_coeff(sigmas[1], sigma_up=sigmas[1] * 0.5)
    expected = alpha * ((1 - sd) * x0 + sd * noise)
    assert torch.allclose(out, expected, atol=1e-12)
