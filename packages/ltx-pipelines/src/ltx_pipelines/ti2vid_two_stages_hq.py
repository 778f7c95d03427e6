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
from ltx_pipelines.utils.blocks import ModalitySpec
from ltx_pipelines.utils.checkpoints import require_distilled_lora, warn_if_distilled
from ltx_pipelines.utils.constants import stage_2_distilled_sigmas
from ltx_pipelines.utils.denoisers import GuidedDenoiser
from ltx_pipelines.utils.guidance import static_guiders
from ltx_pipelines.utils.helpers import ImageConditioningInput
from ltx_pipelines.utils.inputs import TWO_STAGE_DIVISOR, check_images, check_video_size
from ltx_pipelines.utils.pipeline_base import PipelineOptions, TwoStageGuidedBase
from ltx_pipelines.utils.recording import Recorder, prefixed
from ltx_pipelines.utils.results import Phases, PipelineResult, Progress, prompt_text
from ltx_pipelines.utils.schedules import given_sigmas, scheduler_sigmas, stage_latent_shape

logger = logging.getLogger(__name__)

DEFAULT_DISTILLED_LORA_STRENGTH_STAGE_1 = 0.25
DEFAULT_DISTILLED_LORA_STRENGTH_STAGE_2 = 0.5


class TI2VidTwoStagesHQPipeline(TwoStageGuidedBase):
    """Full model, res_2s in both stages, distilled LoRA in both stages at per-stage strengths.

    Only the first distilled LoRA is used; its own strength is replaced by the per-stage strengths.
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
        given = require_distilled_lora(distilled_lora)
        distilled = given[0]
        if len(given) > 1:
            logger.warning("the HQ pipeline uses only the first distilled LoRA (%s); ignoring %d more",
                           distilled.path.name, len(given) - 1)  # fmt: skip
        warn_if_distilled(checkpoint_path, "the HQ two-stage guided pipeline")
        stage_1_loras = (*loras, replace(distilled, strength=distilled_lora_strength_stage_1))
        stage_2_loras = (*loras, replace(distilled, strength=distilled_lora_strength_stage_2))
        super().__init__(checkpoint_path, spatial_upsampler_path, gemma_root, stage_1_loras, stage_2_loras, device,
                         **options)  # fmt: skip

    @torch.inference_mode()
    def __call__(
        self,
        prompt: Any,
        negative_prompt: Any,
        seed: int,
        height: int,
        width: int,
        num_frames: int,
        frame_rate: float,
        num_inference_steps: int,
        video_guider_params: Any,
        audio_guider_params: Any,
        images: Sequence[ImageConditioningInput] = (),
        tiling_config: Any = None,
        enhance_prompt: bool = False,
        max_batch_size: int = 1,
        stage_1_sigmas: torch.Tensor | Sequence[float] | None = None,
        stage_2_sigmas: torch.Tensor | Sequence[float] | None = None,
        *,
        record: Recorder | None = None,
        progress: Progress | None = None,
    ) -> PipelineResult:
        """As `TI2VidTwoStagesPipeline.__call__`; the guider params must be plain `MultiModalGuiderParams`. The
        default stage-1 schedule is shifted by the half-size latent's token count (frames x height x width)."""
        check_video_size(height, width, num_frames, frame_rate, TWO_STAGE_DIVISOR)
        check_images(images, num_frames)
        half_h, half_w = height // 2, width // 2
        sigmas_1 = given_sigmas(stage_1_sigmas, "stage_1_sigmas")
        if sigmas_1 is None:  # the shift depends only on F·H·W, not on the channel count
            sigmas_1 = scheduler_sigmas(num_inference_steps, stage_latent_shape(half_h, half_w, num_frames,
                                                                                frame_rate, channels=1))  # fmt: skip
        sigmas_2 = given_sigmas(stage_2_sigmas, "stage_2_sigmas")
        sigmas_2 = stage_2_distilled_sigmas() if sigmas_2 is None else sigmas_2
        phases = Phases(progress)
        run = self._run(seed, height, width, num_frames, frame_rate, phases, record)

        positive, negative = self._prompts(prompt, negative_prompt, images, enhance_prompt, seed, phases)
        video_guider, audio_guider = static_guiders(video_guider_params, audio_guider_params, negative)

        conditionings = self._conditionings(images, half_h, half_w, prefixed(record, "stage1_"))
        denoiser = GuidedDenoiser(positive.video_context, positive.audio_context, video_guider, audio_guider)
        stage_1 = self._first_stage(
            self.stage_1,
            denoiser,
            sigmas_1,
            run.half(),
            video=ModalitySpec(positive.video_context, conditionings),
            audio=ModalitySpec(positive.audio_context),
            max_batch_size=max_batch_size,
            res2s=True,
        )

        stage_2 = self._upsample_and_refine(
            self.stage_2,
            stage_1,
            positive,
            sigmas_2,
            run,
            images=images,
            res2s=True,
        )
        return self._decode(
            stage_2.video_latent,
            stage_2.audio_latent,
            run,
            prompt=prompt_text(positive, prompt),
            tiling_config=tiling_config,
        )


