"""The distilled two-stage pipeline (spec 13.4): prompt (and images) → video with sound, no guidance.

Recipe: encode the prompt (and, for an automatic duration, predict the clip length from it) → stage 1 at half
resolution on the 8-step distilled schedule (Euler steps; Euler-ancestral on LTX-2.5 files, spec delta D.3) → x2
latent upsampling → stage 2 at full resolution on the 3-step schedule (video re-noised from the upsampled latent,
audio from the stage-1 audio) → decode audio, then video (lazily, chunk by chunk, while the file is written).

Run it: `python -m ltx_pipelines.distilled --help`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Unpack

import torch

from ltx_core.geometry import TWO_STAGE_DIVISOR
from ltx_core.hdr.spaces import HDRColorSpace
from ltx_core.loader import LoraSpec
from ltx_core.model.duration_head import AutoDuration
from ltx_pipelines.utils.ancestral import euler_ancestral
from ltx_pipelines.utils.blocks import DEFAULT_TILING, ModalitySpec
from ltx_pipelines.utils.constants import (
    ANCESTRAL_SEED_OFFSET,
    distilled_sigmas,
    model_version,
    stage_2_distilled_sigmas,
)
from ltx_pipelines.utils.denoisers import SimpleDenoiser
from ltx_pipelines.utils.helpers import ImageConditioningInput
from ltx_pipelines.utils.pipeline_base import PipelineBase, PipelineOptions
from ltx_pipelines.utils.recording import Recorder, pipeline_call
from ltx_pipelines.utils.results import Phases, PipelineResult, Progress, prompt_text
from ltx_pipelines.utils.samplers import EULER, Sampler


class DistilledPipeline(PipelineBase):
    """Distilled model, two stages, one conditional pass per step (spec 13.4).

    One `DiffusionStage` (user LoRAs) serves both stages; the transformer is built once per call and freed at the
    end (`cache_transformer=True` keeps it for the next call). Every other model is built for its step and freed.
    """

    def __init__(
        self,
        distilled_checkpoint_path: str | Path,
        gemma_root: str | Path | None,
        spatial_upsampler_path: str | Path,
        loras: Sequence[LoraSpec] = (),
        device: torch.device | str | None = None,
        **options: Unpack[PipelineOptions],
    ) -> None:
        super().__init__(
            distilled_checkpoint_path,
            gemma_root,
            device=device,
            spatial_upsampler_path=spatial_upsampler_path,
            **options,
        )
        self.stage = self._stage(loras)
        self.ancestral = model_version(self.files.transformer) >= (2, 5)  # once, from the transformer file (E.3)

    def _stage_1_sampler(self, seed: int) -> Sampler:
        """Euler, or on LTX-2.5 files Euler-ancestral (eta 1) drawing from its own generator seeded `seed + 10000`
        (so its first draw is not the initial noise)."""
        return euler_ancestral(seed + ANCESTRAL_SEED_OFFSET) if self.ancestral else EULER

    @pipeline_call
    def __call__(
        self,
        prompt: Any,
        seed: int,
        height: int,
        width: int,
        num_frames: int | AutoDuration,
        frame_rate: float,
        images: Sequence[ImageConditioningInput] = (),
        tiling_config: Any = DEFAULT_TILING,
        enhance_prompt: bool = False,
        stage_1_sigmas: torch.Tensor | None = None,
        stage_2_sigmas: torch.Tensor | None = None,
        color_space: HDRColorSpace | None = None,
        generated_keyframes: int = 0,
        *,
        record: Recorder | None = None,
        progress: Progress | None = None,
    ) -> PipelineResult:
        """`prompt` is a string or precomputed `PromptContexts`. An image's `path` may also be a decoded uint8
        `[H, W, 3]` array. `num_frames` may be an `AutoDuration` on files with a duration head (LTX-2.5).
        `color_space` (native HDR, spec NP 5): EXR images are read in it and the video decodes in float32 to its
        working-space codes (`PipelineResult.color_space`).
        `record(name, tensor)` receives every intermediate state under the golden-case names (`stage1_video_noise`,
        `upsampled_video_latent`, ...). `generated_keyframes=N` adds N keyframe slots to stage 1 (LTX-2.5 files,
        spec new_pipelines §8); their latents come back on `result.generated_keyframes`, undecoded."""
        request = self._request(seed, height, width, num_frames, frame_rate, TWO_STAGE_DIVISOR)
        self._check_generated_keyframes(generated_keyframes, request.num_frames)
        stage_1_sigmas = distilled_sigmas() if stage_1_sigmas is None else stage_1_sigmas
        stage_2_sigmas = stage_2_distilled_sigmas() if stage_2_sigmas is None else stage_2_sigmas
        phases = Phases(progress)

        (contexts,) = self._encode_prompts([prompt], images, phases, enhance_prompt=enhance_prompt)
        run = self._run(self._with_duration(request, contexts), phases, color_space)

        with self.stage.session():
            stage_1 = self._first_stage(
                self.stage,
                SimpleDenoiser(contexts.video_context, contexts.audio_context),
                stage_1_sigmas,
                run.half(),
                video=ModalitySpec(
                    contexts.video_context,
                    [
                        *self._conditionings(images, run.half(), stage=1),
                        *self._keyframe_slots(generated_keyframes, run.half()),
                    ],
                ),
                audio=ModalitySpec(contexts.audio_context),
                sampler=self._stage_1_sampler(seed),
            )
            stage_2 = self._upsample_and_refine(self.stage, stage_1, contexts, stage_2_sigmas, run, images=images)

        slots = stage_1.generated_keyframes
        return self._decode(run, stage_2, prompt_text(contexts, prompt), tiling_config, generated_keyframes=slots)


def main(argv: Sequence[str] | None = None) -> None:
    from ltx_pipelines.cli.commands import main as run_command_line  # the command line lives in ltx_pipelines.cli

    run_command_line("distilled", argv)


if __name__ == "__main__":
    main()
