"""Running generations: the one of a command line (a batch of one) or every job of a `--jobs` file, with the models
loaded once per group of jobs that build the same pipeline, resumable, spread over the processes of a torchrun.

A batch first parses every job as its own command line would be (`jobs.job_argv`, Click's parser only: no command is
run) into a `Generation` (what to build, the call's arguments), running the command's checks; a bad job is reported
in one line with its line number and skipped. The jobs are then grouped by what they build; each group's pipeline
is built once (with the run's process layout) and runs its jobs through the pipeline's `run_jobs`: Gemma encodes
the group's prompts in one residency and is freed, the other models stay built from job to job, and each job
writes its MP4 (atomically). A job whose output exists is skipped unless `--overwrite`, so rerunning a killed batch
finishes only what is left; the results file holds one current entry per job.

Under torchrun the processes take the jobs from a counter in the rendezvous store (`Ranks`). When they make each
job in groups (`--processes-per-job`, `--cfg-parallel`, `--shard-weights`), every process of a group builds the
pipeline with the group's layout (the tokens, and with `--shard-weights` the weights, split over it), the group's
first process claims the jobs, decides the skips, reads the frames and writes; and all of the group's processes
agree that a job ended, and whether it failed, before the next claim: a job that fails on the first process alone
(its text encoder, the file it writes) fails on every process of the group, is reported once, and the batch goes
on with the next job. (A process that fails alone in the middle of a step leaves the others waiting in that step's
collective: the batch then ends when they give up, after --dist-timeout.)
"""

from __future__ import annotations

import itertools
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import typer
from rich.console import Console
from rich.table import Table

from ltx_core.errors import FailedElsewhere, LTXError
from ltx_core.parallel.layout import SINGLE_PROCESS, ParallelLayout, launched_by_torchrun
from ltx_core.parallel.liveness import current_liveness, start_liveness
from ltx_core.parallel.work_queue import claimed
from ltx_pipelines.cli.command import ARGV, EXIT_USAGE, print_error, usage_message
from ltx_pipelines.cli.jobs import (
    BATCH_OPTIONS,
    RUN_WIDE,
    BadJob,
    JobResult,
    ResultsFile,
    job_argv,
    read_jobs,
    results_path,
)
from ltx_pipelines.cli.options import CommonArgs
from ltx_pipelines.cli.parallel import join, leave, works_together
from ltx_pipelines.cli.runtime import Generation, JobProgress, finish_elsewhere, run_summary, write_output
from ltx_pipelines.utils.pipeline_base import job_prompts

Plan = Callable[[Mapping[str, Any]], Generation | None]  # a command's parsed values → its generation


@dataclass(frozen=True)
class Planned:
    """A parsed generation and where it came from: its jobs-file line (0: the command line)."""

    line: int
    generation: Generation


def run_command_line(args: CommonArgs, generation: Generation) -> None:
    """The generation of one command line, as a batch of one: on every process of a torchrun together (the layout
    joined after the same-arguments check), else in this process."""
    try:
        layout = join(args)
    except LTXError as exc:
        print_error(str(exc), usage=True, final=True)
        raise typer.Exit(EXIT_USAGE) from None
    Runner([Planned(0, generation)], Ranks.of(layout), quiet=args.quiet).run()
    leave()


def run_jobs_file(args: CommonArgs, plan: Plan, ctx: Any, suffix: str = ".mp4") -> None:
    """The batch of `args.jobs` for the command of Click context `ctx` (its command line in `ctx.meta[ARGV]`); the
    outputs it names end in `suffix`."""
    assert args.jobs is not None
    command = ctx.command
    params = {p.name: p for p in command.params}
    known = [n for n in params if n not in (*BATCH_OPTIONS, *RUN_WIDE, "output_path")]
    multi = [n for n in known if params[n].multiple]
    defaults = {"seed": args.seed, "prompt": args.prompt}
    jobs, bad = read_jobs(
        args.jobs, known=known, multi=multi, defaults=defaults, output_dir=args.output_dir, suffix=suffix
    )
    planned: list[Planned] = []
    for job in jobs:  # each job parsed and checked as its own command line, building nothing
        try:
            job_ctx = command.make_context(ctx.info_name, job_argv(ctx.meta[ARGV], params, job))
            with job_ctx.scope(cleanup=False):
                generation = plan(job_ctx.params)
        except (typer.TyperException, LTXError) as exc:
            bad.append(BadJob(job.line, usage_message(exc)))
            continue
        if generation is None:
            raise TypeError(f"the {ctx.info_name} command gives no generation to run in a batch")
        planned.append(Planned(job.line, generation))
    ranks = Ranks.for_batch(args)
    results = BatchResults(results_path(args.jobs, args.output_dir), ranks)
    if ranks.rank == 0:
        for entry in sorted(bad, key=lambda b: b.line):
            print_error(str(entry))
        results.record_bad(bad)
    runner = Runner(planned, ranks, quiet=args.quiet, results=results, overwrite=args.overwrite)
    runner.counts["failed"] += len(bad) if ranks.rank == 0 else 0
    start = time.perf_counter()
    runner.run()
    counts = ranks.total(runner.counts)  # every process is done with its jobs past this point
    results.flush()
    _summary(runner.console, counts, time.perf_counter() - start, results.path)
    if ranks.together:
        leave()
    if counts["failed"]:
        raise typer.Exit(1)


