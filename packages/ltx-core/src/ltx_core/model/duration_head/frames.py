"""Predicted seconds → a frame count (spec delta C.3): clamped to the allowed duration, snapped down to 8k+1 (up
when that falls below the minimum)."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from ltx_core.errors import InputError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AutoDuration:
    """Let the duration head choose the length, between `min_seconds` and `max_seconds` (official defaults 1-20 s)."""

    min_seconds: float = 1.0
    max_seconds: float = 20.0

    def __post_init__(self) -> None:
        if not 0 <= self.min_seconds <= self.max_seconds:
            raise InputError(
                f"auto duration needs 0 <= min_seconds <= max_seconds, got {self.min_seconds} and {self.max_seconds}"
            )


def frames_for_seconds(seconds: float, frame_rate: float, duration: AutoDuration = AutoDuration()) -> int:
    """The frame count for `seconds` at `frame_rate` within `duration` (Python rounding, half to even, as official);
    an off-grid maximum is returned when the minimum and maximum lie within one 8-frame step."""
    if not duration.min_seconds <= seconds <= duration.max_seconds:
        logger.warning(
            "predicted duration %.3f s is outside [%s, %s] s: clamped",
            seconds,
            duration.min_seconds,
            duration.max_seconds,
        )
    min_f, max_f = round(duration.min_seconds * frame_rate), round(duration.max_seconds * frame_rate)
    raw = max(min_f, min(round(seconds * frame_rate), max_f))
    if raw < 1:
        raise InputError(f"auto duration gives {raw} frames at {frame_rate} fps; allow a longer minimum duration")
    frames = ((raw - 1) // 8) * 8 + 1
    if frames < min_f:
        frames = min(math.ceil((min_f - 1) / 8) * 8 + 1, max_f)
    return frames
