"""What a pipeline's command gives the run, and what the run does with one result.

A command's `plan(args, **own_options)` is a pure parse of its arguments: its checks (`with checks():` file headers
and small files, nothing built: a failure there is a bad command line, exit 2, or a bad job of a batch) and then a
`Generation`: what to build (`Build`: the pipeline class and its constructor arguments) and the keyword arguments of
the call. `cli.batch` runs generations: the one of a command line (a batch of one) or every job of a `--jobs` file;
`write_video` is the end of each (progress, the MP4 written atomically), `summary_rows` the end-of-run table.

Exit codes as in app.py: a failed check exits with 2 (nothing was built or written), a failure while running with
1 (the MP4 is written atomically, so nothing is left behind), Ctrl-C with 130.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ltx_core.errors import LTXError
from ltx_core.model.duration_head import AutoDuration
from ltx_core.numerics import numerics_named
from ltx_pipelines.cli.command import BoundaryError
from ltx_pipelines.cli.options import CommonArgs
from ltx_pipelines.cli.progress import PhaseProgress, RunProgress, RunSummary, format_seconds

if TYPE_CHECKING:
    from ltx_core.parallel.layout import ParallelLayout
    from ltx_pipelines.utils.helpers import ImageConditioningInput

Progress = Callable[[str, int, int], None]  # (phase, done, total), as the pipelines report it


@contextmanager
def checks() -> Iterator[None]:
    """Around a command's checks, before anything is built: an `LTXError` there is a bad command line (one line,
    exit 2) or, in a batch, a bad job (reported by line, skipped)."""
    try:
        yield
    except LTXError as exc:
        raise BoundaryError(str(exc)) from None


@dataclass(frozen=True)
class Build:
    """What a generation builds: a pipeline class and its constructor arguments (the runtime flags included); the
    jobs of a batch with equal builds share one pipeline. The process layout is the run's, given when built."""

    cls: type
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()

    @property
    def key(self) -> str:
        """Equal for equal builds (paths, LoRA sets, device, runtime: every argument's repr)."""
        return repr((self.cls.__module__, self.cls.__qualname__, self.args, self.kwargs))

    def __call__(self, parallel: ParallelLayout) -> Any:
        return self.cls(*self.args, **dict(self.kwargs), parallel=parallel)


def pipeline(args: CommonArgs, cls: type, *arguments: Any, **keywords: Any) -> Build:
    """`cls(*arguments, **keywords)` with the runtime flags of `args` (`--offload`, `--quantization`, `--compile`,
    `--numerics`)."""
    from ltx_pipelines.utils.blocks import DEFAULT_PROMPT_ENHANCER

    numerics = numerics_named(args.numerics)
    options = {**keywords, "runtime": args.runtime(), "numerics": numerics}
    enhancer = args.prompt_enhancer()
    if enhancer != DEFAULT_PROMPT_ENHANCER:
        options["prompt_enhancer"] = enhancer
    return Build(cls, arguments, tuple(sorted(options.items())))


@dataclass(frozen=True)
class Generation:
    """One video as data: the parsed arguments it came from (output path, seed, quiet, ...), what it builds, the
    keyword arguments of the pipeline call (progress is added by the run), and `late()`: arguments made only when
    it runs (a decoded mask video on the device: a batch must not hold one per job)."""

    args: CommonArgs
    build: Build
    call: Mapping[str, Any]
    late: Callable[[], Mapping[str, Any]] | None = None

    @property
    def output_path(self) -> Path:
        assert self.args.output_path is not None
        return self.args.output_path

    def arguments(self, progress: Progress) -> dict[str, Any]:
        """The call's keyword arguments, the late ones made now."""
        return {**self.call, **(self.late() if self.late is not None else {}), "progress": progress}


class JobProgress:
    """One generation's progress (quiet off the process that reports): the pipeline's phases, and the time from the
    call to the result ("generation") and of the decode and write."""

    def __init__(self, quiet: bool) -> None:
        self.run = RunProgress(quiet=quiet)
        self.phases = PhaseProgress(self.run)
        self._generating = ExitStack()

    def generating(self) -> None:
        self._generating.enter_context(self.run.stage("generation"))

    def generated(self) -> None:
        self._generating.close()

    def close(self) -> None:
        """The end of the job; a generation still running (its call failed) is dropped, not reported done."""
        self._generating.pop_all()
        self.phases.close()


