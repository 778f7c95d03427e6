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
from ltx_core.testing.golden import LTX23_WAVEFORM_SPREAD, GoldenCase, relative_error

BF16_STEP = 2.0**-7  # one bf16 step relative to the value's binade


@dataclass(frozen=True)
class Bf16Steps:
    """A tolerance of `steps` bf16 steps: of each expected element, or (`of_peak`) of the tensor's largest value."""

    steps: float = 1.0
    of_peak: bool = False

    def bound(self, expected: torch.Tensor) -> torch.Tensor | float:
        magnitude = expected.double().abs()
        if self.of_peak:
            return self.steps * BF16_STEP * (magnitude.max().item() if magnitude.numel() else 0.0)
        return self.steps * BF16_STEP * magnitude.clamp(min=2.0**-126)

    def __str__(self) -> str:
        return f"<= {self.steps:g} bf16 step{'s' if self.steps != 1 else ''}{' of peak' if self.of_peak else ''}"


Tolerance = float | Bf16Steps


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
        diff = (actual.double() - expected.double()).abs()
        worst = diff.max().item() if diff.numel() else 0.0
        tol = tolerance(name)
        if isinstance(tol, Bf16Steps):
            ok, label = bool((diff <= tol.bound(expected)).all()), str(tol)
        else:
            ok, label = worst <= tol, f"<= {tol:g}"
        if not ok and name == "audio_waveform" and case.params.get("variant") == "ltx23":
            ok, label = worst <= LTX23_WAVEFORM_SPREAD, f"<= {LTX23_WAVEFORM_SPREAD:g} (LTX-2.3 vocoder spread)"
        print(f"{case.name:>36} {name:<34} max|err| {worst:.3g} rel {relative_error(actual, expected):.3g} "
              f"{'bitwise' if exact else label}")  # fmt: skip
        if not ok:
            failures.append(f"{name}: max|err| {worst:.3g} not {label}")
    assert not failures, "; ".join(failures)
