"""What the guided pipelines share (one-stage, two-stage, HQ, keyframe interpolation; spec 13.1-13.3, 13.5).

The pipelines differ only in their recipe; the pieces here are the ones that would otherwise be copied: input
checks, schedules, guider construction from the negative prompt, image conditionings (replace-or-append vs all
appended), the unguided stage-2 refinement, per-call recording for parity tests, the distilled-checkpoint warning and
the command-line runner.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ltx_core.components.guiders import (
    MultiModalGuider,
    MultiModalGuiderFactory,
    MultiModalGuiderParams,
    create_multimodal_guider_factory,
)
from ltx_core.components.schedulers import LTX2Scheduler, validate_sigmas
from ltx_core.errors import InputError
from ltx_core.geometry import ONE_STAGE_DIVISOR, TWO_STAGE_DIVISOR
from ltx_core.loader import LoraSpec
from ltx_core.types import VideoLatentShape, VideoPixelShape
from ltx_pipelines.utils.blocks import (
    PLAIN_RUNTIME,
    TransformerRuntime,
)
from ltx_pipelines.utils.helpers import (
    ImageConditioningInput,
)
from ltx_pipelines.utils.inputs import check_images, check_video_size
from ltx_pipelines.utils.pipeline_base import PipelineBase
from ltx_pipelines.utils.recording import prefixed
from ltx_pipelines.utils.results import Phases, PipelineResult, Progress, prompt_text

GuidedResult = PipelineResult  # the former name, kept for callers
__all__ = ["ONE_STAGE_DIVISOR", "TWO_STAGE_DIVISOR", "GuidedResult", "Phases", "Progress", "check_images",
           "check_video_size", "prefixed", "prompt_text"]  # fmt: skip

logger = logging.getLogger(__name__)

GuiderInput = MultiModalGuiderParams | MultiModalGuiderFactory


# --- inputs ------------------------------------------------------------------------------------------------------


def require_distilled_lora(distilled_lora: Sequence[LoraSpec] | LoraSpec | None) -> tuple[LoraSpec, ...]:
    """The two-stage pipelines refine with the distilled LoRA; without it stage 2's 3 steps give noise."""
    if isinstance(distilled_lora, LoraSpec):
        distilled_lora = (distilled_lora,)
    loras = tuple(distilled_lora or ())
    if not loras:
        raise InputError("the distilled LoRA is required for stage 2: pass --distilled-lora PATH [STRENGTH] "
                         "(Python: distilled_lora=[LoraSpec(path, strength)])")  # fmt: skip
    return loras


# --- distilled checkpoint warning --------------------------------------------------------------------------------

_warned: set[str] = set()


def looks_distilled(checkpoint: str | Path) -> bool:
    """True when the file name, or a metadata entry other than the model `config`, says "distill".

    The released distilled files are named `*-distilled*.safetensors`; the metadata check catches renamed copies whose
    header says so. Unreadable files give False (loading reports them properly later).
    """
    path = Path(checkpoint)
    if "distill" in path.name.lower():
        return True
    try:
        from ltx_core.loader import SafetensorsFile

        metadata = SafetensorsFile(path).metadata
    except Exception:  # only a hint; the loader reports bad files with a proper error
        return False
    return any("distill" in str(v).lower() for k, v in metadata.items() if k != "config")


def warn_if_distilled(checkpoint: str | Path, pipeline: str) -> bool:
    """Warn once per checkpoint and process when a distilled model is run through a CFG pipeline."""
    key = str(Path(checkpoint).expanduser().resolve())
    if key in _warned or not looks_distilled(checkpoint):
        return False
    _warned.add(key)
    logger.warning(
        "%s looks like a DISTILLED checkpoint, but %s runs CFG/STG guidance over many steps, which makes a distilled "
        "model's output grainy and over-saturated. Use the full (dev) checkpoint here, or run this file with "
        "python -m ltx_pipelines.distilled.",
        Path(checkpoint).name,
        pipeline,
    )
    return True


# --- schedules and guiders ---------------------------------------------------------------------------------------


def given_sigmas(sigmas: torch.Tensor | Sequence[float] | None, what: str) -> torch.Tensor | None:
    """A user schedule, checked (≥ 2 values in [0, 1], strictly decreasing, ending at 0), or None."""
    return None if sigmas is None else validate_sigmas(sigmas, what=what)


def scheduler_sigmas(steps: int, latent_shape: VideoLatentShape | None = None) -> torch.Tensor:
    """`LTX2Scheduler` with `steps`; the shift depends on the latent's token count only when a shape is given (HQ)."""
    latent = None if latent_shape is None else torch.empty(latent_shape.to_torch_shape(), device="meta")
    return LTX2Scheduler().execute(steps=steps, latent=latent)


def stage_latent_shape(height: int, width: int, num_frames: int, frame_rate: float, channels: int) -> VideoLatentShape:
    pixel = VideoPixelShape(1, num_frames, height, width, frame_rate)
    return VideoLatentShape.from_pixel_shape(pixel, channels=channels)


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
            raise InputError(f"{name} must be MultiModalGuiderParams for the HQ pipeline (sigma-dependent factories "
                             f"are not supported there), got {type(params).__name__}")  # fmt: skip
    return MultiModalGuider(video, negative.video_context), MultiModalGuider(audio, negative.audio_context)


# --- shared recipe steps ------------------------------------------------------------------------------------------


class GuidedPipelineBase(PipelineBase):
    """Blocks and recipe steps every guided pipeline has; adds the (positive, negative) prompt pair."""

    def __init__(
        self,
        checkpoint_path: str | Path,
        gemma_root: str | Path | None,
        device: torch.device | str | None,
        dtype: torch.dtype,
        memory_efficient_decode: bool,
        runtime: TransformerRuntime = PLAIN_RUNTIME,
        spatial_upsampler_path: str | Path | None = None,
    ) -> None:
        super().__init__(checkpoint_path, gemma_root, device=device, dtype=dtype, runtime=runtime,
                         memory_efficient_decode=memory_efficient_decode,
                         spatial_upsampler_path=spatial_upsampler_path)  # fmt: skip

    def _prompts(
        self,
        prompt: Any,
        negative_prompt: Any,
        images: Sequence[ImageConditioningInput],
        enhance_prompt: bool,
        seed: int,
        phases: Phases,
    ) -> tuple[Any, Any]:
        """(positive, negative) contexts; the enhancement (of the positive prompt) samples with the run's seed."""
        positive, negative = self._encode_prompts([prompt, negative_prompt], images, phases,
                                                  enhance_prompt=enhance_prompt, enhance_seed=seed)  # fmt: skip
        return positive, negative


class TwoStageGuidedBase(GuidedPipelineBase):
    """Two-stage, HQ and keyframe interpolation: a guided stage 1 with `stage_1_loras`, then the shared two-stage
    tail (`_upsample_and_refine`) on `stage_2` with `stage_2_loras`."""

    def __init__(
        self,
        checkpoint_path: str | Path,
        spatial_upsampler_path: str | Path,
        gemma_root: str | Path | None,
        stage_1_loras: Sequence[LoraSpec],
        stage_2_loras: Sequence[LoraSpec],
        device: torch.device | str | None,
        dtype: torch.dtype,
        memory_efficient_decode: bool,
        runtime: TransformerRuntime = PLAIN_RUNTIME,
    ) -> None:
        super().__init__(checkpoint_path, gemma_root, device, dtype, memory_efficient_decode, runtime,
                         spatial_upsampler_path)  # fmt: skip
        self.stage_1 = self._stage(stage_1_loras)
        self.stage_2 = self._stage(stage_2_loras)
