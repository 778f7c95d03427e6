"""Two-stage text/image-to-video, high-quality variant (spec 13.3), with sound.

Recipe: as `ti2vid_two_stages`, but both stages use the second-order res_2s SDE sampler, stage 1 uses fixed (not
sigma-dependent) guiders and a schedule whose shift grows with the stage-1 latent's token count, and the distilled
LoRA is fused in BOTH stages with separate strengths (defaults 0.25 in stage 1, 0.5 in stage 2).

Run it: `python -m ltx_pipelines.ti2vid_two_stages_hq --help`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Unpack

import torch

from ltx_core.loader import LoraSpec
from ltx_pipelines.ti2vid_two_stages import TI2VidTwoStagesPipeline
from ltx_pipelines.utils.checkpoints import require_distilled_lora, warn_if_distilled
from ltx_pipelines.utils.denoisers import Denoiser, GuidedDenoiser
from ltx_pipelines.utils.guidance import GuiderInput, static_guiders
from ltx_pipelines.utils.pipeline_base import PipelineOptions, TwoStageGuidedBase
from ltx_pipelines.utils.schedules import scheduler_sigmas, stage_latent_shape

logger = logging.getLogger(__name__)

DEFAULT_DISTILLED_LORA_STRENGTH_STAGE_1 = 0.25
DEFAULT_DISTILLED_LORA_STRENGTH_STAGE_2 = 0.5


class TI2VidTwoStagesHQPipeline(TI2VidTwoStagesPipeline):
    """Full model, res_2s in both stages, distilled LoRA in both stages at per-stage strengths.

    The recipe (and the call) of `TI2VidTwoStagesPipeline` with three differences: the res_2s sampler, fixed guiders
    (the guider params must be plain `MultiModalGuiderParams`) and a default stage-1 schedule shifted by the half-size
    latent's token count. Only the first distilled LoRA is used; its own strength is replaced by the per-stage
    strengths.
    """

    name = "the HQ two-stage guided pipeline"
    res2s = True

    def __init__(
        self,
        checkpoint_path: str | Path,
        distilled_lora: Sequence[LoraSpec] | LoraSpec,
        distilled_lora_strength_stage_1: float,
        distilled_lora_strength_stage_2: float,
        spatial_upsampler_path: str | Path,
        gemma_root: str | Path | None,
        loras: Sequence[LoraSpec] = (),
        device: torch.device | str | None = None,
        **options: Unpack[PipelineOptions],
    ) -> None:
        given = require_distilled_lora(distilled_lora)
        distilled = given[0]
        if len(given) > 1:
            logger.warning(
                "the HQ pipeline uses only the first distilled LoRA (%s); ignoring %d more",
                distilled.path.name,
                len(given) - 1,
            )
        warn_if_distilled(checkpoint_path, self.name)
        stage_1_loras = (*loras, replace(distilled, strength=distilled_lora_strength_stage_1))
        stage_2_loras = (*loras, replace(distilled, strength=distilled_lora_strength_stage_2))
        TwoStageGuidedBase.__init__(
            self, checkpoint_path, spatial_upsampler_path, gemma_root, stage_1_loras, stage_2_loras, device, **options
        )

    def _stage_1_schedule(self, steps: int, height: int, width: int, num_frames: int, frame_rate: float) -> Any:
        """The LTX-2 schedule shifted by the stage-1 latent's token count (F·H·W; the channel count plays no part)."""
        return scheduler_sigmas(steps, stage_latent_shape(height, width, num_frames, frame_rate, channels=1))

    def _stage_1_denoiser(self, positive: Any, negative: Any, video: GuiderInput, audio: GuiderInput) -> Denoiser:
        """Fixed guiders: the guider params must be plain `MultiModalGuiderParams`."""
        video_guider, audio_guider = static_guiders(video, audio, negative)
        return GuidedDenoiser(positive.video_context, positive.audio_context, video_guider, audio_guider)


def main(argv: Sequence[str] | None = None) -> None:
    from ltx_pipelines.cli.commands import main as run_command_line  # the command line lives in ltx_pipelines.cli

    run_command_line("ti2vid_two_stages_hq", argv)


if __name__ == "__main__":
    main()
