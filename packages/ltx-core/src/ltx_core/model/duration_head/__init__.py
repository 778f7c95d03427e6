"""The LTX-2.5 duration head: predicts a video's length from the prompt's contexts (spec delta C)."""

from ltx_core.model.duration_head.config import DurationHeadConfig
from ltx_core.model.duration_head.frames import AutoDuration, frames_for_seconds
from ltx_core.model.duration_head.loading import has_duration_head, load_duration_head
from ltx_core.model.duration_head.model import DurationHead

__all__ = [
    "AutoDuration",
    "DurationHead",
    "DurationHeadConfig",
    "frames_for_seconds",
    "has_duration_head",
    "load_duration_head",
]
