"""`python -m ltx_pipelines.distilled`: the distilled two-stage pipeline's command."""

from __future__ import annotations

from ltx_pipelines.cli.app import PipelineCli
from ltx_pipelines.cli.options import AUTO_DURATION, DISTILLED_TWO_STAGE, CommonArgs
from ltx_pipelines.cli.preflight import GENERATION, components, preflight
from ltx_pipelines.cli.runtime import (
    Generation,
    check_generated_keyframes,
    checks,
    cli_images,
    generated_keyframes_option,
    pipeline,
)
from ltx_pipelines.distilled import DistilledPipeline


def distilled(args: CommonArgs) -> Generation:
    """Half-size stage 1 (8 steps), x2 latent upsampling, full-size stage 2 (3 steps), decode, write the MP4."""
    with checks():
        needed = components(*GENERATION, "video VAE encoder")
        check_generated_keyframes(args)
        preflight(args, args.models, needed, upsampler=args.upsampler, loras=args.loras, images=args.images)
    build = pipeline(args, DistilledPipeline, args.models, args.gemma_root, args.upsampler, args.loras, args.device)
    values = args.pick("seed", "height", "width", "num_frames", "frame_rate", "enhance_prompt")
    call = {
        "prompt": args.prompt,
        **values,
        "images": cli_images(args),
        "color_space": args.hdr,
        **generated_keyframes_option(args),
    }
    return Generation(args, build, call)


COMMANDS = {
    "distilled": PipelineCli(
        "Distilled LTX-2 / LTX-2.3 / LTX-2.5: prompt (and images) to an MP4 with sound, in two stages.",
        (*DISTILLED_TWO_STAGE, *AUTO_DURATION, "hdr", "num_generated_keyframes"),
        distilled,
        two_stage=True,
    )
}
