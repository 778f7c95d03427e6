"""Checks on the generation inputs every pipeline takes (sizes, frame counts, images), before any model is built."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ltx_core.errors import InputError
from ltx_core.geometry import (
    TWO_STAGE_DIVISOR,
    frame_count_bounds,
    is_frame_count,
    is_multiple,
    joined,
    multiple_bounds,
    neighbours,
)
from ltx_pipelines.utils.helpers import ImageConditioningInput


def nearest_multiples(value: int, divisor: int) -> str:
    """The positive multiples of `divisor` nearest to `value`, as an error message lists them."""
    return joined(neighbours(value, multiple_bounds(value, divisor)))


def check_video_size(height: int, width: int, num_frames: int, frame_rate: float, divisor: int) -> None:
    """Height/width positive multiples of `divisor`, 8k+1 frames, positive fps; `InputError` with valid values."""
    for name, value in (("height", height), ("width", width)):
        if not is_multiple(value, divisor):
            near = nearest_multiples(value, divisor)
            raise InputError(f"{name} {value} must be a positive multiple of {divisor}; nearest valid: {near}")
    if not is_frame_count(num_frames):
        near = joined(frame_count_bounds(num_frames))
        raise InputError(f"num_frames {num_frames} must be 8k+1; nearest valid: {near}")
    if not frame_rate > 0:
        raise InputError(f"frame_rate {frame_rate} must be > 0")


def check_two_stage_size(height: int, width: int, num_frames: int, frame_rate: float = 1.0) -> None:
    """`check_video_size` for the two-stage pipelines (height and width multiples of 64)."""
    check_video_size(height, width, num_frames, frame_rate, TWO_STAGE_DIVISOR)


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
