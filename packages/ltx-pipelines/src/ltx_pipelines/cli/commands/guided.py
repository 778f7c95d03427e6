"""The guided pipelines' commands (CFG, STG and modality guidance on the full model): one stage, two stages, two
stages HQ, keyframe interpolation. They differ in data only: option set, sigma options, constructor arguments."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import typer

from ltx_core.components.schedulers import validate_sigmas
from ltx_core.errors import InputError
from ltx_pipelines.cli.app import PipelineCli, multi_value_option
from ltx_pipelines.cli.options import AUTO_DURATION, HQ_TWO_STAGE, ONE_STAGE, TWO_STAGE, CommonArgs
from ltx_pipelines.cli.preflight import GENERATION, components, preflight
from ltx_pipelines.cli.runtime import (
    Build,
    Generation,
    check_generated_keyframes,
    checks,
    cli_images,
    generated_keyframes_option,
    pipeline,
)
from ltx_pipelines.cli.values import MultiValue, parse_float
from ltx_pipelines.keyframe_interpolation import KeyframeInterpolationPipeline
from ltx_pipelines.ti2vid_one_stage import TI2VidOneStagePipeline
from ltx_pipelines.ti2vid_two_stages import TI2VidTwoStagesPipeline
from ltx_pipelines.ti2vid_two_stages_hq import TI2VidTwoStagesHQPipeline
from ltx_pipelines.utils.checkpoints import require_distilled_lora
from ltx_pipelines.utils.constants import LTX_2_3_HQ_PARAMS, NUM_FRAMES_WITHOUT_DURATION_HEAD


def sigmas_option(flag: str, what: str) -> Any:
    """A Typer option `FLAG SIGMA [SIGMA...]`: floats, checked at parse time (exit 2 with the rule broken)."""

    def build(values: list[str]) -> torch.Tensor:
        try:
            return validate_sigmas([parse_float("SIGMA", v) for v in values], what=flag)
        except InputError as exc:
            raise typer.BadParameter(str(exc)) from None

    parser = MultiValue(("SIGMA",), ("SIGMA",), build, repeat_last=True)
    return multi_value_option(
        parser, flag, f"{what}, e.g. {flag} 1.0 0.7 0.1 0.0 (strictly decreasing values in [0, 1] ending at 0)."
    )


def parse_sigmas_option(values: Sequence[torch.Tensor], flag: str) -> torch.Tensor | None:
    """The parsed sigma option (it may be given once) → the schedule, or None."""
    if not values:
        return None
    if len(values) > 1:
        raise typer.BadParameter(f"given {len(values)} times; give it once with the whole schedule", param_hint=flag)
    return values[0]


SIGMAS = sigmas_option("--sigmas", "Sigma schedule to use instead of --num-inference-steps")
STAGE_1_SIGMAS = sigmas_option("--stage-1-sigmas", "Stage-1 sigma schedule to use instead of --num-inference-steps")
STAGE_2_SIGMAS = sigmas_option("--stage-2-sigmas", "Stage-2 sigma schedule (default 0.909375 0.725 0.421875 0.0)")


def guided_preflight(args: CommonArgs, *, two_stage: bool) -> None:
    """Every check that needs only headers and small files, before any model is built."""
    needed = components(*GENERATION, *(("video VAE encoder",) if args.images or two_stage else ()))
    if two_stage:
        require_distilled_lora(args.distilled_loras)
    check_generated_keyframes(args)
    preflight(
        args,
        args.models,
        needed,
        upsampler=args.upsampler if two_stage else None,
        loras=(*args.loras, *args.distilled_loras),
        images=args.images,
    )


def guided_call_options(args: CommonArgs) -> dict[str, Any]:
    """The keyword arguments every guided pipeline call takes from the parsed shared options."""
    shared = (
        "seed",
        "height",
        "width",
        "num_frames",
        "frame_rate",
        "num_inference_steps",
        "enhance_prompt",
        "max_batch_size",
    )
    return {
        **args.pick(*shared),
        **generated_keyframes_option(args),
        "video_guider_params": args.video_guider_params(),
        "audio_guider_params": args.audio_guider_params(),
        "images": cli_images(args),
    }


Builder = Callable[[CommonArgs], Build]  # parsed arguments → what the command builds


def _guided(args: CommonArgs, build: Builder, two_stage: bool, **sigmas: torch.Tensor | None) -> Generation:
    """The generation of every guided command: its checks, then `build(args)` called with the shared options."""
    with checks():
        guided_preflight(args, two_stage=two_stage)
    call = {
        "prompt": args.prompt,
        "negative_prompt": args.negative_prompt,
        **guided_call_options(args),
        **sigmas,
        "color_space": args.hdr,
    }
    return Generation(args, build(args), call)


def ti2vid_one_stage(args: CommonArgs, sigmas: list[torch.Tensor] = SIGMAS) -> Generation:
    """One guided stage at the output size (CFG, STG, modality guidance), decode, write the MP4."""
    schedule = parse_sigmas_option(sigmas, "--sigmas")
    return _guided(args, _one_stage, False, sigmas=schedule)


def _one_stage(args: CommonArgs) -> Build:
    return pipeline(args, TI2VidOneStagePipeline, args.models, args.gemma_root, args.loras, args.device)


def _two_stage_plan(build: Builder, doc: str) -> Callable[..., Generation]:
    """The command of a two-stage guided pipeline class; `build(args)` says what it builds."""

    def plan(
        args: CommonArgs,
        stage_1_sigmas: list[torch.Tensor] = STAGE_1_SIGMAS,
        stage_2_sigmas: list[torch.Tensor] = STAGE_2_SIGMAS,
    ) -> Generation:
        sigmas_1 = parse_sigmas_option(stage_1_sigmas, "--stage-1-sigmas")
        sigmas_2 = parse_sigmas_option(stage_2_sigmas, "--stage-2-sigmas")
        return _guided(args, build, True, stage_1_sigmas=sigmas_1, stage_2_sigmas=sigmas_2)

    plan.__doc__ = doc
    return plan


def _two_stages(cls: type[TI2VidTwoStagesPipeline]) -> Builder:
    def build(args: CommonArgs) -> Build:
        checkpoints = (args.models, args.distilled_loras, args.upsampler, args.gemma_root, args.loras)
        return pipeline(args, cls, *checkpoints, args.device)

    return build


def _two_stages_hq(args: CommonArgs) -> Build:
    strengths = (args.distilled_lora_strength_stage_1, args.distilled_lora_strength_stage_2)
    checkpoints = (args.upsampler, args.gemma_root, args.loras)
    return pipeline(
        args, TI2VidTwoStagesHQPipeline, args.models, args.distilled_loras, *strengths, *checkpoints, args.device
    )


_TWO_STAGE_DOC = "Guided stage 1 at half size, x2 latent upsampling, stage 2 with the distilled LoRA, decode, write."
_HQ_DOC = "res_2s stage 1 at half size (fixed guiders), x2 upsampling, res_2s stage 2, decode, write the MP4."

COMMANDS = {
    "ti2vid_one_stage": PipelineCli(
        "LTX-2 / LTX-2.3 full model: prompt (and images) to an MP4 with sound in one guided stage.",
        (*ONE_STAGE, *AUTO_DURATION, "hdr", "num_generated_keyframes"),
        ti2vid_one_stage,
    ),
    "ti2vid_two_stages": PipelineCli(
        "LTX-2 / LTX-2.3 full model: prompt (and images) to an MP4 with sound; guided half-size stage 1, x2 "
        "upsampling, stage 2 refined with the distilled LoRA.",
        (*TWO_STAGE, *AUTO_DURATION, "hdr", "num_generated_keyframes"),
        _two_stage_plan(_two_stages(TI2VidTwoStagesPipeline), _TWO_STAGE_DOC),
        two_stage=True,
    ),
    "keyframe_interpolation": PipelineCli(
        "LTX-2 / LTX-2.3 full model: interpolate a video with sound through keyframe images (--image PATH FRAME_IDX "
        "STRENGTH, every image appended as a guiding keyframe); guided half-size stage 1, x2 upsampling, stage 2 "
        "refined with the distilled LoRA.",
        (*TWO_STAGE, "hdr"),
        _two_stage_plan(_two_stages(KeyframeInterpolationPipeline), _TWO_STAGE_DOC),
        two_stage=True,
        defaults={"num_frames": NUM_FRAMES_WITHOUT_DURATION_HEAD},  # no auto duration (delta C.4)
    ),
    "ti2vid_two_stages_hq": PipelineCli(
        "LTX-2.3 full model, high quality: prompt (and images) to an MP4 with sound; res_2s sampler in both stages, "
        "distilled LoRA in both (strengths 0.25 / 0.5). Defaults: 15 steps, 1088x1920, no STG.",
        (*HQ_TWO_STAGE, *AUTO_DURATION, "hdr", "num_generated_keyframes"),
        _two_stage_plan(_two_stages_hq, _HQ_DOC),
        params=LTX_2_3_HQ_PARAMS,
        detect=False,
        two_stage=True,
    ),
}
