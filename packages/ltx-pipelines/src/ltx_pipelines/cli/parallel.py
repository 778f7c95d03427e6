"""One generation over the processes torchrun started: the layout from the flags, the same-arguments check, and how
a failure in one process is reported by the others.

Every process runs the whole command; its checks run before any collective (bad input: one line, exit 2, no hang).
Then the process group is joined, the arguments are compared across the ranks, and the pipeline is built with the
layout. Only rank 0 prints progress and the summary and writes the file. When one process fails, it records its
error in the rendezvous store before exiting; torchrun then stops the others, and rank 0 names the failed rank.
"""

from __future__ import annotations

import contextlib
import os
from contextvars import ContextVar
from dataclasses import fields
from datetime import timedelta

from ltx_core.errors import InputError
from ltx_core.parallel.layout import SINGLE_PROCESS, ParallelLayout, launched_by_torchrun
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
        raise InputError(f"--shard-weights cannot be combined with --offload {args.offload}: the weights are split "
                         "over the GPUs instead of streamed; use --offload none (or leave it at auto)")  # fmt: skip
    if args.shard_weights and args.quantization == "fp8-scaled-mm":
        raise InputError("--shard-weights cannot split a pre-quantized fp8 checkpoint (fp8-scaled-mm); use "
                         "--quantization fp8-cast on the bf16 checkpoint")  # fmt: skip
    if args.processes_per_job is not None and args.jobs is None:
        raise InputError("--processes-per-job is for --jobs batches (one generation uses every process)")
    several = _world() > 1
    if args.cfg_parallel > 1 and not several:
        raise InputError(f"--cfg-parallel {args.cfg_parallel} needs several processes; launch with torchrun "
                         f"--nproc-per-node {args.cfg_parallel} -m <pipeline> ...")  # fmt: skip
    if several:
        from ltx_core.parallel.layout import check_degrees, check_job_size

        size = job_size(args) if args.jobs is not None else _world()
        check_job_size(_world(), size)
        check_degrees(size, args.cfg_parallel)


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

    from ltx_core.parallel.broadcast import check_same_everywhere, fingerprint
    from ltx_core.parallel.layout import init_layout
    from ltx_pipelines.utils.blocks import resolve_device

    device = resolve_device(args.device)
    layout = init_layout(args.cfg_parallel, device=device, timeout=timedelta(seconds=args.dist_timeout),
                         sharded_weights=args.shard_weights,
                         processes_per_job=job_size(args) if args.jobs is not None else None)  # fmt: skip
    same = {f.name: getattr(args, f.name) for f in fields(args) if f.name not in ("declared", "device")}
    check_same_everywhere(fingerprint(sorted(same.items())), "the command-line arguments",
                          device=layout.transport(device) if layout.is_parallel else torch.device("cpu"))  # fmt: skip
    LAYOUT.set(layout)
    return layout


def leave() -> None:
    """After a finished generation: leave the process group (each rank is done with its collectives)."""
    if current_layout().is_parallel:
        import torch.distributed as dist

        dist.destroy_process_group()
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
    """Leave this process's error in the rendezvous store, for rank 0 to name (best effort)."""
    store = _store()
    if store is not None:
        with contextlib.suppress(Exception):  # the store may be gone with the run; the error is printed anyway
            store.set(_FAILED_KEY, f"{rank_prefix()}{message}")


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


def _store() -> object | None:
    import torch.distributed as dist

    if not dist.is_available() or not dist.is_initialized() or dist.get_world_size() == 1:
        return None
    return dist.distributed_c10d._get_default_store()
