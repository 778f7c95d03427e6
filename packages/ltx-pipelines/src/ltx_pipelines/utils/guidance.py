"""Guider construction for the guided pipelines: the user's guider params (or sigma-dependent factories) with the
negative prompt's contexts."""

from __future__ import annotations

from typing import Any

from ltx_core.components.guiders import (
    MultiModalGuider,
    MultiModalGuiderFactory,
    MultiModalGuiderParams,
    create_multimodal_guider_factory,
)
from ltx_core.errors import InputError

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
