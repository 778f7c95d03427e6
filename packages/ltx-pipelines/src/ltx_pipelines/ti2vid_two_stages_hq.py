"""Two-stage text/image-to-video, high-quality variant (spec 13.3), with sound.

Recipe: as `ti2vid_two_stages`, but both stages use the second-order res_2s SDE sampler, stage 1 uses fixed (not
sigma-dependent) guiders and a schedule whose shift grows with the stage-1 latent's token count, and the distilled
LoRA is fused in BOTH stages with separate strengths (defaults 0.25 in stage 1, 0.5 in stage 2).

Run it: `python -m ltx_pipelines.ti2vid_two_stages_hq --help`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Unpack

import torch

from ltx_core.loader import LoraSpec
from ltx_pipelines.ti2vid_two_stages import TWO_STAGES, TI2VidTwoStagesPipeline
from ltx_pipelines.utils.guidance import fixed_guidance
from ltx_pipelines.utils.pipeline_base import PipelineOptions
from ltx_pipelines.utils.res2s import RES2S
from ltx_pipelines.utils.schedules import token_shifted_schedule
from ltx_pipelines.utils.two_stage import TwoStageRecipe

DEFAULT_DISTILLED_LORA_STRENGTH_STAGE_1 = 0.25
DEFAULT_DISTILLED_LORA_STRENGTH_STAGE_2 = 0.5

HQ: TwoStageRecipe = replace(
    TWO_STAGES,
    name="the HQ two-stage guided pipeline",
    sampler=RES2S,
    stage_1_schedule=token_shifted_schedule,
    stage_1_denoiser=fixed_guidance,
    distilled_lora_strengths=(DEFAULT_DISTILLED_LORA_STRENGTH_STAGE_1, DEFAULT_DISTILLED_LORA_STRENGTH_STAGE_2),
)


class TI2VidTwoStagesHQPipeline(TI2VidTwoStagesPipeline):
    """Full model, res_2s in both stages, distilled LoRA in both stages at per-stage strengths.

    `TI2VidTwoStagesPipeline` running the `HQ` recipe (this class only adds the per-stage strengths to the
    constructor): the res_2s sampler, fixed guiders (the guider params must be plain `MultiModalGuiderParams`) and
    a default stage-1 schedule shifted by the half-size latent's token count. Only the first distilled LoRA is used;
    its own strength is replaced by the per-stage strengths.
    """

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
        strengths = (distilled_lora_strength_stage_1, distilled_lora_strength_stage_2)
        recipe = replace(HQ, distilled_lora_strengths=strengths)
        super().__init__(
            checkpoint_path, distilled_lora, spatial_upsampler_path, gemma_root, loras, device, recipe=recipe, **options
        )


def main(argv: Sequence[str] | None = None) -> None:
    from ltx_pipelines.cli.commands import main as run_command_line  # the command line lives in ltx_pipelines.cli

    run_command_line("ti2vid_two_stages_hq", argv)


if __name__ == "__main__":
    main()
