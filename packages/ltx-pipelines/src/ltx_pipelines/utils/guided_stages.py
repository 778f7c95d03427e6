"""The command line of the guided pipelines (one-stage, two-stage, HQ, keyframe interpolation); helper CLI moves
it into `ltx_pipelines.cli`. The rest of this former grab-bag lives with its concept: `checkpoints`, `schedules`,
`guidance`, `pipeline_base`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ltx_core.components.schedulers import validate_sigmas
from ltx_core.errors import InputError
from ltx_pipelines.utils.checkpoints import require_distilled_lora

# --- command line ------------------------------------------------------------------------------------------------


def parse_sigmas_option(values: Sequence[torch.Tensor], flag: str) -> torch.Tensor | None:
    """The parsed `--stage-N-sigmas` values (the option may be given once) → the schedule, or None."""
    import typer

    if not values:
        return None
    if len(values) > 1:
        raise typer.BadParameter(f"given {len(values)} times; give it once with the whole schedule", param_hint=flag)
    return values[0]


def sigmas_option(flag: str, what: str) -> Any:
    """A Typer option `FLAG SIGMA [SIGMA...]`: floats, checked at parse time (exit 2 with the rule broken)."""
    import typer

    from ltx_pipelines.cli.app import multi_value_option
    from ltx_pipelines.cli.values import MultiValue, parse_float

    def build(values: list[str]) -> torch.Tensor:
        try:
            return validate_sigmas([parse_float("SIGMA", v) for v in values], what=flag)
        except InputError as exc:
            raise typer.BadParameter(str(exc)) from None

    parser = MultiValue(("SIGMA",), ("SIGMA",), build, repeat_last=True)
    return multi_value_option(parser, flag, f"{what}, e.g. {flag} 1.0 0.7 0.1 0.0 (strictly decreasing values in "
                              "[0, 1] ending at 0).")  # fmt: skip


def preflight(args: Any, *, two_stage: bool) -> None:
    """Every check that needs only headers and small files, before any model is built."""
    from ltx_pipelines.cli.preflight import GENERATION, components
    from ltx_pipelines.cli.preflight import preflight as shared_preflight

    needed = components(*GENERATION, *(("video VAE encoder",) if args.images or two_stage else ()))
    if two_stage:
        require_distilled_lora(args.distilled_loras)
    shared_preflight(args, args.checkpoint_path, needed,
                     upsampler=args.spatial_upsampler_path if two_stage else None,
                     loras=(*args.loras, *args.distilled_loras), images=args.images)  # fmt: skip


def guided_call_options(args: Any) -> dict[str, Any]:
    """The keyword arguments every guided pipeline call takes from the parsed shared options."""
    from ltx_pipelines.cli.runtime import cli_images

    return {
        "seed": args.seed,
        "height": args.height,
        "width": args.width,
        "num_frames": args.num_frames,
        "frame_rate": args.frame_rate,
        "num_inference_steps": args.num_inference_steps,
        "video_guider_params": args.video_guider_params(),
        "audio_guider_params": args.audio_guider_params(),
        "images": cli_images(args),
        "enhance_prompt": args.enhance_prompt,
        "max_batch_size": args.max_batch_size,
    }


def run_cli(args: Any, generate: Any, *, two_stage: bool) -> Path:
    """The shared CLI runtime with this family's checks."""
    from ltx_pipelines.cli.runtime import run_pipeline_cli

    return run_pipeline_cli(args, lambda: preflight(args, two_stage=two_stage), generate)
