"""Replaying a golden end-to-end case through a pipeline and comparing every recorded tensor with the official run.

Each parity test feeds a case's inputs (precomputed contexts, images after the codec round trip, guider settings)
to a pipeline with a recorder, then calls `assert_recorded_match` with its own README tolerances: an absolute
bound, or a number of bf16 steps (of each expected element, or of the tensor's peak).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from ltx_core.components.guiders import MultiModalGuiderParams
from ltx_core.testing.cpu_parity import OtherKernels, parity_for
from ltx_core.testing.golden import LTX23_WAVEFORM_SPREAD, GoldenCase, relative_error

BF16_STEP = 2.0**-7  # one bf16 step relative to the value's binade


@dataclass(frozen=True)
class Bf16Steps:
    """A tolerance of `steps` bf16 steps: of each expected element, or (`of_peak`) of the tensor's largest value.
    With `floor`, elements smaller than `floor` × the peak are held to steps of that size instead of their own (a
    value computed differently near zero can differ by more than its own tiny step)."""

    steps: float = 1.0
    of_peak: bool = False
    floor: float = 0.0

    def bound(self, expected: torch.Tensor) -> torch.Tensor | float:
        magnitude = expected.double().abs()
        peak = magnitude.max().item() if magnitude.numel() else 0.0
        if self.of_peak:
            return self.steps * BF16_STEP * peak
        return self.steps * BF16_STEP * magnitude.clamp(min=max(self.floor * peak, 2.0**-126))

    def __str__(self) -> str:
        of = " of peak" if self.of_peak else f" (floor {self.floor:g} of peak)" if self.floor else ""
        return f"<= {self.steps:g} bf16 step{'s' if self.steps != 1 else ''}{of}"


@dataclass(frozen=True)
class OfPeak:
    """A bound on the worst error as a fraction of the expected tensor's peak (free-running runs on other kernels)."""

    fraction: float

    def bound(self, expected: torch.Tensor) -> float:
        return self.fraction * (expected.double().abs().max().item() if expected.numel() else 0.0)

    def __str__(self) -> str:
        return f"<= {self.fraction:g} of peak"


Tolerance = float | Bf16Steps | OfPeak | OtherKernels


def violations(got: torch.Tensor, expected: torch.Tensor, tolerance: Tolerance) -> list[str]:
    """What of `tolerance` does not hold for `got` against `expected` (empty: within it). 0 means bitwise."""
    if isinstance(tolerance, OtherKernels):
        return tolerance.violations(got, expected)
    if isinstance(tolerance, (int, float)) and tolerance == 0:
        return [] if torch.equal(got.to(expected.dtype), expected) else ["not bitwise equal"]
    diff = (got.double() - expected.double()).abs()
    bound = tolerance.bound(expected) if isinstance(tolerance, (Bf16Steps, OfPeak)) else tolerance
    if bool((diff <= bound).all()):
        return []
    return [f"max|err| {diff.max().item():.3g} not {describe(tolerance)}"]


def describe(tolerance: Tolerance) -> str:
    """A tolerance as the test log shows it."""
    return f"<= {tolerance:g}" if isinstance(tolerance, (int, float)) else str(tolerance)


# Tolerant mode (this CPU runs other kernels than the recording's: `ltx_core.testing.cpu_parity`). A noise draw: the
# vectorised `randn` rounds an occasional bf16 draw the other way. Elementwise loop math on recorded inputs (guidance,
# Euler / res2s updates): fused multiply-adds may round differently, by a step per operation.
DRAW_ON_OTHER_KERNELS = Bf16Steps(1, floor=2.0**-7)
ELEMENTWISE_ON_OTHER_KERNELS = Bf16Steps(2, floor=2.0**-7)


def guider_params(d: Mapping[str, Any]) -> MultiModalGuiderParams:
    """A case's guider settings (`params.video_guider` / `audio_guider`) as `MultiModalGuiderParams`."""
    return MultiModalGuiderParams(
        cfg_scale=d["cfg_scale"],
        stg_scale=d["stg_scale"],
        stg_blocks=tuple(d["stg_blocks"]),
        rescale_scale=d["rescale_scale"],
        modality_scale=d["modality_scale"],
        skip_step=d["skip_step"],
    )


def golden_contexts(inputs: Mapping[str, torch.Tensor], prefix: str = "") -> Any:
    """The case's precomputed `{prefix}video_context` / `audio_context` as `PromptContexts` (its context mask when
    the case stores one, else all ones)."""
    from ltx_core.text_encoders.gemma import PromptContexts

    video = inputs[f"{prefix}video_context"]
    mask = inputs.get(f"{prefix}context_mask")
    mask = torch.ones(video.shape[:2], dtype=torch.int64) if mask is None else mask
    return PromptContexts(video, inputs[f"{prefix}audio_context"], mask)


