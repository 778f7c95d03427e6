"""Two-stage guided variants as data (spec 13.2, 13.3, 13.5): what differs between the two-stage, HQ and keyframe
interpolation recipes is a `TwoStageRecipe` value, not a subclass; one pipeline class runs any of them."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch

from ltx_core.loader import LoraSpec
from ltx_core.numerics import Numerics
from ltx_pipelines.utils.blocks import StageResult
from ltx_pipelines.utils.denoisers import Denoiser
from ltx_pipelines.utils.guidance import GuiderInput
from ltx_pipelines.utils.helpers import ConditioningsFn, combined_image_conditionings
from ltx_pipelines.utils.inputs import VideoRequest
from ltx_pipelines.utils.samplers import Sampler

logger = logging.getLogger(__name__)

StageSchedule = Callable[[int, VideoRequest], torch.Tensor]  # (steps, stage 1's request) → its default sigmas
StageDenoiser = Callable[[Any, Any, GuiderInput, GuiderInput], Denoiser]  # (positive, negative, video, audio params)


@dataclass(frozen=True)
class TwoStageRecipe:
    """A guided stage 1 at half size, x2 upsampling, an unguided stage 2 with the distilled LoRA; the variants
    differ only in these values.

    `sampler` steps both stages; `stage_1_schedule` gives stage 1's default sigmas (the caller's `stage_1_sigmas`
    win); `stage_1_denoiser` builds stage 1's guided denoiser from the prompt pair and the guider params;
    `distilled_lora_strengths` places the distilled LoRA: None, every given distilled LoRA in stage 2 at its own
    strength; `(s1, s2)`, the first one in both stages at these strengths. `conditionings` says how images
    condition the video in both stages. `stage_1_audio`: the official 1.2.0 returns stage 1's audio (two-stage and
    HQ, delta A.8; not keyframe interpolation). `name` is the pipeline's name in warnings."""

    name: str
    sampler: Sampler
    stage_1_schedule: StageSchedule
    stage_1_denoiser: StageDenoiser
    distilled_lora_strengths: tuple[float, float] | None = None
    conditionings: ConditioningsFn = combined_image_conditionings
    stage_1_audio: bool = False

    def decoded(self, stage_1: StageResult, stage_2: StageResult, numerics: Numerics) -> StageResult:
        """What the run decodes: stage 2's result, with stage 1's audio where this recipe returns it under
        `numerics` (stage 2 still denoises the audio with the same draws, and it still steers the video through the
        A↔V attention; only its result is dropped)."""
        if self.stage_1_audio and numerics.two_stage_stage1_audio:
            return replace(stage_2, audio_latent=stage_1.audio_latent)
        return stage_2

    def stage_loras(
        self, loras: Sequence[LoraSpec], distilled: Sequence[LoraSpec]
    ) -> tuple[tuple[LoraSpec, ...], tuple[LoraSpec, ...]]:
        """(stage 1, stage 2) LoRA sets: the user's `loras` in both, the `distilled` LoRA(s) as this recipe
        places them."""
        if self.distilled_lora_strengths is None:
            return tuple(loras), (*loras, *distilled)
        first = distilled[0]
        if len(distilled) > 1:
            logger.warning(
                "%s uses only the first distilled LoRA (%s); ignoring %d more",
                self.name,
                first.path.name,
                len(distilled) - 1,
            )
        s1, s2 = self.distilled_lora_strengths
        return (*loras, replace(first, strength=s1)), (*loras, replace(first, strength=s2))
