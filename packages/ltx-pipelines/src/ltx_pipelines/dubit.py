"""Dub-It, formerly LipDub (spec 13.9; renamed in the official 1.2.0): re-render a clip so the speaker's lips follow
the clip's own audio track.

Recipe: read the reference clip (its frame count snapped down to 8k+1 and its fps set the output) → encode the
prompt → encode the whole reference audio track → stage 1 at half resolution with the lip-dub IC-LoRA: the reference
video appended after the video tokens, the reference audio appended after the audio tokens at negative RoPE times
→ x2 latent upsampling → stage 2 at full resolution with the same LoRA and the reference re-encoded, audio frozen at
the stage-1 result (which also becomes the audio reference) → decode the stage-2 video and the stage-1 audio.

Run it: `python -m ltx_pipelines.dubit --help` (`python -m ltx_pipelines.lipdub`, `LipDubPipeline`: the old names).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Unpack

import torch

from ltx_core.errors import InputError
from ltx_core.geometry import TWO_STAGE_DIVISOR
from ltx_core.loader import LoraSpec, open_checkpoint
from ltx_core.types import Audio
from ltx_pipelines.utils.blocks import (
    DEFAULT_TILING,
    AudioConditioner,
    ModalitySpec,
    StageResult,
    VideoEncodeFn,
)
from ltx_pipelines.utils.constants import distilled_sigmas, stage_2_distilled_sigmas
from ltx_pipelines.utils.denoisers import SimpleDenoiser
from ltx_pipelines.utils.helpers import ImageConditioningInput, combined_image_conditionings
from ltx_pipelines.utils.ic_reference import (
    LipDubReference,
    ReferenceVideo,
    audio_reference_item,
    check_distilled_checkpoint,
    encode_reference,
    encode_reference_audio,
    lora_downscale_factor,
    read_lipdub_reference,
    reference_conditioning,
    reference_size,
)
from ltx_pipelines.utils.inputs import VideoRequest
from ltx_pipelines.utils.pipeline_base import PipelineBase, PipelineOptions
from ltx_pipelines.utils.recording import Recorder, pipeline_call, recorded_encoder, recording_under
from ltx_pipelines.utils.results import Phases, PipelineResult, Progress, prompt_text


class DubItPipeline(PipelineBase):
    """Distilled model + one Dub-It (lip-dub) IC-LoRA, fused once and used by both stages (spec 13.9)."""

    def __init__(
        self,
        distilled_checkpoint_path: Any,
        spatial_upsampler_path: str | Path,
        gemma_root: str | Path | None,
        ic_lora: LoraSpec,
        device: torch.device | str | None = None,
        **options: Unpack[PipelineOptions],
    ) -> None:
        """`distilled_checkpoint_path` is a file, a list of shards or an open `Checkpoint`; it must include the audio
        VAE encoder (the reference audio is encoded)."""

        check_distilled_checkpoint(distilled_checkpoint_path, "Dub-It")
        if isinstance(distilled_checkpoint_path, (list, tuple)):
            distilled_checkpoint_path = open_checkpoint(distilled_checkpoint_path)
        ic_lora = LoraSpec(ic_lora.path, ic_lora.strength)
        super().__init__(
            distilled_checkpoint_path,
            gemma_root,
            device=device,
            spatial_upsampler_path=spatial_upsampler_path,
            **options,
        )
        self.checkpoint = distilled_checkpoint_path
        self.reference_downscale_factor = lora_downscale_factor(ic_lora.path)
        self.audio_conditioner = AudioConditioner(self.files.audio_vae, dtype=self.dtype, device=self.device)
        self.stage = self._stage((ic_lora,))

    @pipeline_call
    def __call__(
        self,
        prompt: Any,
        seed: int,
        height: int,
        width: int,
        images: Sequence[ImageConditioningInput],
        reference_video: ReferenceVideo | LipDubReference,
        reference_strength: float = 1.0,
        enhance_prompt: bool = False,
        tiling_config: Any = DEFAULT_TILING,
        stage_1_sigmas: torch.Tensor | None = None,
        stage_2_sigmas: torch.Tensor | None = None,
        *,
        reference_audio: Audio | None = None,
        record: Recorder | None = None,
        progress: Progress | None = None,
    ) -> PipelineResult:
        """`reference_video` is a clip file (its audio track is the reference audio), a `VideoClip` with
        `reference_audio`, or a `LipDubReference`. The output has the clip's frame count snapped down to 8k+1 and
        its fps. Everything that can be checked is checked before a model is built."""
        from ltx_core.model.video_vae import TilingConfig

        ref = (
            reference_video
            if isinstance(reference_video, LipDubReference)
            else read_lipdub_reference(reference_video, reference_audio)
        )
        request = VideoRequest(seed, height, width, ref.num_frames, ref.frame_rate).check(TWO_STAGE_DIVISOR)
        num_frames = request.num_frames
        if not 0.0 <= reference_strength <= 1.0:
            raise InputError(f"reference strength {reference_strength} is outside [0, 1]")
        for image in images:
            if not 0 <= image.frame_idx < num_frames:
                raise InputError(
                    f"image frame index {image.frame_idx} is outside the {num_frames}-frame clip; valid: 0 to "
                    f"{num_frames - 1}"
                )
        factor = self.reference_downscale_factor
        half = request.half()
        ref_sizes = {
            1: reference_size(half.height, half.width, factor, output_scale=2),
            2: reference_size(height, width, factor),
        }
        stage_1_sigmas = distilled_sigmas() if stage_1_sigmas is None else stage_1_sigmas
        stage_2_sigmas = stage_2_distilled_sigmas() if stage_2_sigmas is None else stage_2_sigmas
        phases = Phases(progress)
        run = self._run(request, phases)

        (contexts,) = self._encode_prompts([prompt], images, phases, enhance_prompt=enhance_prompt, enhance_seed=seed)
        reference_audio_latent = self.audio_conditioner(
            lambda encode: encode_reference_audio(encode, ref.audio, self.files.audio_vae)
        )

        def conditionings(stage: int, height: int, width: int, audio_reference: torch.Tensor) -> tuple[list, list]:
            """Images (frame 0 replaces, others appended) and the reference video re-encoded at this stage's size,
            and the audio reference; recorded under `stage{stage}_`."""

            def build(encode: VideoEncodeFn) -> list:
                items: list = []
                if images:
                    encode_images = recorded_encoder(encode, len(images))
                    load = self.image_conditioner.load_image
                    items = combined_image_conditionings(
                        images, height, width, encode_images, self.dtype, self.device, load_image_fn=load
                    )
                tiling = TilingConfig.default()
                latent = encode_reference(encode, ref.frames, ref_sizes[stage], self.dtype, self.device, tiling)
                items.append(reference_conditioning(latent, factor, reference_strength))
                return items

            with recording_under(f"stage{stage}_"):
                return self.image_conditioner(build), [audio_reference_item(audio_reference)]

        with self.stage.session():
            video_1, audio_1 = conditionings(1, half.height, half.width, reference_audio_latent)
            stage_1 = self._first_stage(
                self.stage,
                SimpleDenoiser(contexts.video_context, contexts.audio_context),
                stage_1_sigmas,
                run.half(),
                video=ModalitySpec(contexts.video_context, video_1),
                audio=ModalitySpec(contexts.audio_context, audio_1),
            )
            assert stage_1.audio_latent is not None
            stage_1_audio = stage_1.audio_latent.clone()
            video_2, audio_2 = conditionings(2, height, width, stage_1_audio)  # the stage-1 audio is the reference
            frozen_audio = ModalitySpec(  # the stage-1 audio, kept as it is
                contexts.audio_context, audio_2, noise_scale=0.0, frozen=True, initial_latent=stage_1_audio
            )
            stage_2 = self._upsample_and_refine(
                self.stage,
                stage_1,
                contexts,
                stage_2_sigmas,
                run,
                images=images,
                conditionings=video_2,
                audio=frozen_audio,
            )

        # The stage-1 audio is the dub: stage 2 only sharpens the video (its audio is frozen).
        final = StageResult(stage_2.video_latent, stage_1_audio)
        return self._decode(run, final, prompt_text(contexts, prompt), tiling_config)


def main(argv: Sequence[str] | None = None) -> None:
    from ltx_pipelines.cli.commands import main as run_command_line  # the command line lives in ltx_pipelines.cli

    run_command_line("dubit", argv)


if __name__ == "__main__":
    main()