@dataclass(frozen=True)
class Ranks:
    """This process's place in the run. Under torchrun, a batch's processes take the next unclaimed job from a
    counter in torch.distributed's key-value store (no static split: a slow job does not hold the others back);
    rank 0 reports the bad lines and the summary and writes the results file. When the processes make each job in
    groups (`together`: the generations' layout spans several processes), each group's first process claims the next
    job for its group and tells the others; it decides what to skip, prints and writes. Alone, one process takes
    every job in order; so do the processes of one command line's generation, together."""

    rank: int = 0
    world: int = 1
    store: Any = None
    layout: ParallelLayout = SINGLE_PROCESS  # what every generation of this process is built with

    @classmethod
    def of(cls, layout: ParallelLayout) -> Ranks:
        """One generation on `layout`'s processes (a command line)."""
        if not dist.is_initialized():
            return cls(layout=layout)
        return cls(dist.get_rank(), dist.get_world_size(), None, layout)

    @classmethod
    def for_batch(cls, args: CommonArgs) -> Ranks:
        if not launched_by_torchrun():
            return cls()
        layout = join(args) if works_together(args) else SINGLE_PROCESS  # the job groups' layout
        if not dist.is_initialized():  # each process makes its own jobs: the group only counts and ends the batch
            dist.init_process_group("gloo", timeout=timedelta(seconds=args.dist_timeout))
        start_liveness(args.dist_timeout)  # waits for the others' own work count their silence, not its length
        # the store torchrun's rendezvous made for the default group, shared by every process of the run
        store = dist.PrefixStore("ltx_jobs/", dist.distributed_c10d._get_default_store())
        return cls(dist.get_rank(), dist.get_world_size(), store, layout)

    @property
    def together(self) -> bool:
        return self.layout.is_parallel

    @property
    def reports(self) -> bool:
        """Whether this process prints, logs and counts the jobs it goes through (each job once over all)."""
        return self.layout.is_main

    @property
    def running_at_once(self) -> int:
        """How many jobs are made at the same time."""
        return self.world // self.layout.world_size if self.together else self.world

    def claims(self, count: int, key: str, exists: Callable[[int], bool]) -> Iterator[tuple[int, bool]]:
        """(index, skipped) of the jobs this process makes (with its group when together); `exists(index)`: whether
        the job's output exists and is kept, as the group's first process sees it."""
        if self.store is None or not self.together:
            for index in claimed(count, self.store, key):
                yield index, exists(index)
            return
        mine = claimed(count, self.store, key) if self.layout.is_main else None
        while True:
            offer = None
            if mine is not None:
                index = next(mine, -1)
                offer = [torch.tensor([index, index >= 0 and exists(index)], dtype=torch.int64)]
            index, skipped = self.layout.share(offer, torch.device("cpu"))[0].tolist()
            if index < 0:
                return
            yield index, bool(skipped)

    def agree(self, failed: bool) -> bool:
        """Whether a job failed on any process of its group (every process of the group asks, once per job it
        made, when the job has ended on it: past this, all of them are done with the job)."""
        if not self.together:
            return failed
        self.layout.wait_for_all()  # the group's first process may still be writing the file: a wait, not an exchange
        flag = torch.tensor([int(failed)], dtype=torch.int64, device=self.layout.transport(torch.device("cpu")))
        dist.all_reduce(flag, op=dist.ReduceOp.MAX, group=self.layout.group)
        return bool(flag.item())

    def total(self, counts: dict[str, int]) -> dict[str, int]:
        """The counts of every process added up (each job is counted by the one process that reported it)."""
        if self.world == 1:
            return counts
        liveness = current_liveness()
        if liveness is not None:  # processes end their last jobs at their own pace: wait while they live, then count
            liveness.wait_together("batch-end", range(self.world))
        on_gpu = dist.get_backend() == "nccl"  # a batch that works together on GPUs joined with NCCL
        device = torch.device("cuda", torch.cuda.current_device()) if on_gpu else torch.device("cpu")
        values = torch.tensor([counts[k] for k in ("done", "skipped", "failed")], dtype=torch.int64, device=device)
        dist.all_reduce(values)
        return dict(zip(("done", "skipped", "failed"), values.tolist(), strict=True))


