"""Audio to video in two stages (spec 13.7): the video is generated to an existing soundtrack, which stays untouched.

Recipe: read the soundtrack (a time window of a file) and encode it → encode the prompts → stage 1 at half size with
video guidance (CFG/STG/modality) while the audio latent stays frozen and clean → x2 latent upsampling → stage 2 at
full size with the distilled LoRA, audio frozen again → decode the video. The result carries the ORIGINAL waveform,
not an audio VAE round trip.

Run it: `python -m ltx_pipelines.a2vid_two_stage --help`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Unpack

import torch

from ltx_core.components.guiders import MultiModalGuider, MultiModalGuiderParams
from ltx_core.components.schedulers import LTX2Scheduler
from ltx_core.errors import InputError
from ltx_core.geometry import TWO_STAGE_DIVISOR
from ltx_core.hdr.spaces import HDRColorSpace
from ltx_core.loader import LoraSpec
from ltx_core.types import Audio
from ltx_pipelines.utils.blocks import DEFAULT_TILING, AudioConditioner, FrameChunks, ModalitySpec
from ltx_pipelines.utils.constants import default_negative_prompt, stage_2_distilled_sigmas
from ltx_pipelines.utils.denoisers import GuidedDenoiser
from ltx_pipelines.utils.helpers import ImageConditioningInput
from ltx_pipelines.utils.inputs import VideoRequest
from ltx_pipelines.utils.pipeline_base import PipelineBase, PipelineOptions
from ltx_pipelines.utils.recording import Recorder, pipeline_call
from ltx_pipelines.utils.results import Phases, Progress
from ltx_pipelines.utils.source_media import AudioSource, encode_source_audio, read_soundtrack

logger = logging.getLogger(__name__)

DEFAULT_STEPS = 30  # LTX-2.3 default (the official A2Vid CLI always uses the LTX-2.3 parameters)


@dataclass
class A2VidResult:
    """`video` yields `[f, h, w, 3]` chunks in [0, 1] (iterate once, or `close()` it); `audio` is the input
    soundtrack as read (window applied, padded with silence when shorter than the video), float32 `(C, N)`."""

    video: FrameChunks
    audio: Audio
    video_latent: torch.Tensor
    audio_latent: torch.Tensor
    frame_rate: float
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per phase
    color_space: HDRColorSpace | None = None  # an HDR run: float32 working-space codes (`PipelineResult`'s)


class A2VidPipelineTwoStage(PipelineBase):
    """Full model; stage 1 guided (video guidance only) with user LoRAs, stage 2 unguided with the distilled LoRA
    added. Each stage builds its transformer and frees it (`cache_transformer=True` keeps both for the next
    call); every other model lives for its step only."""

    def __init__(
        self,
        checkpoint_path: str | Path | Any,
        distilled_lora: Sequence[LoraSpec],
        spatial_upsampler_path: str | Path,
        gemma_root: str | Path | None,
        loras: Sequence[LoraSpec] = (),
        device: torch.device | str | None = None,
        **options: Unpack[PipelineOptions],
    ) -> None:
        if not distilled_lora:
            raise InputError("A2Vid needs the distilled LoRA for stage 2 (--distilled-lora PATH [STRENGTH])")
        super().__init__(
            checkpoint_path, gemma_root, device=device, spatial_upsampler_path=spatial_upsampler_path, **options
        )
        self.audio_conditioner = AudioConditioner(self.files.audio_vae, dtype=self.dtype, device=self.device)
        self.stage_1 = self._stage(loras)
        self.stage_2 = self._stage((*loras, *distilled_lora))

    @pipeline_call
    def __call__(
        self,
        prompt: Any,
        seed: int,
        height: int,
        width: int,
        num_frames: int,
        frame_rate: float,
        audio: AudioSource,
        *,
        negative_prompt: Any = None,
        num_inference_steps: int = DEFAULT_STEPS,
        video_guider_params: MultiModalGuiderParams | None = None,
        images: Sequence[ImageConditioningInput] = (),
        audio_start_time: float = 0.0,
        audio_max_duration: float | None = None,
        tiling_config: Any = DEFAULT_TILING,
        enhance_prompt: bool = False,
        max_batch_size: int = 1,
        stage_1_sigmas: torch.Tensor | None = None,
        stage_2_sigmas: torch.Tensor | None = None,
        color_space: HDRColorSpace | None = None,
        record: Recorder | None = None,
        progress: Progress | None = None,
    ) -> A2VidResult:
        """`audio` is a file (any container PyAV reads) or a decoded `Audio`; the window `[audio_start_time,
        audio_start_time + audio_max_duration)` is used (None: to the end). Mono is used as both channels; a track
        shorter than the video is padded with silence; a silent track is refused. Prompts are strings or
        precomputed `PromptContexts`; an image's `path` may be a decoded uint8 `[H, W, 3]` array. No
        `negative_prompt`: the numerics' release default (`default_negative_prompt`). `color_space`: native HDR
        (spec NP 5; EXR images read in it, a float32 decode to its working-space codes)."""
        if negative_prompt is None:
            negative_prompt = default_negative_prompt(self.numerics)
        request = VideoRequest(seed, height, width, num_frames, frame_rate).check(TWO_STAGE_DIVISOR)
        video_guider_params = video_guider_params or MultiModalGuiderParams()
        stage_1_sigmas = (
            LTX2Scheduler().execute(steps=num_inference_steps) if stage_1_sigmas is None else stage_1_sigmas
        )
        stage_2_sigmas = stage_2_distilled_sigmas() if stage_2_sigmas is None else stage_2_sigmas
        phases = Phases(progress)
        notes: list[str] = []

        with phases("read audio"):
            soundtrack = read_soundtrack(audio, audio_start_time, audio_max_duration, num_frames / frame_rate, notes)
        for note in notes:
            logger.info(note)
        run = self._run(request, phases, color_space)

        positive, negative = self._encode_prompts(
            [prompt, negative_prompt], images, phases, enhance_prompt=enhance_prompt
        )
        with phases("encode audio"):
            from ltx_core.model.audio_vae import audio_latent_frames_for_video

            audio_latent = encode_source_audio(
                self.audio_conditioner,
                soundtrack,
                audio_latent_frames_for_video(num_frames, frame_rate),
                mel_name="audio_mel",
                full_name="audio_latent_full",
            )
        # The soundtrack stays clean in both stages: frozen, never noised.
        frozen_audio = ModalitySpec(positive.audio_context, (), 0.0, frozen=True, initial_latent=audio_latent)

        guided = GuidedDenoiser(
            positive.video_context,
            positive.audio_context,
            MultiModalGuider(video_guider_params, negative.video_context),
            MultiModalGuider(MultiModalGuiderParams()),  # neutral: the audio is never denoised
        )
        conditionings = self._conditionings(images, run.half(), stage=1)
        stage_1 = self._first_stage(
            self.stage_1,
            guided,
            stage_1_sigmas,
            run.half(),
            video=ModalitySpec(positive.video_context, conditionings),
            audio=frozen_audio,
            max_batch_size=max_batch_size,
        )
        stage_2 = self._upsample_and_refine(
            self.stage_2, stage_1, positive, stage_2_sigmas, run, images=images, audio=frozen_audio
        )

        assert stage_2.video_latent is not None and stage_2.audio_latent is not None
        video = self._decode_video(run, stage_2.video_latent, tiling_config)
        return A2VidResult(
            video,
            soundtrack,
            stage_2.video_latent,
            stage_2.audio_latent,
            frame_rate,
            notes,
            phases.seconds,
            color_space,
        )


def main(argv: Sequence[str] | None = None) -> None:
    from ltx_pipelines.cli.commands import main as run_command_line  # the command line lives in ltx_pipelines.cli

    run_command_line("a2vid_two_stage", argv)


if __name__ == "__main__":
    main()
