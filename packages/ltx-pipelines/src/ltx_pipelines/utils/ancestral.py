"""The Euler-ancestral sampling loop (spec delta D.2): the LTX-2.5 distilled stage 1 (eta 1) and DFR's temporal
refinement rounds (eta 0.5).

Each step: one denoiser call, the x0 blended with the clean tokens in float32 (kept float32, unlike the Euler loop),
then per stream (video, then audio) a fresh noise draw from the loop's own generator (seeded `noise_seed`,
independent of the pipeline's) and the ancestral step (`ltx_core.components.diffusion_steps`), the conditioning
tokens restored in float32, the latent rounded to `model_dtype`. The last step (σ_next = 0) takes the x0.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch

from ltx_core.components.diffusion_steps import EulerAncestralDiffusionStep
from ltx_core.components.velocity import post_process_latent
from ltx_core.types import LatentState
from ltx_pipelines.utils.denoisers import DenoisedLatentResult, Schedule
from ltx_pipelines.utils.samplers import (
    DenoiseFn,
    DenoiserCall,
    LoopCallback,
    LoopState,
    Sampler,
    StepDone,
    call_tokens,
)

NoiseFn = Callable[[torch.Tensor, torch.Generator], torch.Tensor]  # (latent, generator) → one draw


def draw_like(latent: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One draw of the latent's shape, dtype and device (the official default noise function)."""
    return torch.randn(latent.shape, dtype=latent.dtype, device=latent.device, generator=generator)


def euler_ancestral_loop(
    denoise: DenoiseFn,
    state: LoopState,
    sigmas: Schedule,
    *,
    callback: LoopCallback | None = None,
    stepper: EulerAncestralDiffusionStep | None = None,
    noise_seed: int = -1,
    noise_fn: NoiseFn = draw_like,
    model_dtype: torch.dtype = torch.bfloat16,
) -> LoopState:
    """The loop of the module docstring; `noise_fn` draws each step's noise from the loop's generator (on the device
    of the first present stream, video first)."""
    stepper = stepper or EulerAncestralDiffusionStep()
    if not isinstance(stepper, EulerAncestralDiffusionStep):
        raise ValueError(f"the Euler-ancestral loop needs an EulerAncestralDiffusionStep, got {type(stepper).__name__}")
    video, audio = state
    first = video if video is not None else audio
    assert first is not None, "a loop needs at least one stream"
    generator = torch.Generator(device=first.latent.device).manual_seed(noise_seed)
    num_steps = len(sigmas.values) - 1
    for i in range(num_steps):
        video_result, audio_result = denoise(video, audio, sigmas, i)
        if callback is not None:
            callback(DenoiserCall(sigmas, i, video_result, audio_result, *call_tokens(video, audio)))
        terminal = sigmas.values[i + 1] == 0.0
        blended = [_blended(s, r) for s, r in ((video, video_result), (audio, audio_result))]
        video, audio = (
            _stepped(s, d, stepper, sigmas, i, terminal, generator, noise_fn, model_dtype)
            for s, d in zip((video, audio), blended, strict=True)
        )
        if callback is not None:
            callback(StepDone(i, num_steps))
        if terminal:
            break
    return LoopState(video, audio)


def _blended(state: LatentState | None, result: DenoisedLatentResult | None) -> torch.Tensor | None:
    """The x0 with the conditioning tokens restored, in float32 (None: the stream keeps its latent this step)."""
    if state is None or result is None:
        return None
    return post_process_latent(result.denoised.float(), state.denoise_mask, state.clean_latent)


def _stepped(
    state: LatentState | None,
    denoised: torch.Tensor | None,
    stepper: EulerAncestralDiffusionStep,
    sigmas: Schedule,
    i: int,
    terminal: bool,
    generator: torch.Generator,
    noise_fn: NoiseFn,
    model_dtype: torch.dtype,
) -> LatentState | None:
    if state is None or denoised is None:
        return state
    if terminal:
        return state.with_(latent=denoised.to(model_dtype))
    noise = noise_fn(state.latent, generator) if stepper.eta > 0 else None
    x = stepper.step(state.latent.float(), denoised, sigmas.sigmas, i, noise, terminal=False)
    if stepper.eta > 0:
        x = post_process_latent(x, state.denoise_mask, state.clean_latent)
    return state.with_(latent=x.to(model_dtype))


@dataclass(frozen=True)
class EulerAncestralLoop:
    """`euler_ancestral_loop` with a stage's settings, as a `DiffusionStage` loop; with a recorder, also records the
    noise it draws (`ancestral_noise_{video,audio}`: one per non-terminal step, as the golden cases store them)."""

    noise_seed: int
    eta: float = 1.0
    s_noise: float = 1.0
    record: Callable[[str, torch.Tensor], None] | None = None

    def __call__(
        self, denoise: DenoiseFn, state: LoopState, sigmas: Schedule, *, callback: LoopCallback | None = None
    ) -> LoopState:
        drawn: list[torch.Tensor] = []

        def noise(latent: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
            z = draw_like(latent, generator)
            drawn.append(z)
            return z

        out = euler_ancestral_loop(
            denoise,
            state,
            sigmas,
            callback=callback,
            stepper=EulerAncestralDiffusionStep(self.eta, self.s_noise),
            noise_seed=self.noise_seed,
            noise_fn=draw_like if self.record is None else noise,
        )
        if self.record is not None and drawn:
            names = [n for n, s in (("video", state.video), ("audio", state.audio)) if s is not None]
            for name, draws in zip(names, _per_stream(drawn, len(names)), strict=True):
                self.record(f"ancestral_noise_{name}", torch.stack(draws))
        return out


def _per_stream(drawn: list[torch.Tensor], streams: int) -> Iterator[list[torch.Tensor]]:
    """The draws interleave the present streams, video first: one list per stream."""
    return (drawn[k::streams] for k in range(streams))


def euler_ancestral(noise_seed: int, eta: float = 1.0, s_noise: float = 1.0) -> Sampler:
    """The Euler-ancestral sampler with its noise seed (the distilled LTX-2.5 stage 1 uses the call's seed + 10000,
    spec delta D.3), as a `Sampler` value."""
    return Sampler("euler_ancestral", lambda record: EulerAncestralLoop(noise_seed, eta, s_noise, record))