# --- command line --------------------------------------------------------------------------------------------------


def _app() -> Any:
    from ltx_pipelines.cli.app import create_app, pipeline_command
    from ltx_pipelines.cli.options import HQ_TWO_STAGE
    from ltx_pipelines.cli.runtime import transformer_runtime
    from ltx_pipelines.utils.constants import LTX_2_3_HQ_PARAMS
    from ltx_pipelines.utils.guided_stages import guided_call_options, parse_sigmas_option, run_cli, sigmas_option

    app = create_app(
        help="LTX-2.3 full model, high quality: prompt (and images) to an MP4 with sound; res_2s sampler in both "
        "stages, distilled LoRA in both (strengths 0.25 / 0.5). Defaults: 15 steps, 1088x1920, no STG."
    )
    stage_1_flag = sigmas_option("--stage-1-sigmas", "Stage-1 sigma schedule to use instead of --num-inference-steps")
    stage_2_flag = sigmas_option("--stage-2-sigmas", "Stage-2 sigma schedule (default 0.909375 0.725 0.421875 0.0)")

    @pipeline_command(app, HQ_TWO_STAGE, params=LTX_2_3_HQ_PARAMS, detect=False, two_stage=True)
    def ti2vid_two_stages_hq(
        args: Any, stage_1_sigmas: list[str] = stage_1_flag, stage_2_sigmas: list[str] = stage_2_flag
    ) -> None:
        """res_2s stage 1 at half size (fixed guiders), x2 upsampling, res_2s stage 2, decode, write the MP4."""
        sigmas_1 = parse_sigmas_option(stage_1_sigmas, "--stage-1-sigmas")  # type: ignore[arg-type]
        sigmas_2 = parse_sigmas_option(stage_2_sigmas, "--stage-2-sigmas")  # type: ignore[arg-type]

        def generate(progress: Progress) -> PipelineResult:
            pipeline = TI2VidTwoStagesHQPipeline(
                args.checkpoint_path,  # type: ignore[arg-type]
                args.distilled_loras,
                args.distilled_lora_strength_stage_1,
                args.distilled_lora_strength_stage_2,
                args.spatial_upsampler_path,  # type: ignore[arg-type]
                args.gemma_root,
                args.loras,
                args.device,
                runtime=transformer_runtime(args),
            )
            return pipeline(
                args.prompt,
                args.negative_prompt,
                **guided_call_options(args),
                stage_1_sigmas=sigmas_1,
                stage_2_sigmas=sigmas_2,
                progress=progress,
            )

        run_cli(args, generate, two_stage=True)

    return app


def main() -> None:
    _app()()


if __name__ == "__main__":
    main()
