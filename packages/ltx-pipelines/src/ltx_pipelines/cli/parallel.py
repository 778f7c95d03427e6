"""One generation over the processes torchrun started: the layout from the flags, the same-arguments check, and how
a failure in one process is reported by the others.

Every process runs the whole command; its checks run before any collective (bad input: one line, exit 2, no hang).
Then the process group is joined, the arguments are compared across the ranks (the first that differs is named),
and the pipeline is built with the layout. Only rank 0 prints progress and the summary and writes the file. When one
process fails, it records its error in the rendezvous store before exiting; torchrun then stops the others, and rank
0 names the failed rank. The line a process exits with is also left where torchrun looks for a process's error
(`TORCHELASTIC_ERROR_FILE`), so torchrun's closing report shows it as the root cause.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from contextvars import ContextVar
from dataclasses import fields
from datetime import timedelta
from typing import Any

from ltx_core.errors import InputError
from ltx_core.parallel.broadcast import check_same_arguments
from ltx_core.parallel.layout import (
    SINGLE_PROCESS,
    ParallelLayout,
    check_degrees,
    check_group_size,
    init_layout,
    launched_by_torchrun,
    leave_process_group,
)
from ltx_pipelines.cli.options import CommonArgs

LAYOUT: ContextVar[ParallelLayout] = ContextVar("ltx_layout", default=SINGLE_PROCESS)
_FAILED_KEY = "ltx/failed"


def current_layout() -> ParallelLayout:
    """The layout the running command joined (single process outside torchrun, and in a --jobs batch that gives
    each process its own jobs)."""
    return LAYOUT.get()


def check_parallel_flags(args: CommonArgs) -> None:
    """What the several-process flags need, checked with the other boundary checks (before any collective)."""
    if args.shard_weights and args.offload in ("cpu", "disk"):
        raise InputError(
            f"--shard-weights cannot be combined with --offload {args.offload}: the weights are split "
            "over the GPUs instead of streamed; use --offload none (or leave it at auto)"
        )
    if args.shard_weights and args.compile:
        raise InputError(
            "--compile cannot be combined with --shard-weights yet: the blocks FSDP2 gathers are not "
            "compiled; drop one of them"
        )
    if args.shard_weights and args.quantization == "fp8-scaled-mm":
        raise InputError(
            "--shard-weights cannot split a pre-quantized fp8 checkpoint (fp8-scaled-mm); use "
            "--quantization fp8-cast on the bf16 checkpoint"
        )
    if args.processes_per_job is not None and args.jobs is None:
        raise InputError("--processes-per-job is for --jobs batches (one generation uses every process)")
    several = _world() > 1
    if args.cfg_parallel > 1 and not several:
        raise InputError(
            f"--cfg-parallel {args.cfg_parallel} needs several processes; launch with torchrun "
            f"--nproc-per-node {args.cfg_parallel} -m <pipeline> ..."
        )
    if several:
        size = job_size(args) if args.jobs is not None else _world()
        check_group_size(_world(), size, name="--processes-per-job")
        check_degrees(size, args.cfg_parallel, name="--cfg-parallel")


def _world() -> int:
    """The number of processes torchrun started (1 outside torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1")) if launched_by_torchrun() else 1


def job_size(args: CommonArgs) -> int:
    """How many processes make each job of a --jobs batch: `--processes-per-job`, else all of them when
    --cfg-parallel or --shard-weights ask for several, else 1 (each process its own jobs: the fastest way through
    many videos when one process can make a video)."""
    if args.processes_per_job is not None:
        return args.processes_per_job
    return _world() if args.cfg_parallel > 1 or args.shard_weights else 1


def works_together(args: CommonArgs) -> bool:
    """Whether the processes of a --jobs batch make each job in groups (see `job_size`)."""
    return job_size(args) > 1


def join(args: CommonArgs) -> ParallelLayout:
    """This process's layout for one generation, or for every job of a batch that works together (joining the
    process group under torchrun), after the arguments were found equal on every rank; sets `current_layout()`."""
    if not launched_by_torchrun() or (args.jobs is not None and not works_together(args)):
        return SINGLE_PROCESS
    import torch

    from ltx_pipelines.utils.blocks import resolve_device

    device = resolve_device(args.device)
    layout = init_layout(
        args.cfg_parallel,
        device=device,
        timeout=timedelta(seconds=args.dist_timeout),
        sharded_weights=args.shard_weights,
        group_size=job_size(args) if args.jobs is not None else None,
    )
    transport = layout.transport(device) if layout.is_parallel else torch.device("cpu")
    hint = "; start every process with the same command line"
    check_same_arguments(command_line_values(args), device=transport, hint=hint)
    LAYOUT.set(layout)
    return layout


def command_line_values(args: CommonArgs) -> list[tuple[str, object]]:
    """(flag, value) of every option of the running command, in its declaration order: the shared ones as parsed
    into `args` (checkpoint-dependent defaults filled), the pipeline's own as Typer parsed them. `--device` is left
    out: each process was given its own GPU."""
    from typer.main import get_current_context

    from ltx_pipelines.cli.options import OPTIONS

    shared = {f.name for f in fields(args)}
    values = [
        (OPTIONS[f.name].flag if f.name in OPTIONS else f.name, getattr(args, f.name))
        for f in fields(args)
        if f.name not in ("declared", "device")
    ]
    ctx = get_current_context(silent=True)
    if ctx is not None:  # the pipeline's own options (not in `args`)
        flags = {p.name: p.opts[0] for p in ctx.command.params if p.opts}
        values += [(flags.get(name, name), value) for name, value in ctx.params.items() if name not in shared]
    return values


def leave() -> None:
    """After a finished generation: wait until every process is done (the main process may still be writing the
    file, or receiving the last decoded tiles), then leave the process group."""
    layout = current_layout()
    if layout.is_parallel:
        layout.wait_for_all()
        leave_process_group()
        LAYOUT.set(SINGLE_PROCESS)


def rank_prefix() -> str:
    """ "rank N: " in a process other than rank 0 when torchrun started several, else "" (rank 0 speaks for the
    run)."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and os.environ.get("RANK", "0") != "0":
        return f"rank {os.environ['RANK']}: "
    return ""


def repeats_usage_errors() -> bool:
    """True in a torchrun process other than the first of its machine: every process checks the same command line,
    so one line per machine says it."""
    return launched_by_torchrun() and os.environ.get("LOCAL_RANK", "0") != "0"


def record_failure(message: str) -> None:
    """Leave this process's error in the rendezvous store, for the others to name when they are stopped (best effort;
    the first error recorded stays: it is the cause, later ones are its consequences)."""
    store = _store()
    if store is not None:
        with contextlib.suppress(Exception):  # the store may be gone with the run; the error is printed anyway
            store.compare_set(_FAILED_KEY, "", f"rank {os.environ.get('RANK', '0')}: {message}")


def failure_elsewhere() -> str | None:
    """The error another process recorded (rank 0 reports it when it is stopped), or None."""
    store = _store()
    if store is None:
        return None
    try:
        if store.check([_FAILED_KEY]):
            return store.get(_FAILED_KEY).decode()
    except Exception:
        return None
    return None


def record_for_launcher(message: str) -> None:
    """Write this process's error line where torchrun reads a failed process's error (its error file): torchrun's
    report then shows it as `traceback : error: ...` instead of a link to its documentation. First line wins."""
    path = os.environ.get("TORCHELASTIC_ERROR_FILE")
    if not path or os.path.exists(path):
        return

    with contextlib.suppress(OSError):  # a report nicety: never a reason to fail
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "w") as file:
            line = f"error: {rank_prefix()}{message}"  # torchrun's format; its report shows `py_callstack`
            extra = {"py_callstack": line, "timestamp": str(int(time.time()))}
            json.dump({"message": {"message": line, "extraInfo": extra}}, file)


def _store() -> Any:
    import torch.distributed as dist

    if not dist.is_available() or not dist.is_initialized() or dist.get_world_size() == 1:
        return None
    return dist.distributed_c10d._get_default_store()
