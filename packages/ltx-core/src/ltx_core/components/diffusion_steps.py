"""One-step update rules of the samplers (Euler and the res_2s SDE step)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ltx_core.components.velocity import to_velocity


@dataclass(frozen=True)
class EulerDiffusionStep:
    """x_{i+1} = x + v·(σ_{i+1} − σ_i), with v rounded to the sample dtype first (as official)."""

    def step(self, sample: torch.Tensor, denoised: torch.Tensor, sigmas: torch.Tensor, step_index: int) -> torch.Tensor:
        sigma = sigmas[step_index]
        sigma_next = sigmas[step_index + 1]
        dt = sigma_next - sigma
        velocity = to_velocity(sample, sigma, denoised)
        return (sample.to(torch.float32) + velocity.to(torch.float32) * dt).to(sample.dtype)


def get_sde_coeff(
    sigma_next: torch.Tensor,
    sigma_up: torch.Tensor | None = None,
    sigma_down: torch.Tensor | None = None,
    sigma_max: torch.Tensor | float | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(alpha_ratio, sigma_down, sigma_up) of an ancestral step to σ_next in the flow parameterisation."""
    if sigma_down is not None:
        alpha_ratio = (1 - sigma_next) / (1 - sigma_down)
        sigma_up = (sigma_next**2 - sigma_down**2 * alpha_ratio**2).clamp(min=0).sqrt()
    elif sigma_up is not None:
        sigma_up = torch.minimum(sigma_up, 0.9999 * sigma_next)
        smax = 1 if sigma_max is None else sigma_max
        sigma_signal = smax - sigma_next
        sigma_residual = (sigma_next**2 - sigma_up**2).clamp(min=0).sqrt()
        alpha_ratio = sigma_signal + sigma_residual
        sigma_down = sigma_residual / alpha_ratio
    else:
        alpha_ratio = torch.ones_like(sigma_next)
        sigma_down = sigma_next
        sigma_up = torch.zeros_like(sigma_next)
    sigma_up = torch.nan_to_num(sigma_up, nan=0.0)
    sigma_down = torch.where(torch.isnan(sigma_down), sigma_next, sigma_down)
    alpha_ratio = torch.nan_to_num(alpha_ratio, nan=1.0)
    return alpha_ratio, sigma_down, sigma_up


@dataclass(frozen=True)
class Res2sDiffusionStep:
    """SDE re-noising step of the res_2s sampler: deterministic part towards σ_down plus σ_up·noise."""

    def step(
        self,
        sample: torch.Tensor,
        denoised: torch.Tensor,
        sigmas: torch.Tensor,
        step_index: int,
        noise: torch.Tensor,
        eta: float = 0.5,
        *,
        to_zero: bool | None = None,
    ) -> torch.Tensor:
        """`to_zero`: whether σ_next or σ_up is 0 (the step then returns `denoised`), when the caller knows it from
        the host-side schedule; None reads it from the tensors (a host sync on an accelerator)."""
        sigma = sigmas[step_index]
        sigma_next = sigmas[step_index + 1]
        alpha_ratio, sigma_down, sigma_up = get_sde_coeff(sigma_next, sigma_up=sigma_next * eta)
        if to_zero is None:
            to_zero = bool(torch.any(sigma_up == 0) or torch.any(sigma_next == 0))
        if to_zero:
            return denoised
        eps = (sample - denoised) / (sigma - sigma_next)
        x0 = sample - sigma * eps
        x = alpha_ratio * (x0 + sigma_down * eps) + sigma_up * noise
        return x.to(denoised.dtype)


@dataclass(frozen=True)
class EulerAncestralDiffusionStep:
    """The Euler-ancestral step (spec delta D.1; LTX-2.5 distilled stage 1): a deterministic move to
    σ_down = σ_next·(1 + (σ_next/σ − 1)·eta) in interpolation form, then fresh noise scaled to reach σ_next.
    In float32, returned in the sample's dtype; eta 0 is a plain Euler step and takes no noise."""

    eta: float = 1.0
    s_noise: float = 1.0

    def step(
        self,
        sample: torch.Tensor,
        denoised: torch.Tensor,
        sigmas: torch.Tensor,
        step_index: int,
        noise: torch.Tensor | None = None,
        *,
        terminal: bool | None = None,
    ) -> torch.Tensor:
        """`terminal`: whether σ_next is 0 (the step then returns `denoised`), when the caller knows it from the
        host-side schedule; None reads it from the tensor (a host sync on an accelerator)."""
        if self.eta > 0 and noise is None:
            raise ValueError("the Euler-ancestral step with eta > 0 needs a noise tensor")
        sigma = sigmas[step_index].to(torch.float32)
        sigma_next = sigmas[step_index + 1].to(torch.float32)
        if terminal is None:
            terminal = bool(sigma_next == 0)
        if terminal:
            return denoised.to(sample.dtype)
        x, d = sample.to(torch.float32), denoised.to(torch.float32)
        ratio = 1.0 + (sigma_next / sigma - 1.0) * self.eta
        sigma_down = sigma_next * ratio
        r = sigma_down / sigma
        out = r * x + (1.0 - r) * d
        if self.eta > 0:
            assert noise is not None
            alpha_next, alpha_down = 1.0 - sigma_next, 1.0 - sigma_down
            c = torch.clamp(sigma_next**2 - ((sigma_down**2 * alpha_next**2) / alpha_down**2), min=0) ** 0.5
            out = (alpha_next / alpha_down) * out + ((noise.to(torch.float32) * self.s_noise) * c)
        return out.to(sample.dtype)
