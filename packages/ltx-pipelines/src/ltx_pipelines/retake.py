"""Retake (spec 13.8): regenerate the time window [start, end) of an existing clip, keeping everything else.

Recipe: encode the source video (and its audio track) into clean latents → one diffusion stage at the source's
size, frame count and fps, where a temporal mask sets every token overlapping the window to "generate" and every
other token to "keep" → decode video and audio. Distilled checkpoints run the fixed 8-step table without guidance;
full checkpoints run the LTX-2 scheduler with CFG/STG/modality guidance. Native HDR (`color_space`, spec NP 5): the
source may be a folder of EXR frames (with the frame rate it lacks, no audio), and the video decodes in float32.

Run it: `python -m ltx_pipelines.retake --help`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Unpack

import torch

from ltx_core.components.guiders import MultiModalGuider, MultiModalGuiderParams
from ltx_core.conditioning import TemporalRegionMask
from ltx_core.errors import InputError
from ltx_core.hdr.spaces import HDRColorSpace
from ltx_core.loader import LoraSpec
from ltx_core.types import Audio
from ltx_pipelines.media.exr import check_exr_inputs
from ltx_pipelines.media.video import VideoClip
from ltx_pipelines.utils.blocks import DEFAULT_TILING, AudioConditioner, FrameChunks, ModalitySpec
from ltx_pipelines.utils.denoisers import GuidedDenoiser, SimpleDenoiser
from ltx_pipelines.utils.inputs import VideoRequest
from ltx_pipelines.utils.pipeline_base import PipelineBase, PipelineOptions
from ltx_pipelines.utils.recording import Recorder, pipeline_call
from ltx_pipelines.utils.results import Phases, Progress
from ltx_pipelines.utils.schedules import distilled_or_scheduled_sigmas
from ltx_pipelines.utils.source_media import (
    ExrSource,
    VideoSource,
    encode_exr_source_video,
    encode_source,
    read_exr_source,
    read_source,
)

logger = logging.getLogger(__name__)

DEFAULT_FULL_STEPS = 40  # official default of the pipeline class (the CLI picks 30 for LTX-2.3, 40 for LTX-2)


@dataclass
class RetakeResult:
    """`video` yields `[f, h, w, 3]` chunks in [0, 1] (iterate once, or `close()` it); `audio` is None only when the
    source has no audio track and `regenerate_audio` is False; the latents are the stage's results."""

    video: FrameChunks
    audio: Audio | None
    video_latent: torch.Tensor
    audio_latent: torch.Tensor | None
    frame_rate: float
    notes: list[str] = field(default_factory=list)  # what was decided for the user (ignored steps, no audio, ...)
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per phase
    color_space: HDRColorSpace | None = None  # an HDR call: float32 ACEScct codes, written as EXR frames + HLG master


