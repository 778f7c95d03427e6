"""Automatic clip length (spec delta C.4): the checkpoint's duration head predicts seconds from the positive prompt's
contexts, turned into a frame count (8k+1, clamped to the allowed duration). Only LTX-2.5 files have a head."""

from __future__ import annotations

import torch

from ltx_core.errors import InputError
from ltx_core.loader.model_paths import MissingFile
from ltx_core.loader.sources import ModelSource
from ltx_core.model.duration_head import AutoDuration, frames_for_seconds, has_duration_head
from ltx_pipelines.utils.blocks.lifetime import ModelBlock
from ltx_pipelines.utils.recording import current_recorder


class DurationPredictor(ModelBlock):
    """The duration head, built (in the pipeline dtype: its `exp` is bf16, as official) for a call and freed after."""

    @property
    def available(self) -> bool:
        """Whether the checkpoint has a duration head (in-memory test models never do)."""
        return not isinstance(self.checkpoint, ModelSource) and has_duration_head(self.checkpoint)

    def require(self) -> None:
        """Refuse an automatic duration before any work when the files cannot predict one."""
        if isinstance(self.checkpoint, MissingFile):
            raise InputError(
                "the split model files give no duration head (--duration-head-path), so the clip length cannot be "
                "chosen automatically; give num_frames"
            )
        if not self.available:
            raise InputError(
                f"{self.checkpoint}: no duration head (only LTX-2.5 files have one), so the clip length cannot be "
                "chosen automatically; give num_frames"
            )

    def __call__(self, contexts: object, frame_rate: float, duration: AutoDuration, *, audio_only: bool = False) -> int:
        """The frame count for the prompt whose `PromptContexts` are given (`audio_only`: from its audio context
        alone, as text to audio predicts it); the prediction (seconds, float32 [1]) is recorded as
        `duration_seconds`."""
        self.require()
        video = None if audio_only else contexts.video_context  # type: ignore[attr-defined]
        with self.models.use(lambda: self._build("duration_head")) as head, torch.inference_mode():
            seconds = head(video, contexts.audio_context)  # type: ignore[attr-defined]
        if seconds.shape != (1,):
            raise InputError(f"the duration head predicted {tuple(seconds.shape)} values; one prompt gives one")
        record = current_recorder()
        if record is not None:
            record("duration_seconds", seconds.float())
        return frames_for_seconds(seconds.item(), frame_rate, duration)
