"""Guider construction for the guided pipelines: the user's guider params (or sigma-dependent factories) with the
negative prompt's contexts, and the two guided denoisers a recipe picks between (sigma-dependent or fixed guiders)."""

from __future__ import annotations

from typing import Any

from ltx_core.components.guiders import (
    MultiModalGuider,
    MultiModalGuiderFactory,
    MultiModalGuiderParams,
    create_multimodal_guider_factory,
)
from ltx_core.errors import InputError
from ltx_pipelines.utils.denoisers import Denoiser, FactoryGuidedDenoiser, GuidedDenoiser

GuiderInput = MultiModalGuiderParams | MultiModalGuiderFactory


def guider_factories(
    video: GuiderInput, audio: GuiderInput, negative: Any
) -> tuple[MultiModalGuiderFactory, MultiModalGuiderFactory]:
    """Sigma-dependent guider factories carrying the negative prompt's contexts (one-stage, two-stage, keyframe)."""
    return (
        create_multimodal_guider_factory(video, negative.video_context),
        create_multimodal_guider_factory(audio, negative.audio_context),
    )


def static_guiders(video: GuiderInput, audio: GuiderInput, negative: Any) -> tuple[MultiModalGuider, MultiModalGuider]:
    """Fixed guiders (HQ): plain params only."""
    for name, params in (("video_guider_params", video), ("audio_guider_params", audio)):
        if not isinstance(params, MultiModalGuiderParams):
            raise InputError(
                f"{name} must be MultiModalGuiderParams for the HQ pipeline (sigma-dependent factories "
                f"are not supported there), got {type(params).__name__}"
            )
    return MultiModalGuider(video, negative.video_context), MultiModalGuider(audio, negative.audio_context)


def sigma_dependent_guidance(positive: Any, negative: Any, video: GuiderInput, audio: GuiderInput) -> Denoiser:
    """The guided denoiser with sigma-dependent guiders carrying the negative prompt's contexts (one-stage,
    two-stage, keyframe interpolation)."""
    video_factory, audio_factory = guider_factories(video, audio, negative)
    return FactoryGuidedDenoiser(positive.video_context, positive.audio_context, video_factory, audio_factory)


def fixed_guidance(positive: Any, negative: Any, video: GuiderInput, audio: GuiderInput) -> Denoiser:
    """The guided denoiser with fixed guiders (HQ): the guider params must be plain `MultiModalGuiderParams`."""
    video_guider, audio_guider = static_guiders(video, audio, negative)
    return GuidedDenoiser(positive.video_context, positive.audio_context, video_guider, audio_guider)
