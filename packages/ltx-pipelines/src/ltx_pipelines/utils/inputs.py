"""The generation inputs every pipeline takes (the request: seed, size, frames, rate; images) and their checks, made
before any model is built."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from ltx_core.errors import InputError
from ltx_core.geometry import TWO_STAGE_DIVISOR, check_frame_count, check_multiple
from ltx_core.model.duration_head import AutoDuration
from ltx_pipelines.utils.helpers import ImageConditioningInput


def check_video_size(height: int, width: int, num_frames: int, frame_rate: float, divisor: int) -> None:
    """Height/width positive multiples of `divisor`, 8k+1 frames, positive fps; `InputError` with valid values."""
    why = " for two-stage pipelines" if divisor == TWO_STAGE_DIVISOR else ""
    check_multiple("height", height, divisor, why)
    check_multiple("width", width, divisor, why)
    check_frame_count("num_frames", num_frames)
    if not frame_rate > 0:
        raise InputError(f"frame_rate {frame_rate} must be > 0")


@dataclass(frozen=True)
class VideoRequest:
    """What one call asks for, whatever the pipeline: the seed and the output's size, frame count and rate. Every
    step of a recipe reads its geometry from this one value (`Run.request`) instead of passing the keywords on.

    `check(divisor)` is the one place a requested size is validated (the pipeline knows the divisor: 32 for one
    stage, 64 for two); `half()` is stage 1's request in a two-stage flow. `num_frames` may be an `AutoDuration`
    until the pipeline has predicted the length from the prompt (`with_frames`)."""

    seed: int
    height: int
    width: int
    num_frames: int | AutoDuration
    frame_rate: float

    def check(self, divisor: int) -> VideoRequest:
        """This request, after `check_video_size` (an `InputError` naming the value and the valid ones); an
        automatic duration is checked when it is resolved (`with_frames`)."""
        frames = 1 if isinstance(self.num_frames, AutoDuration) else self.num_frames
        check_video_size(self.height, self.width, frames, self.frame_rate, divisor)
        return self

    def with_frames(self, num_frames: int) -> VideoRequest:
        """The request with its automatic duration resolved to a frame count."""
        return replace(self, num_frames=num_frames)

    def half(self) -> VideoRequest:
        """Stage 1 of a two-stage flow: half the height and width, everything else shared."""
        return replace(self, height=self.height // 2, width=self.width // 2)


def check_images(images: Sequence[ImageConditioningInput], num_frames: int) -> None:
    """Every image targets a pixel frame of the clip with a strength in [0, 1]."""
    for image in images:
        name = "an array" if isinstance(image.path, np.ndarray) else str(image.path)
        if not 0 <= image.frame_idx < num_frames:
            raise InputError(
                f"image {name}: frame index {image.frame_idx} is outside the video; valid: 0 to "
                f"{num_frames - 1} (pixel frames of a {num_frames}-frame clip)"
            )
        if not 0.0 <= image.strength <= 1.0:
            raise InputError(f"image {name}: strength {image.strength} is outside [0, 1]")