def recorder() -> tuple[dict[str, torch.Tensor], Callable[[str, torch.Tensor], None]]:
    """(recorded, record): `record(name, tensor)` keeps a detached copy under `name`."""
    recorded: dict[str, torch.Tensor] = {}
    return recorded, lambda name, tensor: recorded.__setitem__(name, tensor.detach().clone())


def assert_recorded_match(
    case: GoldenCase, got: Mapping[str, torch.Tensor], tolerance: Callable[[str], Tolerance]
) -> None:
    """Every golden output was recorded with its shape and lies within `tolerance(name)`; integer and boolean
    tensors must be equal. Prints one line per tensor (worst absolute and relative error) for the test log."""
    missing = sorted(set(case.outputs) - set(got))
    assert not missing, f"not recorded: {missing}"
    failures = []
    for name, expected in sorted(case.outputs.items()):
        actual = got[name].cpu()
        assert actual.shape == expected.shape, f"{name}: shape {tuple(actual.shape)} != {tuple(expected.shape)}"
        exact = torch.equal(actual.to(expected.dtype), expected)
        if not expected.is_floating_point():
            print(f"{case.name:>36} {name:<34} {'equal' if exact else 'DIFFERENT'}")
            failures += [] if exact else [f"{name}: differs"]
            continue
        worst = (actual.double() - expected.double()).abs().max().item() if expected.numel() else 0.0
        tol = tolerance(name)
        found = violations(actual, expected, tol)
        label = describe(tol)
        if found and name == "audio_waveform" and case.params.get("variant") == "ltx23":
            found = violations(actual, expected, max(LTX23_WAVEFORM_SPREAD, tol) if isinstance(tol, float) else tol)
            label = f"<= {LTX23_WAVEFORM_SPREAD:g} (LTX-2.3 vocoder spread)" if isinstance(tol, float) else label
        rel = relative_error(actual, expected)
        print(f"{case.name:>36} {name:<34} max|err| {worst:.3g} rel {rel:.3g} {'bitwise' if exact else label}")
        if found:
            failures.append(f"{name}: {'; '.join(found)}")
    assert not failures, "; ".join(failures)


def assert_close(label: str, got: torch.Tensor, expected: torch.Tensor, tolerance: Tolerance) -> None:
    """`got` equals `expected` (tolerance 0), or lies within `tolerance`."""
    assert got.shape == expected.shape, f"{label}: shape {tuple(got.shape)} != {tuple(expected.shape)}"
    found = violations(got, expected, tolerance)
    assert not found, f"{label}: {'; '.join(found)}"


# Free-running tolerant mode: a whole pipeline on other kernels than the recording's. A one-ulp difference in one
# call grows through every later step, and the guidance scales amplify it: guided outputs then differ by the order
# of the values themselves, so these bounds check little more than the order of magnitude (next to the exact
# positions, masks, sigmas and skips, and the draws); the teacher-forced tests hold each call and component tightly.
# Measured worst (docs/parity.md), the simulated foreign host against `e2e_avx2/` and `e2e/`, AVX-512 against
# `e2e_avx2/`: guided pipelines 0.57 of the peak (the upsampled latent of the guided i2v case; tokens 0.10, frames
# 0.25); unguided 0.054 (upsampled latent), 0.066 (frames); waveforms 0.18 (the LTX-2.3 vocoder amplifies).
EXACT_ON_ANY_CPU = ("_positions", "_denoise_mask", "_attention_mask", "sigmas", "_sigma", "_step_index", "_skipped")
FREE_RUNNING_GUIDED, FREE_RUNNING_UNGUIDED, FREE_RUNNING_WAVEFORM = OfPeak(1.2), OfPeak(0.15), OfPeak(0.35)


def free_running_on_other_kernels(case: GoldenCase) -> Callable[[str], Tolerance]:
    """The tolerance of each recorded tensor of a whole pipeline run on other kernels than the case's recording."""
    guided = any(k.endswith(("_calls_video_cond", "_calls_audio_cond")) for k in case.outputs)  # T2A: audio only

    def tolerance(name: str) -> Tolerance:
        if name.endswith(EXACT_ON_ANY_CPU) or name in ("reference_latent_mask", "reference_attention_weights"):
            return 0.0
        if name.endswith("_noise") or "_sde_noise_" in name:  # the draws (not the noised or denoised tokens)
            return DRAW_ON_OTHER_KERNELS
        if "pixels" in name:
            return Bf16Steps(1, of_peak=True)
        if name.endswith("_mel"):
            return OfPeak(1e-5)
        if name == "audio_waveform":
            return FREE_RUNNING_WAVEFORM
        return FREE_RUNNING_GUIDED if guided else FREE_RUNNING_UNGUIDED

    return tolerance


def parity_tolerance(case: GoldenCase, strict: Callable[[str], Tolerance]) -> Callable[[str], Tolerance]:
    """`strict` (the test's own bounds) when this process runs the recording's kernels, else the free-running
    bounds for other kernels (`ltx_core.testing.cpu_parity.parity_for`)."""
    return strict if parity_for(case).strict else free_running_on_other_kernels(case)
