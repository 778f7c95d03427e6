"""`--jobs FILE`: many generations in one run of a pipeline's command, models loaded once, resumable.

Every job is parsed and checked as its own command line would be (the command line given, minus the batch flags and
the options the job sets, plus the job's options), before any model is built; a bad job is reported in one line with
its line number and skipped. Then, per group of jobs that build the same pipeline (checkpoint, LoRA set, runtime):
Gemma encodes every prompt of the group in one residency and is freed, the pipeline keeps its other models between
jobs, and each job writes its MP4 (atomically) and appends its result to the results file. A job whose output exists
is skipped unless `--overwrite`, so rerunning a killed batch finishes only what is left.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from ltx_core.errors import LTXError
from ltx_pipelines.cli.batch_state import BATCH, BatchState, JobRefused
from ltx_pipelines.cli.command import print_error, usage_message
from ltx_pipelines.cli.jobs import RUN_WIDE, BadJob, Job, JobResult, ResultsLog, read_jobs, results_path
from ltx_pipelines.cli.options import CommonArgs

BATCH_OPTIONS = ("jobs", "output_dir", "overwrite", "processes_per_job")  # the batch's own: not in a job's command line


def _flag_tokens(param: Any, value: Any) -> list[str]:
    """A job's option value as command-line tokens for Click parameter `param`."""
    flag = param.opts[0]
    if getattr(param, "is_flag", False):
        if value:
            return [flag]
        return [param.secondary_opts[0]] if param.secondary_opts else []
    if param.multiple:
        return [t for entry in value for t in (flag, *map(str, entry))]
    if isinstance(value, list):
        return [flag, *map(str, value)]
    return [flag, str(value)]


def _without(argv: Sequence[str], flags: set[str]) -> list[str]:
    """`argv` without the given flags and their values (the tokens up to the next `--flag`)."""
    out: list[str] = []
    skipping = False
    for token in argv:
        if token.startswith("--"):
            skipping = token.split("=", 1)[0] in flags
        if not skipping:
            out.append(token)
    return out


def job_argv(base: Sequence[str], params: dict[str, Any], job: Job) -> list[str]:
    """The job's own command line: the batch's, minus the batch flags and what the job sets, plus the job."""
    drop = {o for name in (*BATCH_OPTIONS, "output_path", *job.options) if name in params
            for o in (*params[name].opts, *params[name].secondary_opts)}  # fmt: skip
    tokens = _without(base, drop)
    for name, value in job.options.items():
        tokens += _flag_tokens(params[name], value)
    return [*tokens, params["output_path"].opts[0], str(job.output_path)]


def _group_key(args: CommonArgs) -> str:
    """Jobs that build the same pipeline run together (each LoRA set is fused once)."""
    return repr((args.model_checkpoint, args.loras, args.distilled_loras, args.spatial_upsampler_path, args.gemma_root,
                 args.device, args.offload, args.quantization, args.compile))  # fmt: skip


def _prompts(args: CommonArgs) -> list[str]:
    """The texts the pipeline will encode for this job (none ahead when Gemma rewrites the prompt first)."""
    if args.enhance_prompt:
        return []
    return [args.prompt, *([args.negative_prompt] if "negative_prompt" in args.declared else [])]


def run_jobs_file(args: CommonArgs, command: Any, base_argv: Sequence[str], prog_name: str) -> None:
    """The whole batch of `args.jobs` for the running Click `command` (whose command line was `base_argv`)."""
    assert args.jobs is not None
    params = {p.name: p for p in command.params}
    known = [n for n in params if n not in (*BATCH_OPTIONS, *RUN_WIDE, "output_path")]
    multi = [n for n in known if params[n].multiple]
    output_dir = args.output_dir
    jobs, bad = read_jobs(args.jobs, known=known, multi=multi, defaults={"seed": args.seed, "prompt": args.prompt},
                          output_dir=output_dir)  # fmt: skip
    state = BatchState(bad=list(bad))
    token = BATCH.set(state)
    try:
        for job in jobs:  # parse and check each job as its own command line, building nothing
            state.collecting = job
            try:
                command.main(args=job_argv(base_argv, params, job), prog_name=prog_name, standalone_mode=False)
            except (typer.TyperException, JobRefused) as exc:
                state.bad.append(BadJob(job.line, usage_message(exc)))
        state.collecting = None
        _run(args, state, ResultsLog(results_path(args.jobs, output_dir)))
    finally:
        BATCH.reset(token)


