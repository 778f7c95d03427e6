"""Text/image-to-video in one guided stage at full resolution (spec 13.1), with sound.

Recipe: encode the prompt and the negative prompt → encode the images at full size (frame 0 replaces the first
latent frame, any other frame is appended as a guiding keyframe) → one stage with CFG / STG / modality guidance on
the LTX-2 schedule (Euler) → decode audio, then video (lazily, while the file is written). No upsampler, no LoRA
beyond the user's.

Run it: `python -m ltx_pipelines.ti2vid_one_stage --help`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Unpack

import torch

from ltx_core.geometry import ONE_STAGE_DIVISOR
from ltx_core.hdr.spaces import HDRColorSpace
from ltx_core.loader import LoraSpec
from ltx_core.model.duration_head import AutoDuration
from ltx_pipelines.utils.blocks import DEFAULT_TILING, ModalitySpec
from ltx_pipelines.utils.checkpoints import warn_if_distilled
from ltx_pipelines.utils.guidance import GuiderInput, sigma_dependent_guidance
from ltx_pipelines.utils.helpers import ImageConditioningInput
from ltx_pipelines.utils.inputs import check_images
from ltx_pipelines.utils.pipeline_base import GuidedPipelineBase, PipelineOptions
from ltx_pipelines.utils.recording import Recorder, pipeline_call
from ltx_pipelines.utils.results import Phases, PipelineResult, Progress, prompt_text
from ltx_pipelines.utils.schedules import given_sigmas, scheduler_sigmas


class TI2VidOneStagePipeline(GuidedPipelineBase):
    """Full model, one guided stage at the output resolution (multiples of 32). Images: frame 0 replaces the first
    latent frame, other frames are appended as guiding keyframes."""

    def __init__(
        self,
        checkpoint_path: str | Path,
        gemma_root: str | Path | None,
        loras: Sequence[LoraSpec] = (),
        device: torch.device | str | None = None,
        **options: Unpack[PipelineOptions],
    ) -> None:
        warn_if_distilled(checkpoint_path, "the one-stage guided pipeline")
        super().__init__(checkpoint_path, gemma_root, device=device, **options)
        self.stage = self._stage(loras)

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
        enhance_prompt: bool = False,
        tiling_config: Any = DEFAULT_TILING,
        max_batch_size: int = 1,
        sigmas: torch.Tensor | Sequence[float] | None = None,
        color_space: HDRColorSpace | None = None,
        generated_keyframes: int = 0,
        *,
        record: Recorder | None = None,
        progress: Progress | None = None,
    ) -> PipelineResult:
        """`prompt` / `negative_prompt`: strings or precomputed `PromptContexts`. `sigmas` overrides the
        `num_inference_steps` schedule. An image's `path` may be a decoded uint8 `[H, W, 3]` array. `record(name,
        tensor)` receives every intermediate under the golden-case names (`stage1_video_noise`, ...). `num_frames`
        may be an `AutoDuration` on files with a duration head (LTX-2.5): predicted from the prompt. `color_space`:
        native HDR (spec NP 5; EXR images read in it, a float32 decode to its working-space codes).
        `generated_keyframes=N` adds N keyframe slots to stage 1 (LTX-2.5 files, spec new_pipelines §8); their latents
        come back on `result.generated_keyframes`, undecoded."""
        request = self._request(seed, height, width, num_frames, frame_rate, ONE_STAGE_DIVISOR)
        self._check_generated_keyframes(generated_keyframes, request.num_frames)
        schedule = given_sigmas(sigmas, "sigmas")
        if schedule is None:
            schedule = scheduler_sigmas(num_inference_steps)
        phases = Phases(progress)

        positive, negative = self._prompts(prompt, negative_prompt, images, enhance_prompt, seed, phases)
        request = self._with_duration(request, positive)
        check_images(images, request.num_frames)
        run = self._run(request, phases, color_space)
        denoiser = sigma_dependent_guidance(positive, negative, video_guider_params, audio_guider_params)

        conditionings = self._conditionings(images, run, stage=1)
        result = self._first_stage(
            self.stage,
            denoiser,
            schedule,
            run,
            video=ModalitySpec(
                positive.video_context, [*conditionings, *self._keyframe_slots(generated_keyframes, run)]
            ),
            audio=ModalitySpec(positive.audio_context),
            max_batch_size=max_batch_size,
        )

        return self._decode(run, result, prompt_text(positive, prompt), tiling_config)


def main(argv: Sequence[str] | None = None) -> None:
    from ltx_pipelines.cli.commands import main as run_command_line  # the command line lives in ltx_pipelines.cli

    run_command_line("ti2vid_one_stage", argv)


if __name__ == "__main__":
    main()