class RetakePipeline(PipelineBase):
    """One stage at the source resolution; `distilled=True` (default, as official) for distilled checkpoints.

    Every model is built for its step and freed after (`cache_transformer=True` keeps the transformer).
    """

    def __init__(
        self,
        checkpoint_path: str | Path | Any,
        gemma_root: str | Path | None,
        loras: Sequence[LoraSpec] = (),
        device: torch.device | str | None = None,
        *,
        distilled: bool = True,
        **options: Unpack[PipelineOptions],
    ) -> None:
        super().__init__(checkpoint_path, gemma_root, device=device, **options)
        self.distilled = distilled
        self.checkpoint = checkpoint_path
        self.audio_conditioner = AudioConditioner(self.files.audio_vae, dtype=self.dtype, device=self.device)
        self.stage = self._stage(loras)

    @pipeline_call
    def __call__(
        self,
        video: VideoSource,
        prompt: Any,
        start_time: float,
        end_time: float,
        seed: int,
        *,
        source_audio: Audio | None = None,
        negative_prompt: Any = "",
        num_inference_steps: int | None = None,
        video_guider_params: MultiModalGuiderParams | None = None,
        audio_guider_params: MultiModalGuiderParams | None = None,
        regenerate_video: bool = True,
        regenerate_audio: bool = True,
        enhance_prompt: bool = False,
        tiling_config: Any = DEFAULT_TILING,
        max_batch_size: int = 1,
        sigmas: torch.Tensor | None = None,
        frame_rate: float | None = None,
        color_space: HDRColorSpace | None = None,
        record: Recorder | None = None,
        progress: Progress | None = None,
    ) -> RetakeResult:
        """`video` is a file (its audio track is the source audio) or decoded frames (`VideoClip`, with the audio
        as `source_audio`, or None for a silent clip). Prompts are strings or precomputed `PromptContexts`.
        Full mode needs both guider params; distilled mode uses the 8-step table and ignores
        `num_inference_steps` (noted in `result.notes`). `color_space` (native HDR, spec NP 5): `video` may be a
        folder of EXR frames in that space (all of them, sorted by name; `frame_rate` is then required, as a folder
        has none, and refused otherwise; no audio track), and the video decodes in float32."""
        if not start_time < end_time:
            raise InputError(f"start time {start_time} s must be before end time {end_time} s")
        if not (regenerate_video or regenerate_audio):
            raise InputError("nothing to regenerate: set regenerate_video and/or regenerate_audio")
        if not self.distilled and (video_guider_params is None or audio_guider_params is None):
            raise InputError("a full (non-distilled) checkpoint needs video and audio guider params")
        phases = Phases(progress)
        notes: list[str] = []

        source: VideoClip | ExrSource
        with phases("read source"):
            if isinstance(video, str | Path) and check_exr_inputs([video], color_space):
                source, audio = read_exr_source(video, frame_rate, start_time, end_time), None
                frames, height, width, fps = source.frames, source.height, source.width, source.fps
            else:
                if frame_rate is not None:
                    raise InputError(
                        f"frame_rate {frame_rate} is only for a folder of EXR frames; the source video keeps its own"
                    )
                source, audio = read_source(video, source_audio, start_time, end_time)
                frames, height, width = (int(s) for s in source.frames.shape[:3])
                fps = source.fps
        if audio is None:
            notes.append(
                "the source has no audio track: the soundtrack is generated for the whole clip"
                if regenerate_audio
                else "the source has no audio track and regenerate_audio is off: the result has no audio"
            )
        sigmas = distilled_or_scheduled_sigmas(
            sigmas, num_inference_steps, distilled=self.distilled, default_steps=DEFAULT_FULL_STEPS, notes=notes
        )
        for note in notes:
            logger.info(note)

        # the source's own geometry; an HDR run decodes in float32
        run = self._run(VideoRequest(seed, height, width, frames, fps), phases, color_space)

        with phases("encode source"):
            if isinstance(source, ExrSource):
                assert color_space is not None
                video_latent, audio_latent = encode_exr_source_video(self.image_conditioner, source, color_space), None
                if run.record is not None:
                    run.record("source_video_latent", video_latent)
            else:
                video_latent, audio_latent = encode_source(
                    self.image_conditioner, self.audio_conditioner, source, audio
                )

        prompts = [prompt] if self.distilled else [prompt, negative_prompt]
        contexts = self._encode_prompts(prompts, (), phases, enhance_prompt=enhance_prompt, enhance_seed=seed)
        positive = contexts[0]
        if self.distilled:
            denoiser: Any = SimpleDenoiser(positive.video_context, positive.audio_context)
        else:
            negative = contexts[1]
            denoiser = GuidedDenoiser(
                positive.video_context,
                positive.audio_context,
                MultiModalGuider(video_guider_params, negative.video_context),  # type: ignore[arg-type]
                MultiModalGuider(audio_guider_params, negative.audio_context),  # type: ignore[arg-type]
            )

        window = TemporalRegionMask(start_time, end_time, fps)
        video_spec = ModalitySpec(
            positive.video_context,
            [window] if regenerate_video else [],
            frozen=not regenerate_video,
            initial_latent=video_latent,
        )
        if audio is None and not regenerate_audio:
            audio_spec = None  # nothing to keep and nothing asked for: a video-only stage
        else:
            has_audio = audio_latent is not None
            audio_spec = ModalitySpec(
                positive.audio_context,
                [window] if has_audio and regenerate_audio else [],
                frozen=has_audio and not regenerate_audio,
                initial_latent=audio_latent,
            )
        result = self._first_stage(  # one stage at the source's own size, frame count and fps
            self.stage, denoiser, sigmas, run, video=video_spec, audio=audio_spec, max_batch_size=max_batch_size
        )

        assert result.video_latent is not None
        decoded_audio = None
        if result.audio_latent is not None:
            with phases("decode audio"):
                decoded_audio = self.audio_decoder(result.audio_latent)
        frames_out = self._decode_video(run, result.video_latent, tiling_config)
        return RetakeResult(
            video=frames_out,
            audio=decoded_audio,
            video_latent=result.video_latent,
            audio_latent=result.audio_latent,
            frame_rate=fps,
            notes=notes,
            seconds=phases.seconds,
            color_space=color_space,
        )


def main(argv: Sequence[str] | None = None) -> None:
    from ltx_pipelines.cli.commands import main as run_command_line  # the command line lives in ltx_pipelines.cli

    run_command_line("retake", argv)


if __name__ == "__main__":
    main()