@dataclass(frozen=True)
class Ranks:
    """Under torchrun, every process takes the next unclaimed job from a counter in torch.distributed's key-value
    store (no static split: a slow job does not hold the others back); rank 0 reports the bad lines and the
    summary. When the processes make each job in groups (`together`: --cfg-parallel, --shard-weights or
    --processes-per-job), each group's first process claims the next job for its group and tells the others; it
    decides what to skip, logs, prints and writes. Alone, one process takes every job in order."""

    rank: int = 0
    world: int = 1
    store: Any = None
    layout: Any = None  # the job group's ParallelLayout when together

    @classmethod
    def from_environment(cls, args: CommonArgs) -> Ranks:
        from ltx_core.parallel.layout import launched_by_torchrun
        from ltx_pipelines.cli.parallel import join, works_together

        if not launched_by_torchrun():
            return cls()
        import torch.distributed as dist

        layout = join(args) if works_together(args) else None
        if not dist.is_initialized():
            dist.init_process_group("gloo")
        # the store torchrun's rendezvous made for the default group, shared by every process of the run
        store = dist.PrefixStore("ltx_jobs/", dist.distributed_c10d._get_default_store())
        return cls(dist.get_rank(), dist.get_world_size(), store, layout)

    @property
    def together(self) -> bool:
        return self.layout is not None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def running_at_once(self) -> int:
        """How many jobs are made at the same time."""
        return self.layout.job_groups if self.together else self.world

    @property
    def reports(self) -> bool:
        """Whether this process logs and counts the jobs it goes through (each job once over all processes)."""
        return not self.together or self.layout.is_main

    def claims(self, count: int, key: str) -> Iterator[int]:
        """The indices of the jobs this process makes (with its group when together)."""
        from ltx_core.parallel.work_queue import claimed

        if not self.together:
            yield from claimed(count, self.store, key)
            return
        import torch

        mine = claimed(count, self.store, key) if self.layout.is_main else None
        while True:
            offer = [torch.tensor([next(mine, -1)], dtype=torch.int64)] if mine is not None else None
            index = int(self.layout.share(offer, torch.device("cpu"))[0].item())
            if index < 0:
                return
            yield index

    def skips(self, path: Path, overwrite: bool) -> bool:
        """Whether a job's output exists (and is kept): the group's first process answers for its group."""
        exists = path.exists() and not overwrite
        if not self.together:
            return exists
        import torch

        mine = [torch.tensor([exists], dtype=torch.uint8)] if self.layout.is_main else None
        return bool(self.layout.share(mine, torch.device("cpu"))[0].item())

    def total(self, counts: dict[str, int]) -> dict[str, int]:
        """The counts of every process added up (each job is counted by the one process that reported it)."""
        if self.world == 1:
            return counts
        import torch
        import torch.distributed as dist

        on_gpu = dist.get_backend() == "nccl"  # a batch that works together on GPUs joined with NCCL
        device = torch.device("cuda", torch.cuda.current_device()) if on_gpu else torch.device("cpu")
        values = torch.tensor([counts[k] for k in ("done", "skipped", "failed")], dtype=torch.int64, device=device)
        dist.all_reduce(values)
        return dict(zip(("done", "skipped", "failed"), values.tolist(), strict=True))


def _run(args: CommonArgs, state: BatchState, log: ResultsLog) -> None:
    from ltx_pipelines.cli.runtime import write_result

    ranks = Ranks.from_environment(args)
    main = ranks.is_main
    console = Console(stderr=True, quiet=args.quiet or not main, highlight=False)
    counts = {"done": 0, "skipped": 0, "failed": len(state.bad) if main else 0}
    if main:
        for entry in sorted(state.bad, key=lambda b: b.line):
            print_error(str(entry))
            log.append(JobResult(entry.line, "failed", "", None, 0.0, entry.error))
    todo = sorted(state.collected, key=lambda c: _group_key(c.args))  # stable: file order within a group
    group_prompts: dict[str, dict[str, None]] = {}  # group → the texts its jobs encode (Gemma once per group)
    for item in todo:
        group_prompts.setdefault(_group_key(item.args), {}).update(dict.fromkeys(_prompts(item.args)))
    start, spent = time.perf_counter(), 0.0

    def report(result: JobResult, count: str) -> None:
        if ranks.reports:
            counts[count] += 1
            log.append(result)

    for index in ranks.claims(len(todo), key=f"{log.path}/next"):
        number, item = index + 1, todo[index]
        job, path = item.job, item.job.output_path
        label = f"job {number}/{len(todo)} (line {job.line})"
        if ranks.skips(path, args.overwrite):
            report(JobResult(job.line, "skipped", str(path), item.args.seed), "skipped")
            console.print(f"{label}: {path} exists, skipped")
            continue
        state.prompts = group_prompts[_group_key(item.args)]
        left = (len(todo) - number + 1) / ranks.running_at_once
        eta = "" if not counts["done"] else f", about {spent / counts['done'] * left:.0f} s left"
        console.print(f"{label}: {path.name}{eta}")
        began = time.perf_counter()
        try:
            write_result(item.args, item.generate, summary=False)
        except LTXError as exc:
            print_error(f"jobs line {job.line}: {exc}")
            seconds = time.perf_counter() - began
            report(JobResult(job.line, "failed", str(path), item.args.seed, seconds, str(exc)), "failed")
            continue
        seconds = time.perf_counter() - began
        spent += seconds
        report(JobResult(job.line, "done", str(path), item.args.seed, seconds), "done")
    if state.pipeline is not None:
        state.pipeline.release()
    counts = ranks.total(counts)
    _summary(console, counts, time.perf_counter() - start, log.path)
    if ranks.together:
        from ltx_pipelines.cli.parallel import leave

        leave()
    if counts["failed"]:
        raise typer.Exit(1)


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
