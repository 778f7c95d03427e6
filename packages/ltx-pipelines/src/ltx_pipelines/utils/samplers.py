"""The Euler denoising loop every stage runs by default."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ltx_core.batch_split import X0Callable
from ltx_core.components.diffusion_steps import EulerDiffusionStep
from ltx_core.components.velocity import post_process_latent
from ltx_core.types import LatentState
from ltx_pipelines.utils.denoisers import DenoisedLatentResult, Denoiser

StepCallback = Callable[[int, int], None]  # (step_index, num_steps), called after each step
ResultCallback = Callable[[int, torch.Tensor, DenoisedLatentResult | None, DenoisedLatentResult | None], None]


def _advance(
    state: LatentState | None,
    result: DenoisedLatentResult | None,
    stepper: EulerDiffusionStep,
    sigmas: torch.Tensor,
    step_index: int,
) -> LatentState | None:
    if state is None or result is None:
        return state
    denoised = post_process_latent(result.denoised, state.denoise_mask, state.clean_latent)
    return state.with_(latent=stepper.step(state.latent, denoised, sigmas, step_index))


def euler_denoising_loop(
    sigmas: torch.Tensor,
    video_state: LatentState | None,
    audio_state: LatentState | None,
    stepper: EulerDiffusionStep,
    transformer: X0Callable,
    denoiser: Denoiser,
    on_step: StepCallback | None = None,
    on_result: ResultCallback | None = None,
) -> tuple[LatentState | None, LatentState | None]:
    """One denoiser call and one Euler step per sigma interval; video is stepped before audio."""
    num_steps = len(sigmas) - 1
    for i in range(num_steps):
        video_result, audio_result = denoiser(transformer, video_state, audio_state, sigmas, i)
        if on_result is not None:
            on_result(i, sigmas[i], video_result, audio_result)
        video_state = _advance(video_state, video_result, stepper, sigmas, i)
        audio_state = _advance(audio_state, audio_result, stepper, sigmas, i)
        if on_step is not None:
            on_step(i, num_steps)
    return video_state, audio_state