class BatchResults:
    """The results file of a batch, written by one process: alone, as each job ends; under torchrun by rank 0,
    with what every process reported through the store (each entry under the next number of a counter), merged in
    as rank 0 finishes each of its jobs and at the end of the batch."""

    def __init__(self, path: Path, ranks: Ranks) -> None:
        self.path = path
        self.file = ResultsFile(path) if ranks.rank == 0 else None
        self.store = ranks.store
        self._key = f"{path}/results"
        self._merged = 0

    def record_bad(self, bad: Iterable[BadJob]) -> None:
        if self.file is not None:
            self.file.record(*(JobResult(b.line, "failed", "", None, 0.0, b.error) for b in bad))

    def add(self, result: JobResult) -> None:
        if self.store is None:
            assert self.file is not None
            self.file.record(result)
            return
        number = self.store.add(f"{self._key}/count", 1) - 1
        self.store.set(f"{self._key}/{number}", json.dumps(asdict(result)))
        self.flush()

    def flush(self) -> None:
        """Rank 0: merge what the processes reported since the last flush into the file."""
        if self.file is None or self.store is None:
            return
        count = self.store.add(f"{self._key}/count", 0)
        new = [JobResult(**json.loads(self.store.get(f"{self._key}/{n}"))) for n in range(self._merged, count)]
        self._merged = count
        if new:
            self.file.record(*new)


@dataclass
class _Current:
    """The job being made: where it came from, its number in the batch, its progress, when it began."""

    planned: Planned
    number: int
    progress: JobProgress
    began: float
    result: Any = None


