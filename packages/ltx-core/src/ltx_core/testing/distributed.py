"""Running a function on several local processes joined by a gloo process group, for tests (any machine, no GPU).

Each rank's result is a dict of tensors written as safetensors by the child and read back by the parent (nothing is
unpickled from disk). A rank that does not finish within `timeout` seconds fails the call: a hang fails the test
instead of stalling the suite. The rendezvous store lives in the parent, as torchrun's lives in its launcher: a rank
that is stopped or killed does not take the store with it.
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file

RankFn = Callable[..., dict[str, torch.Tensor]]  # fn(rank, world_size, *args) → tensors to hand back


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _child(rank: int, world: int, port: int, out: str, backend: str, fn: RankFn, args: tuple[Any, ...]) -> None:
    from ltx_core.parallel.layout import leave_process_group

    torch.set_num_threads(1)
    if backend == "nccl":
        torch.cuda.set_device(rank)
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
        LOCAL_WORLD_SIZE=str(world),
    )
    store = dist.TCPStore("127.0.0.1", port, world, is_master=False, timeout=timedelta(seconds=60))
    dist.init_process_group(backend, store=store, rank=rank, world_size=world)
    try:
        result = fn(rank, world, *args)
        save_file({k: v.detach().cpu().contiguous() for k, v in result.items()}, f"{out}/rank{rank}.safetensors")
    finally:
        leave_process_group()


def run_ranks(
    fn: RankFn, world_size: int, *args: Any, timeout: float = 120.0, backend: str = "gloo"
) -> list[dict[str, torch.Tensor]]:
    """`fn(rank, world_size, *args)` on `world_size` spawned processes (gloo on 127.0.0.1, or NCCL with rank r on
    cuda:r); each rank's tensors."""
    store = dist.TCPStore("127.0.0.1", 0, world_size, is_master=True, wait_for_workers=False)
    with tempfile.TemporaryDirectory() as out:
        ctx = mp.start_processes(
            _child,
            args=(world_size, store.port, out, backend, fn, args),
            nprocs=world_size,
            join=False,
            start_method="spawn",
        )
        deadline = time.monotonic() + timeout
        try:
            while not ctx.join(timeout=max(0.1, deadline - time.monotonic())):  # False: some ranks still running
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{world_size} ranks did not finish within {timeout:g} s")
        finally:
            for process in ctx.processes:
                if process.is_alive():
                    process.kill()
        return [load_file(Path(out) / f"rank{r}.safetensors") for r in range(world_size)]
