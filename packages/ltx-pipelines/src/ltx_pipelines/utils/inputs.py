"""Checks on the generation inputs every pipeline takes (sizes, frame counts, images), before any model is built."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ltx_core.errors import InputError
from ltx_core.geometry import TWO_STAGE_DIVISOR, check_frame_count, check_multiple
from ltx_pipelines.utils.helpers import ImageConditioningInput


def check_video_size(height: int, width: int, num_frames: int, frame_rate: float, divisor: int) -> None:
    """Height/width positive multiples of `divisor`, 8k+1 frames, positive fps; `InputError` with valid values."""
    why = " for two-stage pipelines" if divisor == TWO_STAGE_DIVISOR else ""
    check_multiple("height", height, divisor, why)
    check_multiple("width", width, divisor, why)
    check_frame_count("num_frames", num_frames)
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