class Runner:
    """Runs planned generations on this process (with the other processes of its group): grouped by what they build,
    each group through its pipeline's `run_jobs`. Without `results`, a command line's generation: its failure is
    raised, and its summary printed. With them, a batch: each job's end is reported and logged, a failure does not
    stop the others, and existing outputs are skipped unless `overwrite`."""

    def __init__(
        self,
        planned: list[Planned],
        ranks: Ranks,
        *,
        quiet: bool,
        results: BatchResults | None = None,
        overwrite: bool = True,
    ) -> None:
        self.todo = sorted(planned, key=lambda p: p.generation.build.key)  # stable: file order within a group
        self.ranks = ranks
        self.quiet = quiet
        self.results = results
        self.overwrite = overwrite
        self.console = Console(stderr=True, quiet=quiet or ranks.rank != 0, highlight=False)
        self.counts = {"done": 0, "skipped": 0, "failed": 0}
        self.current: _Current | None = None
        self.started = 0  # jobs begun on this process
        self.spent = 0.0

    @property
    def batch(self) -> bool:
        return self.results is not None

    def run(self) -> None:
        keys = [p.generation.build.key for p in self.todo]
        sizes = Counter(keys)
        builds = {key: planned.generation.build for key, planned in zip(keys, self.todo, strict=True)}
        prompts: dict[str, dict[tuple[str, ...], None]] = {}  # group → each job's texts (Gemma once per group)
        for key, planned in zip(keys, self.todo, strict=True):
            prompts.setdefault(key, {})[tuple(job_prompts(planned.generation.call))] = None
        for key, indices in itertools.groupby(self._ready(), key=keys.__getitem__):
            pipeline = builds[key](self.ranks.layout)
            several = sizes[key] > 1  # a group of one is made as a lone call: nothing kept, nothing ahead
            jobs = self._feed(indices)
            try:
                self._run_group(pipeline, jobs, list(prompts[key]) if several else [], several)
            finally:
                pipeline.release()

    def _run_group(
        self, pipeline: Any, jobs: Iterator[dict[str, Any]], ahead: list[tuple[str, ...]], keep: bool
    ) -> None:
        started = self.started
        try:
            self._write_each(pipeline.run_jobs(jobs, prompts=ahead, keep_models=keep, on_error=self._failed_call))
        except LTXError:
            if not self.batch or not ahead or self.started != started:
                raise
            # Encoding the group's prompts ahead failed (Gemma): each job then encodes its own, failing alone if
            # it must (on every process of the group alike: the others got `FailedElsewhere`).
            self._write_each(pipeline.run_jobs(jobs, prompts=[], keep_models=keep, on_error=self._failed_call))

    def _ready(self) -> Iterator[int]:
        """The indices of the jobs this process makes, the skipped ones reported on the way."""
        key = f"{self.results.path}/next" if self.results is not None else "ltx/next"

        def exists(index: int) -> bool:
            return self.batch and not self.overwrite and self.todo[index].generation.output_path.exists()

        for index, skipped in self.ranks.claims(len(self.todo), key, exists):
            if not skipped:
                yield index
                continue
            planned = self.todo[index]
            path = planned.generation.output_path
            self._report(JobResult(planned.line, "skipped", str(path), planned.generation.args.seed), "skipped")
            self.console.print(f"{self._label(index + 1, planned)}: {path} exists, skipped")

    def _feed(self, indices: Iterator[int]) -> Iterator[dict[str, Any]]:
        """The call arguments of each job, as `run_jobs` asks for the next one."""
        for index in indices:
            planned = self.todo[index]
            quiet = self.quiet or self.ranks.rank != 0 or not self.ranks.layout.is_main
            self.current = _Current(planned, index + 1, JobProgress(quiet), time.perf_counter())
            self.started += 1
            self._announce()
            self.current.progress.generating()
            try:
                arguments = planned.generation.arguments(self.current.progress.phases)
            except LTXError as exc:
                self._finish(exc)
                continue
            yield arguments

    def _write_each(self, results: Iterator[tuple[dict[str, Any], Any]]) -> None:
        for _, result in results:
            current = self.current
            assert current is not None
            current.progress.generated()
            current.result = result
            error = None
            try:
                if self.ranks.layout.is_main:
                    write_output(current.planned.generation.output_path, result, current.progress)
                else:  # the same generation, quietly; it decodes its tiles as the first process reads the frames
                    finish_elsewhere(result)
            except LTXError as exc:
                error = exc
            self._finish(error)

    def _failed_call(self, job: dict[str, Any], exc: Exception) -> None:
        """A job's call raised: a user-facing error ends the job (the others go on); anything else ends the run."""
        if not isinstance(exc, LTXError):
            raise exc
        self._finish(exc)

    def _finish(self, error: LTXError | None) -> None:
        """The end of the current job on this process. A command line's generation raises its error at once (under
        torchrun the process exits and torchrun stops the others, as with any failure). A batch's job is agreed on
        with its group first, then reported, and the batch goes on."""
        current, self.current = self.current, None
        assert current is not None
        current.progress.close()
        if not self.batch:
            if error is not None:
                raise error
            if self.ranks.layout.is_main:
                self._run_summary(current)
            return
        if self.ranks.agree(error is not None) and error is None:
            error = FailedElsewhere("another process of this job failed")
        planned, args = current.planned, current.planned.generation.args
        seconds = time.perf_counter() - current.began
        path = str(planned.generation.output_path)
        if error is None:
            self.spent += seconds
            self._report(JobResult(planned.line, "done", path, args.seed, seconds), "done")
            return
        if self.ranks.reports:
            print_error(f"jobs line {planned.line}: {error}")
        self._report(JobResult(planned.line, "failed", path, args.seed, seconds, str(error)), "failed")

    def _run_summary(self, current: _Current) -> None:
        """The end-of-run table of a command line's generation."""
        args, path = current.planned.generation.args, current.planned.generation.output_path
        current.progress.run.summary(run_summary(path, args, current.result, self.ranks.layout))

    def _report(self, result: JobResult, count: str) -> None:
        if self.ranks.reports and self.results is not None:
            self.counts[count] += 1
            self.results.add(result)

    def _label(self, number: int, planned: Planned) -> str:
        return f"job {number}/{len(self.todo)} (line {planned.line})"

    def _announce(self) -> None:
        current = self.current
        if not self.batch or current is None:
            return
        left = (len(self.todo) - current.number + 1) / self.ranks.running_at_once
        done = self.counts["done"]
        eta = "" if not done else f", about {self.spent / done * left:.0f} s left"
        path = current.planned.generation.output_path
        self.console.print(f"{self._label(current.number, current.planned)}: {path.name}{eta}")


def _summary(console: Console, counts: dict[str, int], seconds: float, log_path: Path) -> None:
    table = Table(title="jobs", show_header=False)
    for name in ("done", "skipped", "failed"):
        table.add_row(name, str(counts[name]))
    table.add_row("total", str(sum(counts.values())))
    table.add_row("time", f"{seconds:.1f} s")
    if counts["done"]:
        table.add_row("per video", f"{seconds / counts['done']:.1f} s")
    table.add_row("results", str(log_path))
    console.print(table)
