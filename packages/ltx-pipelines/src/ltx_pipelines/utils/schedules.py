"""Sigma schedules: a user's schedule checked, the LTX-2 scheduler's (plain, or shifted by a request's stage-1 token
count: the two-stage recipes' stage-1 schedules), or the fixed distilled table (the tables themselves are in
`constants`)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ltx_core.components.schedulers import LTX2Scheduler, validate_sigmas
from ltx_core.types import VideoLatentShape, VideoPixelShape
from ltx_pipelines.utils.constants import DISTILLED_SIGMA_VALUES, distilled_sigmas
from ltx_pipelines.utils.inputs import VideoRequest

DISTILLED_STEPS = len(DISTILLED_SIGMA_VALUES) - 1


def given_sigmas(sigmas: torch.Tensor | Sequence[float] | None, what: str) -> torch.Tensor | None:
    """A user schedule, checked (≥ 2 values in [0, 1], strictly decreasing, ending at 0), or None."""
    return None if sigmas is None else validate_sigmas(sigmas, what=what)


def scheduler_sigmas(steps: int, latent_shape: VideoLatentShape | None = None) -> torch.Tensor:
    """`LTX2Scheduler` with `steps`; the shift depends on the latent's token count only when a shape is given (HQ)."""
    latent = None if latent_shape is None else torch.empty(latent_shape.to_torch_shape(), device="meta")
    return LTX2Scheduler().execute(steps=steps, latent=latent)


def stage_latent_shape(height: int, width: int, num_frames: int, frame_rate: float, channels: int) -> VideoLatentShape:
    pixel = VideoPixelShape(1, num_frames, height, width, frame_rate)
    return VideoLatentShape.from_pixel_shape(pixel, channels=channels)


def ltx2_schedule(steps: int, request: VideoRequest) -> torch.Tensor:
    """A two-stage recipe's stage-1 schedule: the LTX-2 scheduler with `steps`, the default shift (any size)."""
    return scheduler_sigmas(steps)


def token_shifted_schedule(steps: int, request: VideoRequest) -> torch.Tensor:
    """A two-stage recipe's stage-1 schedule (HQ): the LTX-2 scheduler shifted by the token count (F·H·W; the
    channel count plays no part) of the stage-1 latent of `request` (stage 1's own, half-size request)."""
    shape = stage_latent_shape(request.height, request.width, request.num_frames, request.frame_rate, channels=1)
    return scheduler_sigmas(steps, shape)


def distilled_or_scheduled_sigmas(
    sigmas: torch.Tensor | None, steps: int | None, *, distilled: bool, default_steps: int, notes: list[str]
) -> torch.Tensor:
    """`sigmas` when given; else the fixed distilled table (a requested other step count is noted as ignored) or
    the LTX-2 scheduler with `steps` (`default_steps` when None)."""
    if sigmas is not None:
        return sigmas
    if distilled:
        if steps is not None and steps != DISTILLED_STEPS:
            notes.append(
                f"distilled checkpoint: the fixed {DISTILLED_STEPS}-step table is used; "
                f"num_inference_steps {steps} is ignored"
            )
        return distilled_sigmas()
    return LTX2Scheduler().execute(steps=steps or default_steps)
