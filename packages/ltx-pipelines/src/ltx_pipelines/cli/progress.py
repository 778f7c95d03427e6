"""What the user sees while a pipeline runs: stages, denoising steps with ETA, decode progress, a final summary.

Pipelines talk to one `RunProgress`. On a terminal it draws rich progress bars; without one (CI, logs, pipes) it
prints one plain line per event instead; with `quiet=True` it prints nothing. Everything goes to stderr so that
stdout stays free for the caller.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

T = TypeVar("T")


@dataclass(frozen=True)
class RunSummary:
    """What was produced, for the end-of-run table; `extra` rows (label, value) go after the seed."""

    output_path: Path
    num_frames: int
    height: int | None  # None: sound only
    width: int | None
    fps: float
    seed: int
    extra: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class PeakMemory:
    """Peak memory of this process: CUDA max allocated when CUDA was used, the sampled Apple MPS driver
    allocation when MPS was used, else the peak resident set size."""

    kind: str
    bytes: int | None


_mps_peak = 0


def sample_memory() -> None:
    """Apple MPS keeps no peak counter, so progress samples the driver's allocation at every step, decoded
    chunk and stage end (Metal buffers do not show in the resident set size)."""
    global _mps_peak
    if torch.backends.mps.is_available():
        _mps_peak = max(_mps_peak, int(torch.mps.driver_allocated_memory()))


def peak_memory() -> PeakMemory:
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        # every device, not just the current one: `--device cuda:1` runs elsewhere than cuda:0
        peak = max(torch.cuda.max_memory_allocated(i) for i in range(torch.cuda.device_count()))
        return PeakMemory("CUDA max allocated", int(peak))
    sample_memory()
    if _mps_peak > 0:
        return PeakMemory("MPS allocated (sampled peak)", _mps_peak)
    try:
        import resource
    except ImportError:  # Windows
        return PeakMemory("peak RSS", None)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return PeakMemory("peak RSS", int(rss if sys.platform == "darwin" else rss * 1024))


def format_seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def format_bytes(size: int | None) -> str:
    if size is None:
        return "unknown"
    if size < 1024:
        return f"{size} B"
    value, unit = size / 1024, "KiB"
    for bigger in ("MiB", "GiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.1f} {unit}"


class RunProgress:
    """The progress facade pipelines call (stage, steps, frames) and the end-of-run summary."""

    def __init__(self, *, quiet: bool = False, console: Console | None = None) -> None:
        self.quiet = quiet
        self.console = console if console is not None else Console(stderr=True)
        self._started = time.perf_counter()
        self._stage_times: dict[str, float] = {}

    @property
    def stage_times(self) -> Mapping[str, float]:
        """Seconds spent in each completed stage (a stage entered twice adds up)."""
        return dict(self._stage_times)

    @property
    def interactive(self) -> bool:
        return self.console.is_terminal

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time a named stage (e.g. "text encoding", "stage 1", "decode"); announce its start and end."""
        start = time.perf_counter()
        self._print(f"[bold]{name}[/bold] ...")
        yield
        sample_memory()
        elapsed = time.perf_counter() - start
        self._stage_times[name] = self._stage_times.get(name, 0.0) + elapsed
        self._print(f"[bold]{name}[/bold] done in {format_seconds(elapsed)}")

    @contextmanager
    def task(self, description: str, total: int, unit: str = "step") -> Iterator[Callable[[int], None]]:
        """A counted task; yields `advance(n=1)`. Shows i of n, elapsed time and ETA."""
        with self._bar(description, total, unit) as advance:

            def sampled(n: int = 1) -> None:
                sample_memory()
                advance(n)

            yield sampled

    @contextmanager
    def _bar(self, description: str, total: int, unit: str) -> Iterator[Callable[[int], None]]:
        if self.quiet:
            yield lambda n=1: None
            return
        if self.interactive:
            columns = (
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn(unit + "s"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
            )
            with Progress(*columns, console=self.console) as bar:
                task_id = bar.add_task(description, total=total)
                yield lambda n=1: bar.advance(task_id, n)
            return
        yield _PlainCounter(self.console, description, total, unit)

    def steps(self, iterable: Iterable[T], total: int | None = None, description: str = "denoising") -> Iterator[T]:
        """Wrap a step loop: `for i in progress.steps(range(n), description="stage 1"): ...`."""
        if total is None:
            total = len(iterable)  # type: ignore[arg-type]
        with self.task(description, total) as advance:
            for item in iterable:
                yield item
                advance(1)

    def frames(self, chunks: Iterable[Any], total_frames: int, description: str = "decoding") -> Iterator[Any]:
        """Wrap the decoder's chunk iterator (`[f, h, w, c]` chunks): progress counts frames, not chunks."""
        with self.task(description, total_frames, unit="frame") as advance:
            for chunk in chunks:
                yield chunk
                advance(int(chunk.shape[0]))

    def summary_table(self, run: RunSummary) -> Table:
        table = Table(title="LTX-2 run", show_header=False, title_justify="left")
        table.add_column("what", style="bold")
        table.add_column("value")
        table.add_row("output", str(run.output_path))
        table.add_row("duration", f"{run.num_frames / run.fps:.2f} s ({run.num_frames} frames)")
        if run.height is not None:
            table.add_row("resolution", f"{run.width} x {run.height}")
        table.add_row("frame rate", f"{run.fps:g} fps")
        table.add_row("seed", str(run.seed))
        for label, value in run.extra:
            table.add_row(label, value)
        for name, seconds in self._stage_times.items():
            table.add_row(f"time: {name}", format_seconds(seconds))
        table.add_row("time: total", format_seconds(time.perf_counter() - self._started))
        memory = peak_memory()
        table.add_row(memory.kind, format_bytes(memory.bytes))
        return table

    def summary(self, run: RunSummary) -> None:
        """Print the end-of-run table (nothing when quiet)."""
        if not self.quiet:
            self.console.print(self.summary_table(run))

    def _print(self, markup: str) -> None:
        if not self.quiet:
            self.console.print(markup, highlight=False)


class _PlainCounter:
    """Line-per-update progress for consoles that are not terminals."""

    def __init__(self, console: Console, description: str, total: int, unit: str) -> None:
        self._console = console
        self._description = description
        self._total = total
        self._unit = unit
        self._done = 0
        self._start = time.perf_counter()

    def __call__(self, n: int = 1) -> None:
        self._done += n
        elapsed = time.perf_counter() - self._start
        eta = elapsed / self._done * max(self._total - self._done, 0) if self._done else 0.0
        self._console.print(
            f"{self._description}: {self._unit} {self._done}/{self._total}, "
            f"elapsed {format_seconds(elapsed)}, ETA {format_seconds(eta)}",
            highlight=False,
            markup=False,
        )


class PhaseProgress:
    """Adapts the pipelines' `progress(phase, done, total)` callback to a `RunProgress`: one counted task per phase
    (frames for "decode video", steps otherwise), closed when the phase completes or the next one starts."""

    def __init__(self, run: RunProgress) -> None:
        self.run = run
        self._stack = ExitStack()
        self._phase: str | None = None
        self._done = 0
        self._advance: Callable[[int], None] = lambda n: None

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase != self._phase:
            self.close()
            unit = "frame" if phase == "decode video" else "step"
            self._advance = self._stack.enter_context(self.run.task(phase, total, unit=unit))
            self._phase, self._done = phase, 0
        if done > self._done:
            self._advance(done - self._done)
            self._done = done
        if done >= total:
            self.close()

    def close(self) -> None:
        self._stack.close()
        self._stack = ExitStack()
        self._phase = None