def write_video(path: Path, result: Any, progress: JobProgress) -> Path:
    """The result's frames (decoded as they are written) and audio as an MP4, atomically; an HDR result
    (`result.color_space`) as the HLG master there and its EXR frames beside it (`media.hdr_mp4.write_hdr`). When
    writing fails, the rest of the frames is still read (and dropped): under several processes the others decode
    their tiles as this one reads them, and must finish the job with it."""
    from ltx_pipelines.media.mp4 import write_mp4

    video = result.video
    total = video.num_frames
    color_space = getattr(result, "color_space", None)

    def on_frames(n: int) -> None:
        progress.phases("decode video", n, total)

    try:
        with progress.run.stage("decode + write"):
            if color_space is not None:
                from ltx_pipelines.media.hdr_mp4 import write_hdr

                master, _ = write_hdr(path, video, result.frame_rate, color_space, result.audio, on_frames=on_frames)
                return master
            return write_mp4(path, video, result.frame_rate, result.audio, on_frames=on_frames)
    except LTXError:
        drain(video)
        raise
    finally:
        progress.phases.close()
        video.close()


def write_output(path: Path, result: Any, progress: JobProgress) -> Path:
    """The result as its file: an MP4 (`write_video`), or for a sound-only result (no `video`) a WAV, atomically."""
    if getattr(result, "video", None) is not None:
        return write_video(path, result, progress)
    from ltx_pipelines.media.wav import write_wav

    try:
        with progress.run.stage("write"):
            return write_wav(path, result.audio)
    finally:
        progress.phases.close()


def finish_elsewhere(result: Any) -> None:
    """The end of a result on a process that writes nothing: its part of a distributed video decode (`drain`);
    nothing for a sound-only result."""
    if getattr(result, "video", None) is not None:
        drain(result.video)


def drain(video: Any) -> None:
    """Read a result's frames to the end, dropping them (a process that writes nothing takes its part of a
    distributed decode this way)."""
    with video:
        for _ in video:
            pass


def run_summary(path: Path, args: CommonArgs, result: Any, layout: ParallelLayout) -> RunSummary:
    """The end-of-run table of a command line's result: a video's frames, size and rate (the MP4 keeps the rate's
    integer part); a sound-only result's length as the frames asked for or chosen, without a size."""
    rows = summary_rows(args, result, layout)
    video = getattr(result, "video", None)
    if video is None:
        return RunSummary(path, result.num_frames, None, None, float(result.frame_rate), args.seed, rows)
    fps = float(int(result.frame_rate))
    return RunSummary(path, video.num_frames, video.height, video.width, fps, args.seed, rows)


def summary_rows(args: CommonArgs, result: Any, layout: ParallelLayout) -> tuple[tuple[str, str], ...]:
    """The end-of-run table's rows after the seed: numerics, processes, audio, enhanced prompt, time per phase."""
    rows = [("numerics", f"official {args.numerics}")]
    if isinstance(args.num_frames, AutoDuration):
        auto = args.num_frames
        rows.append(
            ("length", f"chosen by the duration head (between {auto.min_seconds:g} and {auto.max_seconds:g} s)")
        )
    if layout.is_parallel:
        rows.append(("processes", layout.describe()))
    if getattr(result, "color_space", None) is not None and args.output_path is not None:
        from ltx_pipelines.media.exr import exr_frames_folder

        folder = exr_frames_folder(args.output_path)
        rows.append(("hdr", f"{result.color_space.name}: HLG master (BT.2020, 10-bit HEVC), EXR frames in {folder}"))
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


def check_generated_keyframes(args: CommonArgs) -> None:
    """`--num-generated-keyframes N` (spec new_pipelines §8), refused before any model is built: on files without
    the keyframe embedding, and when a given --num-frames leaves no room for N interior frames."""
    from ltx_pipelines.utils.checkpoints import check_generated_keyframes as check

    count = args.num_generated_keyframes
    check(count, args.version_file, args.num_frames, f"--num-generated-keyframes {count}")  # the transformer's


def generated_keyframes_option(args: CommonArgs) -> dict[str, Any]:
    """The call's `generated_keyframes` when asked for (a call without slots keeps the pipeline's own default)."""
    return {"generated_keyframes": args.num_generated_keyframes} if args.num_generated_keyframes else {}
