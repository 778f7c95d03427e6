"""The two-stage variants are values (`TwoStageRecipe`): HQ and keyframe interpolation differ from the two-stage
recipe only in their fields, and the pipeline class fed the HQ value is the HQ pipeline."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import torch

from ltx_core.components.guiders import MultiModalGuiderParams
from ltx_pipelines.keyframe_interpolation import KEYFRAMES
from ltx_pipelines.ti2vid_two_stages import TWO_STAGES, TI2VidTwoStagesPipeline
from ltx_pipelines.ti2vid_two_stages_hq import HQ, TI2VidTwoStagesHQPipeline
from ltx_pipelines.utils.two_stage import TwoStageRecipe

GUIDED = MultiModalGuiderParams(cfg_scale=3.0, stg_scale=1.0, stg_blocks=(1,))


def _differing(a: TwoStageRecipe, b: TwoStageRecipe) -> set[str]:
    return {f.name for f in fields(TwoStageRecipe) if getattr(a, f.name) != getattr(b, f.name)}


def test_hq_differs_in_sampler_schedule_denoiser_and_loras_only() -> None:
    assert _differing(HQ, TWO_STAGES) == {
        "name",
        "sampler",
        "stage_1_schedule",
        "stage_1_denoiser",
        "distilled_lora_strengths",
    }
    # and keyframe interpolation decodes stage 2's audio under 1.2.0 (the two others stage 1's, delta A.8)
    assert _differing(KEYFRAMES, TWO_STAGES) == {"name", "conditionings", "stage_1_audio"}


def _run(pipeline: Any, c: Any) -> Any:
    """The smallest two-stage run (64 x 64, 9 frames), one step per stage (the default stage-1 schedule's own
    values are checked in test_ti2vid_tiny)."""
    return pipeline(
        c.positive,
        c.negative,
        seed=3,
        height=64,
        width=64,
        num_frames=9,
        frame_rate=24.0,
        num_inference_steps=2,
        video_guider_params=GUIDED,
        audio_guider_params=GUIDED,
        stage_1_sigmas=(1.0, 0.0),
        stage_2_sigmas=(0.909375, 0.0),
    )


def _frames(result: Any) -> torch.Tensor:
    return torch.cat(list(result.video))


def test_the_two_stage_class_fed_the_hq_value_is_the_hq_pipeline(components: Any) -> None:
    c = components
    hq = TI2VidTwoStagesHQPipeline(c.dev, [c.lora], 0.25, 0.5, c.dev, None, device="cpu")
    fed = TI2VidTwoStagesPipeline(c.dev, [c.lora], c.dev, None, device="cpu", recipe=HQ)
    assert (fed.stage_1.loras, fed.stage_2.loras) == (hq.stage_1.loras, hq.stage_2.loras)
    a, b = _run(hq, c), _run(fed, c)
    assert torch.equal(a.video_latent, b.video_latent) and torch.equal(a.audio_latent, b.audio_latent)
    assert torch.equal(_frames(a), _frames(b))
