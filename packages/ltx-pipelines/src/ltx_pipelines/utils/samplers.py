"""The sampling loops' one signature (k-diffusion style) and the Euler loop every stage runs by default.

A loop is `loop(denoise, state, sigmas, *, callback=None) -> state`:

- `denoise(video_state, audio_state, sigmas, step_index) -> (video_result, audio_result)` is a denoiser with its
  transformer bound (`functools.partial(denoiser, transformer)`); it reads `sigmas.sigmas[step_index]`.
- `state` is a `LoopState(video, audio)` (either may be None: a stage without that modality).
- `sigmas` is a `Schedule`: the float32 sigmas on the states' device (math) and the same values as Python floats
  (control flow), so no step reads a value back from the device.
- `callback(event)` receives a `DenoiserCall` after each denoiser call and a `StepDone` after each step (progress,
  the parity recorder); loops never record anything themselves.

Loop-specific options (`stepper`, res_2s seeds) are keyword arguments after these. The step math is pure
(`ltx_core.components.diffusion_steps`).

A recipe names its loop by a `Sampler` value (`EULER` here, `res2s.RES2S`), never by a flag: `sampler.loop(record)`
is the loop a stage runs, called with the one signature above.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import torch

from ltx_core.components.diffusion_steps import EulerDiffusionStep
from ltx_core.components.velocity import post_process_latent
from ltx_core.types import LatentState
from ltx_pipelines.utils.denoisers import DenoisedLatentResult, DenoiserOutput, Schedule


class LoopState(NamedTuple):
    """The states a loop denoises; None where the stage has no such modality."""

    video: LatentState | None
    audio: LatentState | None


DenoiseFn = Callable[[LatentState | None, LatentState | None, Schedule, int], DenoiserOutput]


@dataclass(frozen=True)
class DenoiserCall:
    """One denoiser call of a loop, as the denoiser saw it (`sigmas`, `step_index`: res_2s midpoint calls see a
    one-value schedule and index 0; `video_in` / `audio_in`: the tokens it was given), and its predictions."""

    sigmas: Schedule
    step_index: int
    video: DenoisedLatentResult | None
    audio: DenoisedLatentResult | None
    video_in: torch.Tensor | None = None
    audio_in: torch.Tensor | None = None


@dataclass(frozen=True)
class StepDone:
    """Step `step_index` of `num_steps` is finished (progress)."""

    step_index: int
    num_steps: int


LoopCallback = Callable[[DenoiserCall | StepDone], None]
StepCallback = Callable[[int, int], None]  # (step_index, num_steps), called after each step (progress)


class Loop(Protocol):
    def __call__(
        self, denoise: DenoiseFn, state: LoopState, sigmas: Schedule, *, callback: LoopCallback | None = None
    ) -> LoopState: ...


@dataclass(frozen=True)
class Sampler:
    """A sampling method as a value: `make_loop(record)` gives the loop a stage runs (`record`, the stage's
    recorder or None, is for a loop that draws noise of its own the golden cases store: res_2s). Recipes hold a
    `Sampler` (`EULER`, `res2s.RES2S`) so that choosing a sampler is choosing a value, with one call signature."""

    name: str
    make_loop: Callable[[Callable[[str, torch.Tensor], None] | None], Loop]

    def loop(self, record: Callable[[str, torch.Tensor], None] | None = None) -> Loop:
        return self.make_loop(record)


def call_tokens(*states: LatentState | None) -> tuple[torch.Tensor | None, ...]:
    """The tokens of each state handed to a denoiser call (None for an absent stream), for `DenoiserCall`."""
    return tuple(None if s is None else s.latent for s in states)


def callbacks(*fns: LoopCallback | None) -> LoopCallback | None:
    """One callback calling each given one in order (None when none is given)."""
    present = [f for f in fns if f is not None]
    if not present:
        return None
    if len(present) == 1:
        return present[0]

    def each(event: DenoiserCall | StepDone) -> None:
        for fn in present:
            fn(event)

    return each


def progress_callback(on_step: StepCallback | None) -> LoopCallback | None:
    """`on_step(step_index, num_steps)` after each step, as a loop callback."""
    if on_step is None:
        return None
    return lambda event: on_step(event.step_index, event.num_steps) if isinstance(event, StepDone) else None


def _advance(
    state: LatentState | None,
    result: DenoisedLatentResult | None,
    stepper: EulerDiffusionStep,
    sigmas: Schedule,
    step_index: int,
) -> LatentState | None:
    if state is None or result is None:
        return state
    denoised = post_process_latent(result.denoised, state.denoise_mask, state.clean_latent)
    return state.with_(latent=stepper.step(state.latent, denoised, sigmas.sigmas, step_index))


def euler_loop(
    denoise: DenoiseFn,
    state: LoopState,
    sigmas: Schedule,
    *,
    callback: LoopCallback | None = None,
    stepper: EulerDiffusionStep | None = None,
) -> LoopState:
    """One denoiser call and one Euler step per sigma interval; video is stepped before audio."""
    stepper = stepper or EulerDiffusionStep()
    video, audio = state
    num_steps = len(sigmas.values) - 1
    if 0.0 in sigmas.values[:-1]:  # checked on the host: the step divides by the device sigma unchecked
        raise ValueError("sigma must be non-zero to convert a denoised sample to a velocity")
    for i in range(num_steps):
        video_result, audio_result = denoise(video, audio, sigmas, i)
        if callback is not None:
            callback(DenoiserCall(sigmas, i, video_result, audio_result, *call_tokens(video, audio)))
        video = _advance(video, video_result, stepper, sigmas, i)
        audio = _advance(audio, audio_result, stepper, sigmas, i)
        if callback is not None:
            callback(StepDone(i, num_steps))
    return LoopState(video, audio)


EULER = Sampler("euler", lambda record: euler_loop)  # first-order Euler steps (every pipeline but HQ)
