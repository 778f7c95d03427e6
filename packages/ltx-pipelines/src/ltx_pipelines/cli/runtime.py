"""The run every pipeline CLI shares after parsing: checks, generation with progress, the MP4, the summary.

Exit codes as in app.py: a failed check exits with 2 (nothing was built or written), a failure while running with
1 (the MP4 is written atomically, so nothing is left behind), Ctrl-C with 130.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ltx_core.errors import LTXError
from ltx_pipelines.cli.command import EXIT_USAGE, print_error
from ltx_pipelines.cli.options import CommonArgs
from ltx_pipelines.cli.progress import PhaseProgress, RunProgress, RunSummary, format_seconds

if TYPE_CHECKING:
    from ltx_pipelines.utils.helpers import ImageConditioningInput

Progress = Callable[[str, int, int], None]  # (phase, done, total), as the pipelines report it


def run_pipeline_cli(args: CommonArgs, checks: Callable[[], None], generate: Callable[[Progress], Any]) -> Path:
    """The one run after parsing, for every pipeline: `checks()` (an `LTXError` exits with 2), `generate(progress)`
    → a result with `video` (`FrameChunks`), `audio` (or None), `frame_rate` and optionally `prompt` / `seconds`;
    then the MP4 and the summary table. Inside a `--jobs` batch that is parsing its jobs, the checked job is handed
    to the batch instead (see `cli.batch`)."""
    from ltx_pipelines.cli.batch_state import Collected, JobRefused, batch_state
    from ltx_pipelines.cli.parallel import join, leave

    batch = batch_state()
    try:
        checks()
    except LTXError as exc:
        if batch is not None and batch.collecting is not None:
            raise JobRefused(str(exc)) from None
        print_error(str(exc), usage=True, final=True)
        raise typer.Exit(EXIT_USAGE) from None
    if batch is not None and batch.collecting is not None:
        batch.collected.append(Collected(batch.collecting, args, generate))
        assert args.output_path is not None
        return args.output_path
    try:
        join(args)  # under torchrun: the process group, and the same arguments on every rank
    except LTXError as exc:
        print_error(str(exc), usage=True, final=True)
        raise typer.Exit(EXIT_USAGE) from None
    path = write_result(args, generate)
    leave()
    return path


def write_result(args: CommonArgs, generate: Callable[[Progress], Any], *, summary: bool = True) -> Path:
    """Generation with progress, the MP4 (written atomically) and the summary table."""
    from ltx_pipelines.cli.parallel import current_layout
    from ltx_pipelines.media.mp4 import write_mp4

    assert args.output_path is not None
    layout = current_layout()
    run = RunProgress(quiet=args.quiet or not layout.is_main)
    phases = PhaseProgress(run)
    if not layout.is_main:  # the same generation, quietly; its share of the decode happens as the frames are read
        try:
            result = generate(phases)
            with result.video:
                for _ in result.video:
                    pass
        finally:
            phases.close()
        return args.output_path
    try:
        with run.stage("generation"):
            result = generate(phases)
        total = result.video.num_frames
        with run.stage("decode + write"), result.video:
            path = write_mp4(
                args.output_path,
                result.video,
                result.frame_rate,
                result.audio,
                on_frames=lambda n: phases("decode video", n, total),
            )
    finally:
        phases.close()
    video = result.video
    if summary:
        run.summary(RunSummary(path, video.num_frames, video.height, video.width, float(int(result.frame_rate)),
                               args.seed, _extra_rows(args, result)))  # fmt: skip
    return path


def _extra_rows(args: CommonArgs, result: Any) -> tuple[tuple[str, str], ...]:
    from ltx_pipelines.cli.parallel import current_layout

    rows = []
    layout = current_layout()
    if layout.is_parallel:
        rows.append(("processes", layout.describe()))
    if result.audio is not None:
        rate = result.audio.sampling_rate
        rows.append(("audio", f"stereo {rate} Hz ({result.audio.waveform.shape[-1] / rate:.2f} s)"))
    if args.enhance_prompt and getattr(result, "prompt", ""):
        rows.append(("enhanced prompt", result.prompt))
    rows += [(f"time: {phase}", format_seconds(s)) for phase, s in getattr(result, "seconds", {}).items()]
    return tuple(rows)


def cli_images(args: CommonArgs) -> list[ImageConditioningInput]:
    """The parsed `--image` options as pipeline inputs (`ImageConditioningInput`)."""
    from ltx_pipelines.utils.helpers import ImageConditioningInput

    return [ImageConditioningInput(i.path, i.frame_idx, i.strength, i.crf) for i in args.images]
