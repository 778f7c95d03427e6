"""Text/image-to-video in two stages with guidance in stage 1 (spec 13.2), with sound.

Recipe: encode the prompt and the negative prompt → encode the images at half size (frame 0 replaces the first
latent frame, other frames are appended as guiding keyframes) → stage 1 at half size, CFG / STG / modality guidance
on the LTX-2 schedule (Euler) → x2 latent upsampling → stage 2 at full size with the distilled LoRA, one unguided
pass per step on the 3-step table (video re-noised from the upsampled latent, audio from the stage-1 audio, images
re-encoded at full size) → decode audio, then video (lazily, while the file is written).

Run it: `python -m ltx_pipelines.ti2vid_two_stages --help`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Unpack

import torch

from ltx_core.geometry import TWO_STAGE_DIVISOR
from ltx_core.hdr.spaces import HDRColorSpace
from ltx_core.loader import LoraSpec
from ltx_core.model.duration_head import AutoDuration
from ltx_pipelines.utils.blocks import DEFAULT_TILING, ModalitySpec
from ltx_pipelines.utils.checkpoints import require_distilled_lora, warn_if_distilled
from ltx_pipelines.utils.constants import stage_2_distilled_sigmas
from ltx_pipelines.utils.guidance import GuiderInput, sigma_dependent_guidance
from ltx_pipelines.utils.helpers import ImageConditioningInput
from ltx_pipelines.utils.inputs import check_images
from ltx_pipelines.utils.pipeline_base import PipelineOptions, TwoStageGuidedBase
from ltx_pipelines.utils.recording import Recorder, pipeline_call
from ltx_pipelines.utils.results import Phases, PipelineResult, Progress, prompt_text
from ltx_pipelines.utils.samplers import EULER
from ltx_pipelines.utils.schedules import given_sigmas, ltx2_schedule
from ltx_pipelines.utils.two_stage import TwoStageRecipe

TWO_STAGES = TwoStageRecipe(
    name="the two-stage guided pipeline",
    sampler=EULER,
    stage_1_schedule=ltx2_schedule,
    stage_1_denoiser=sigma_dependent_guidance,
    stage_1_audio=True,
)


class TI2VidTwoStagesPipeline(TwoStageGuidedBase):
    """Full model; guided stage 1 at half size, x2 upsampling, stage 2 refined with the distilled LoRA.

    The variant is the `recipe` value (the class's `default_recipe`, `TWO_STAGES` here; `ti2vid_two_stages_hq.HQ` and
    `keyframe_interpolation.KEYFRAMES` are the others): its sampler, stage-1 schedule and denoiser, where the
    distilled LoRA goes and how images condition. With `TWO_STAGES`, stage-1 LoRAs: the user's; stage-2 LoRAs: the
    user's plus the distilled LoRA(s) at their given strengths.
    """

    default_recipe: ClassVar[TwoStageRecipe] = TWO_STAGES  # the variant the class runs when given no `recipe`

    def __init__(
        self,
        checkpoint_path: str | Path,
        distilled_lora: Sequence[LoraSpec] | LoraSpec,
        spatial_upsampler_path: str | Path,
        gemma_root: str | Path | None,
        loras: Sequence[LoraSpec] = (),
        device: torch.device | str | None = None,
        *,
        recipe: TwoStageRecipe | None = None,
        **options: Unpack[PipelineOptions],
    ) -> None:
        self.recipe = recipe = self.default_recipe if recipe is None else recipe
        distilled = require_distilled_lora(distilled_lora)
        stage_1_loras, stage_2_loras = recipe.stage_loras(loras, distilled)
        warn_if_distilled(checkpoint_path, recipe.name)
        self.conditionings_fn = recipe.conditionings
        super().__init__(
            checkpoint_path, spatial_upsampler_path, gemma_root, stage_1_loras, stage_2_loras, device, **options
        )

    @pipeline_call
    def __call__(
        self,
        prompt: Any,
        negative_prompt: Any,
        seed: int,
        height: int,
        width: int,
        num_frames: int | AutoDuration,
        frame_rate: float,
        num_inference_steps: int,
        video_guider_params: GuiderInput,
        audio_guider_params: GuiderInput,
        images: Sequence[ImageConditioningInput] = (),
        tiling_config: Any = DEFAULT_TILING,
        enhance_prompt: bool = False,
        max_batch_size: int = 1,
        stage_1_sigmas: torch.Tensor | Sequence[float] | None = None,
        stage_2_sigmas: torch.Tensor | Sequence[float] | None = None,
        color_space: HDRColorSpace | None = None,
        generated_keyframes: int = 0,
        *,
        record: Recorder | None = None,
        progress: Progress | None = None,
    ) -> PipelineResult:
        """`prompt` / `negative_prompt`: strings or precomputed `PromptContexts`. `stage_1_sigmas` overrides the
        `num_inference_steps` schedule; `stage_2_sigmas` defaults to (0.909375, 0.725, 0.421875, 0). An image's
        `path` may be a decoded uint8 `[H, W, 3]` array. `record(name, tensor)` receives every intermediate under the
        golden-case names (`stage1_video_noise`, `upsampled_video_latent`, ...). `num_frames` may be an
        `AutoDuration` on files with a duration head (LTX-2.5): predicted from the prompt. `color_space`: native HDR
        (spec NP 5; EXR images read in it, a float32 decode to its working-space codes)."""
        recipe = self.recipe
        request = self._request(seed, height, width, num_frames, frame_rate, TWO_STAGE_DIVISOR)
        self._check_generated_keyframes(generated_keyframes, request.num_frames)
        sigmas_1 = given_sigmas(stage_1_sigmas, "stage_1_sigmas")
        sigmas_2 = given_sigmas(stage_2_sigmas, "stage_2_sigmas")
        sigmas_2 = stage_2_distilled_sigmas() if sigmas_2 is None else sigmas_2
        phases = Phases(progress)

        positive, negative = self._prompts(prompt, negative_prompt, images, enhance_prompt, seed, phases)
        request = self._with_duration(request, positive)
        check_images(images, request.num_frames)
        if sigmas_1 is None:  # the HQ schedule's shift depends on the frame count
            sigmas_1 = recipe.stage_1_schedule(num_inference_steps, request.half())
        run = self._run(request, phases, color_space)
        denoiser = recipe.stage_1_denoiser(positive, negative, video_guider_params, audio_guider_params)

        stage_1 = self._first_stage(
            self.stage_1,
            denoiser,
            sigmas_1,
            run.half(),
            video=ModalitySpec(
                positive.video_context,
                [
                    *self._conditionings(images, run.half(), stage=1),
                    *self._keyframe_slots(generated_keyframes, run.half()),
                ],
            ),
            audio=ModalitySpec(positive.audio_context),
            max_batch_size=max_batch_size,
            sampler=recipe.sampler,
        )

        stage_2 = self._upsample_and_refine(
            self.stage_2, stage_1, positive, sigmas_2, run, images=images, sampler=recipe.sampler
        )
        decoded = recipe.decoded(stage_1, stage_2, self.numerics)
        slots = stage_1.generated_keyframes
        return self._decode(run, decoded, prompt_text(positive, prompt), tiling_config, generated_keyframes=slots)


def main(argv: Sequence[str] | None = None) -> None:
    from ltx_pipelines.cli.commands import main as run_command_line  # the command line lives in ltx_pipelines.cli

    run_command_line("ti2vid_two_stages", argv)


if __name__ == "__main__":
    main()
