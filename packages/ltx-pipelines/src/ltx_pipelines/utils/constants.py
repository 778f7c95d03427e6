"""Pipeline defaults: fixed sigma tables, per-model parameter sets and the default negative prompt."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import torch

from ltx_core.components.guiders import MultiModalGuiderParams
from ltx_core.loader.safetensors_file import SafetensorsFile
from ltx_core.model.duration_head import AutoDuration

if TYPE_CHECKING:
    from ltx_core.numerics import Numerics

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
DEFAULT_IMAGE_CRF = 33  # the image CRF of LTX-2 / LTX-2.3 files (and of every file under 1.1.3 numerics)


@dataclass(frozen=True)
class PipelineParams:
    seed: int = 10
    stage_1_height: int = 512
    stage_1_width: int = 768
    num_frames: int = 121
    frame_rate: float = 24.0
    num_inference_steps: int = 40
    default_image_crf: int = DEFAULT_IMAGE_CRF
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
LTX_2_4_PARAMS = replace(LTX_2_3_PARAMS, default_image_crf=18)  # LTX-2.4 and 2.5 files (delta A.14, E.3)
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


NUM_FRAMES_WITHOUT_DURATION_HEAD = 121  # 1.1.3's default frame count
DURATION_HEAD_PREFIX = "duration_head."
ANCESTRAL_SEED_OFFSET = 10000  # the LTX-2.5 distilled stage 1 seeds its Euler-ancestral noise with seed + this


def frames_when_not_given(checkpoint: Any) -> int | AutoDuration:
    """The frame count of a command line without --num-frames (delta A.14, C.4): on files with a duration head
    (LTX-2.5) the head chooses it from the prompt, between 1 and 20 s (`AutoDuration()`, as official); every
    LTX-2 / LTX-2.3 file keeps 1.1.3's 121 frames (the official 1.2.0 fails there; we do not copy that)."""
    try:
        keys = SafetensorsFile(checkpoint).tensors if checkpoint is not None else {}
    except Exception:  # a bad file is reported by the checks that read it
        keys = {}
    if any(key.startswith(DURATION_HEAD_PREFIX) for key in keys):
        return AutoDuration()
    return NUM_FRAMES_WITHOUT_DURATION_HEAD


def parse_model_version(text: str) -> tuple[int, ...]:
    """A `model_version` string as comparable numbers (delta E.3): "-" read as ".", the leading run of all-digit
    parts kept ("2.3.0" → (2, 3, 0), "2.4-rc2" → (2, 4), "2.3rc1" → (2,)); "" → () (below every version)."""
    numbers: list[int] = []
    for part in text.replace("-", ".").split("."):
        if not (part.isascii() and part.isdigit()):
            break
        numbers.append(int(part))
    return tuple(numbers)


def model_version(checkpoint: Any) -> tuple[int, ...]:
    """The parsed `model_version` of a checkpoint file, shards (the first one's metadata) or in-memory source
    (its `metadata`); () when absent or unreadable (the loader reports a bad file properly later)."""
    if isinstance(checkpoint, (list, tuple)):
        checkpoint = checkpoint[0]
    metadata = getattr(checkpoint, "metadata", None)
    if metadata is None:
        try:
            metadata = SafetensorsFile(checkpoint).metadata
        except Exception as e:  # only a default depends on it here
            logger.warning("could not read model_version from %s (%s); taking it as unversioned", checkpoint, e)
            return ()
    return parse_model_version(str(metadata.get("model_version", "")))


def params_for_version(version: tuple[int, ...]) -> PipelineParams:
    """The defaults of a parsed model version (delta E.3): ≥ 2.4 → LTX-2.4's, ≥ 2.3 → LTX-2.3's, else LTX-2's."""
    if version >= (2, 4):
        return LTX_2_4_PARAMS
    return LTX_2_3_PARAMS if version >= (2, 3) else LTX_2_PARAMS


def detect_params(checkpoint_path: Any) -> PipelineParams:
    """The defaults the checkpoint's `model_version` selects (LTX-2's when absent or unreadable)."""
    return params_for_version(model_version(checkpoint_path))


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
NEGATIVE_PROMPT_1_1_3 = ", ".join(_NEGATIVE_PROMPT_ITEMS) + "."
# 1.2.0 puts five items ahead of 1.1.3's list (delta A.14)
_NEGATIVE_PROMPT_ITEMS_1_2_0 = (
    "has_subtitles",
    "has_blurbox",
    "transition from black",
    "transition to black",
    "speech_ending_short",
)
DEFAULT_NEGATIVE_PROMPT = ", ".join(_NEGATIVE_PROMPT_ITEMS_1_2_0) + ", " + NEGATIVE_PROMPT_1_1_3


def default_negative_prompt(numerics: Numerics) -> str:
    """The negative prompt a command line uses when none is given: the release's own, so that `--numerics 1.1.3`
    gives 1.1.3's video for the same arguments."""
    return DEFAULT_NEGATIVE_PROMPT if numerics.cli_defaults_1_2_0 else NEGATIVE_PROMPT_1_1_3
