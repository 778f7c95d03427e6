"""Pipeline defaults: fixed sigma tables, per-model parameter sets and the default negative prompt."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from ltx_core.components.guiders import MultiModalGuiderParams
from ltx_core.loader.safetensors_file import SafetensorsFile

logger = logging.getLogger(__name__)

DISTILLED_SIGMA_VALUES = (1.0, 0.99375, 0.9875, 0.98125, 0.975, 0.909375, 0.725, 0.421875, 0.0)
STAGE_2_DISTILLED_SIGMA_VALUES = (0.909375, 0.725, 0.421875, 0.0)
HDR_STAGE_2_SIGMA_VALUES = (0.909375, 0.725, 0.0)


def distilled_sigmas() -> torch.Tensor:
    """8-step schedule of the distilled model (fresh f32 tensor: callers move it to their device)."""
    return torch.tensor(DISTILLED_SIGMA_VALUES, dtype=torch.float32)


def stage_2_distilled_sigmas() -> torch.Tensor:
    """3-step refinement schedule of every stage 2."""
    return torch.tensor(STAGE_2_DISTILLED_SIGMA_VALUES, dtype=torch.float32)


DISTILLED_SIGMAS = distilled_sigmas()
STAGE_2_DISTILLED_SIGMAS = stage_2_distilled_sigmas()

DEFAULT_LORA_STRENGTH = 1.0
DEFAULT_IMAGE_CRF = 33


@dataclass(frozen=True)
class PipelineParams:
    seed: int = 10
    stage_1_height: int = 512
    stage_1_width: int = 768
    num_frames: int = 121
    frame_rate: float = 24.0
    num_inference_steps: int = 40
    video_guider_params: MultiModalGuiderParams = field(
        default_factory=lambda: MultiModalGuiderParams(
            cfg_scale=3.0, stg_scale=1.0, rescale_scale=0.7, modality_scale=3.0, skip_step=0, stg_blocks=(29,)
        )
    )
    audio_guider_params: MultiModalGuiderParams = field(
        default_factory=lambda: MultiModalGuiderParams(
            cfg_scale=7.0, stg_scale=1.0, rescale_scale=0.7, modality_scale=3.0, skip_step=0, stg_blocks=(29,)
        )
    )

    @property
    def stage_2_height(self) -> int:
        return int(self.stage_1_height * 2)

    @property
    def stage_2_width(self) -> int:
        return int(self.stage_1_width * 2)


LTX_2_PARAMS = PipelineParams()
LTX_2_3_PARAMS = replace(
    LTX_2_PARAMS,
    num_inference_steps=30,
    video_guider_params=replace(LTX_2_PARAMS.video_guider_params, stg_blocks=(28,)),
    audio_guider_params=replace(LTX_2_PARAMS.audio_guider_params, stg_blocks=(28,)),
)
LTX_2_3_HQ_PARAMS = PipelineParams(
    seed=10,
    stage_1_height=1088 // 2,
    stage_1_width=1920 // 2,
    num_frames=121,
    frame_rate=24.0,
    num_inference_steps=15,
    video_guider_params=MultiModalGuiderParams(
        cfg_scale=3.0, stg_scale=0.0, rescale_scale=0.45, modality_scale=3.0, skip_step=0, stg_blocks=()
    ),
    audio_guider_params=MultiModalGuiderParams(
        cfg_scale=7.0, stg_scale=0.0, rescale_scale=1.0, modality_scale=3.0, skip_step=0, stg_blocks=()
    ),
)


def detect_params(checkpoint_path: str | Path) -> PipelineParams:
    """LTX-2.3 defaults when the checkpoint metadata says `model_version` 2.3*, else LTX-2 (also on read errors)."""
    try:
        version = SafetensorsFile(checkpoint_path).metadata.get("model_version", "")
    except Exception as e:  # the CLI only needs a default here; a real read error surfaces when loading
        logger.warning("could not read model_version from %s (%s); using LTX-2 defaults", checkpoint_path, e)
        return LTX_2_PARAMS
    return LTX_2_3_PARAMS if str(version).startswith("2.3") else LTX_2_PARAMS


_NEGATIVE_PROMPT_ITEMS = (
    "blurry",
    "out of focus",
    "overexposed",
    "underexposed",
    "low contrast",
    "washed out colors",
    "excessive noise",
    "grainy texture",
    "poor lighting",
    "flickering",
    "motion blur",
    "distorted proportions",
    "unnatural skin tones",
    "deformed facial features",
    "asymmetrical face",
    "missing facial features",
    "extra limbs",
    "disfigured hands",
    "wrong hand count",
    "artifacts around text",
    "inconsistent perspective",
    "camera shake",
    "incorrect depth of field",
    "background too sharp",
    "background clutter",
    "distracting reflections",
    "harsh shadows",
    "inconsistent lighting direction",
    "color banding",
    "cartoonish rendering",
    "3D CGI look",
    "unrealistic materials",
    "uncanny valley effect",
    "incorrect ethnicity",
    "wrong gender",
    "exaggerated expressions",
    "wrong gaze direction",
    "mismatched lip sync",
    "silent or muted audio",
    "distorted voice",
    "robotic voice",
    "echo",
    "background noise",
    "off-sync audio",
    "incorrect dialogue",
    "added dialogue",
    "repetitive speech",
    "jittery movement",
    "awkward pauses",
    "incorrect timing",
    "unnatural transitions",
    "inconsistent framing",
    "tilted camera",
    "flat lighting",
    "inconsistent tone",
    "cinematic oversaturation",
    "stylized filters",
    "or AI artifacts",
)
DEFAULT_NEGATIVE_PROMPT = ", ".join(_NEGATIVE_PROMPT_ITEMS) + "."
