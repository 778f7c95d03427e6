"""`python -m ltx_pipelines.dfr_pipeline`: DFR, the keyframe-slot two-stage pipeline with optional temporal
refinement rounds (spec new_pipelines §4; LTX-2.5 files)."""

from __future__ import annotations

from pathlib import Path

import typer

from ltx_core.errors import CheckpointError
from ltx_core.loader import LoraSpec, open_checkpoint
from ltx_pipelines.cli.app import PipelineCli, multi_value_option
from ltx_pipelines.cli.options import AUTO_DURATION, BASIC, VIDEO_GEN, CommonArgs
from ltx_pipelines.cli.preflight import GENERATION, check_upsampler, components, preflight
from ltx_pipelines.cli.runtime import Generation, checks, cli_images, pipeline
from ltx_pipelines.cli.values import LORA, input_file
from ltx_pipelines.dfr_pipeline import MAX_ROUNDS, DFRPipeline, check_rounds
from ltx_pipelines.utils.checkpoints import require_distilled_lora, require_keyframe_embedding
from ltx_pipelines.utils.dfr_layout import resolve_canvas

DFR_OPTIONS = ("checkpoint_path", *BASIC, *VIDEO_GEN, *AUTO_DURATION, "distilled_loras", "spatial_upsampler_path")

DETAILING_LORA = multi_value_option(
    LORA,
    "--detailing-lora",
    "The x2 spatial detailing IC-LoRA and its strength (default 1.0), fused in stage 2 only, conditioned on the "
    "half-size stage-1 video (its reference_downscale_factor metadata, else 2). Default: none.",
)
TEMPORAL_UPSAMPLER = typer.Option(
    None,
    "--temporal-upsampler-path",
    help="Temporal x2 latent upsampler (required with --temporal-upsample-rounds 1 or 2).",
    parser=input_file,
    metavar="PATH",
)
ROUNDS = typer.Option(
    0,
    "--temporal-upsample-rounds",
    help="Temporal refinement rounds, each doubling the frame rate (frames (N-1)*2^R+1 at fps*2^R).",
    min=0,
    max=MAX_ROUNDS,
)


def check_temporal_upsampler(path: Path) -> None:
    """The file is a temporal x2 latent upsampler (`temporal_upsample` on, no spatial upsampling)."""
    from ltx_core.model.upsampler.config import UpsamplerConfig

    check_upsampler(path)
    ckpt = open_checkpoint(path)
    if UpsamplerConfig.from_config(ckpt.config, ckpt.path).variant != "temporal":
        raise CheckpointError(f"{path} is not a temporal latent upsampler (its config has no temporal_upsample only)")


def dfr_pipeline(
    args: CommonArgs,
    detailing_lora: list[LoraSpec] = DETAILING_LORA,
    temporal_upsampler_path: Path | None = TEMPORAL_UPSAMPLER,
    temporal_upsample_rounds: int = ROUNDS,
) -> Generation:
    """Canvas padded to whole 24/32-frame segments with a keyframe slot at each border; stage 1 at half size (8
    distilled steps), x2 upsampling of video and slots, stage 2 at full size (3 steps, optional detailing IC-LoRA),
    then 0-2 temporal rounds (x2 in time, tiled Euler-ancestral re-denoising); decode at fps*2^rounds with the
    stage-1 audio. No guidance: one conditional pass per step."""
    with checks():
        if len(detailing_lora) > 1:
            raise typer.BadParameter("give one detailing IC-LoRA", param_hint="--detailing-lora")
        check_rounds(temporal_upsample_rounds, temporal_upsampler_path)
        require_keyframe_embedding(args.version_file, "DFR (its keyframe slots)")
        require_distilled_lora(args.distilled_loras)
        if isinstance(args.num_frames, int):
            resolve_canvas(args.num_frames)
        needed = components(*GENERATION, *(("video VAE encoder",) if args.images else ()))
        loras = (*args.loras, *args.distilled_loras, *detailing_lora)
        preflight(args, args.models, needed, upsampler=args.upsampler, loras=loras, images=args.images)
        if temporal_upsampler_path is not None:
            check_temporal_upsampler(temporal_upsampler_path)
    build = pipeline(
        args,
        DFRPipeline,
        args.models,
        args.distilled_loras,
        args.upsampler,
        args.gemma_root,
        args.loras,
        detailing_lora[0] if detailing_lora else None,
        temporal_upsampler_path,
        args.device,
    )
    values = args.pick("seed", "height", "width", "num_frames", "frame_rate", "enhance_prompt")
    call = {
        "prompt": args.prompt,
        **values,
        "images": cli_images(args),
        "temporal_upsample_rounds": temporal_upsample_rounds,
    }
    return Generation(args, build, call)


COMMANDS = {
    "dfr_pipeline": PipelineCli(
        "DFR (Diffusion Fidelity Rendering), LTX-2.5 full model + distilled LoRA: prompt (and images) to an MP4 with "
        "sound; keyframe slots at segment borders, half-size stage 1, full-size stage 2 (optional detailing "
        "IC-LoRA), optional temporal rounds doubling the frame rate.",
        DFR_OPTIONS,
        dfr_pipeline,
        two_stage=True,
    )
}
