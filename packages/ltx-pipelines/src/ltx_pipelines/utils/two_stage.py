"""The steps of the generic two-stage flow (spec 13.0) that the pipelines share: prompt encoding, x2 upsampling of
the stage-1 video latent, the unguided stage-2 refinement, and decoding.

Stage 2 re-noises the upsampled video latent (and, unless the pipeline freezes it, the stage-1 audio latent) to the
schedule's first sigma and refines it with one conditional pass per step; pipelines differ only in stage 1 and in
what stage 2 conditions on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ltx_core.components.diffusion_steps import Res2sDiffusionStep
from ltx_core.components.noisers import ConditioningItem, GaussianNoiser
from ltx_pipelines.utils.blocks import (
    AudioDecoder,
    DiffusionStage,
    ModalitySpec,
    PromptEncoder,
    StageResult,
    VideoDecoder,
    VideoUpsampler,
)
from ltx_pipelines.utils.denoisers import SimpleDenoiser
from ltx_pipelines.utils.helpers import ImageConditioningInput, first_image_path
from ltx_pipelines.utils.recording import Recorder
from ltx_pipelines.utils.res2s import Res2sLoop
from ltx_pipelines.utils.results import Phases, PipelineResult
from ltx_pipelines.utils.samplers import StepCallback

DEFAULT_ENHANCE_SEED = 42  # the prompt-enhancement sampling seed when a pipeline does not pass its own


def encode_prompts(
    encoder: PromptEncoder,
    prompts: Sequence[Any],
    images: Sequence[ImageConditioningInput],
    phases: Phases,
    *,
    enhance_prompt: bool = False,
    enhance_seed: int = DEFAULT_ENHANCE_SEED,
) -> list[Any]:
    """Contexts per prompt (the first one optionally enhanced, looking at the first image); precomputed
    `PromptContexts` pass through without building Gemma."""
    with phases("prompt"):
        return encoder(
            list(prompts),
            enhance_first_prompt=enhance_prompt,
            enhance_prompt_image=first_image_path(images) if enhance_prompt else None,
            enhance_prompt_seed=enhance_seed,
        )


def upsample(upsampler: VideoUpsampler, stage_1: StageResult, phases: Phases, record: Recorder | None) -> torch.Tensor:
    """The stage-1 video latent upsampled x2 (first batch entry), recorded as `upsampled_video_latent`."""
    assert stage_1.video_latent is not None
    with phases("upsample"):
        upscaled = upsampler(stage_1.video_latent[:1])
        if record is not None:
            record("upsampled_video_latent", upscaled)
    return upscaled


def refine_stage(
    stage: DiffusionStage,
    contexts: Any,
    sigmas: torch.Tensor,
    noiser: GaussianNoiser,
    *,
    upscaled: torch.Tensor,
    audio_latent: torch.Tensor | None = None,
    conditionings: Sequence[ConditioningItem] = (),
    height: int,
    width: int,
    num_frames: int,
    frame_rate: float,
    audio: ModalitySpec | None = None,
    res2s: bool = False,
    on_step: StepCallback | None = None,
    record: Recorder | None = None,
) -> StageResult:
    """Stage 2: the video re-noised from `upscaled` to `sigmas[0]` and refined with one unguided pass per step
    (spec 13.0 step 8); the audio re-noised the same way from `audio_latent`, unless the pipeline gives its own
    `audio` spec (frozen soundtracks). Euler steps, or the res_2s sampler when `res2s` (HQ)."""
    noise_scale = float(sigmas[0])
    if audio is None:
        audio = ModalitySpec(contexts.audio_context, (), noise_scale, initial_latent=audio_latent)
    return stage(
        SimpleDenoiser(contexts.video_context, contexts.audio_context),
        sigmas,
        noiser,
        width=width,
        height=height,
        frames=num_frames,
        fps=frame_rate,
        video=ModalitySpec(contexts.video_context, tuple(conditionings), noise_scale, initial_latent=upscaled),
        audio=audio,
        stepper=Res2sDiffusionStep() if res2s else None,
        loop=Res2sLoop(record) if res2s else None,
        on_step=on_step,
        record=record,
    )


def decode(
    video_decoder: VideoDecoder,
    audio_decoder: AudioDecoder,
    video_latent: torch.Tensor | None,
    audio_latent: torch.Tensor | None,
    *,
    prompt: str,
    frame_rate: float,
    tiling_config: Any,
    generator: torch.Generator,
    phases: Phases,
) -> PipelineResult:
    """Audio now; video lazily (the decoder draws from the pipeline generator, after all diffusion draws)."""
    assert video_latent is not None and audio_latent is not None
    with phases("decode audio"):
        audio = audio_decoder(audio_latent)
    video = video_decoder(video_latent, tiling_config, generator)
    return PipelineResult(video, audio, video_latent, audio_latent, prompt, frame_rate, phases.seconds)
