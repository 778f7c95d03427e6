"""`python -m ltx_pipelines.distilled`: the distilled two-stage pipeline's command."""

from __future__ import annotations

from ltx_pipelines.cli.app import PipelineCli
from ltx_pipelines.cli.batch_state import shared_pipeline
from ltx_pipelines.cli.options import DISTILLED_TWO_STAGE, CommonArgs
from ltx_pipelines.cli.preflight import GENERATION, components, preflight
from ltx_pipelines.cli.runtime import Progress, cli_images, run_pipeline_cli
from ltx_pipelines.distilled import DistilledPipeline
from ltx_pipelines.utils.results import PipelineResult


def distilled(args: CommonArgs) -> None:
    """Half-size stage 1 (8 steps), x2 latent upsampling, full-size stage 2 (3 steps), decode, write the MP4."""

    def checks() -> None:
        preflight(args, args.checkpoint, components(*GENERATION, "video VAE encoder"), upsampler=args.upsampler,
                  loras=args.loras, images=args.images)  # fmt: skip

    def generate(progress: Progress) -> PipelineResult:
        pipeline = shared_pipeline(args, DistilledPipeline, args.checkpoint, args.gemma_root, args.upsampler,
                                   args.loras, args.device)  # fmt: skip
        values = args.pick("seed", "height", "width", "num_frames", "frame_rate", "enhance_prompt")
        return pipeline(args.prompt, **values, images=cli_images(args), progress=progress)

    run_pipeline_cli(args, checks, generate)


COMMANDS = {
    "distilled": PipelineCli(
        "Distilled LTX-2 / LTX-2.3: prompt (and images) to an MP4 with sound, in two stages.",
        DISTILLED_TWO_STAGE,
        distilled,
        two_stage=True,
    )
}
