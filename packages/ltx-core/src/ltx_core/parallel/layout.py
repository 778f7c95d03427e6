"""The process layout of one generation under torchrun: world = guidance degree × sequence degree.

Ranks are numbered `guidance_index × sequence_degree + sequence_rank`: each guidance group (a contiguous block of
`sequence_degree` ranks) splits the video tokens among its members, and the ranks with the same sequence rank in the
different guidance groups exchange the guidance passes they computed. Every rank creates every group, in the same
order (a `torch.distributed` rule).

Every group gets the layout's `timeout`: a collective that does not complete within it fails on every process that
entered it (a process stopped, killed or hung). The waits for another process's own work before an exchange do not
count against it: `share` (the main process's results to the others) and `wait_for_all` wait on the rendezvous
store for as long as the awaited processes give signs of life (`ltx_core.parallel.liveness`).
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

import torch
import torch.distributed as dist

from ltx_core.errors import InputError
from ltx_core.parallel.liveness import current_liveness, start_liveness, stop_liveness

if TYPE_CHECKING:
    from ltx_core.offload.policy import MemoryInfo

DEFAULT_TIMEOUT = timedelta(minutes=5)
_LAYOUT_NUMBERS = itertools.count()  # every process makes its layouts in the same order: the same numbers


class _WaitPoints:
    """The store keys where the processes of one layout wait for each other, numbered alike on every process."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0

    def next(self, kind: str) -> str:
        self.count += 1
        return f"{self.name}/{kind}{self.count}"


def launched_by_torchrun() -> bool:
    """True inside a process started by torchrun (or any launcher that sets the env:// variables)."""
    return all(k in os.environ for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"))


@dataclass(frozen=True)
class ParallelLayout:
    """This rank's place in the layout of one generation and the groups it talks to (None: a single process).

    `world_size` and `rank` count the processes of this generation: all of them, or, when the processes are cut
    into groups that each make their own generations (`init_layout(group_size=...)`), this rank's group (`group`,
    whose first process has the global rank `main_rank`)."""

    world_size: int = 1
    rank: int = 0
    guidance_degree: int = 1
    sequence_group: dist.ProcessGroup | None = None
    guidance_group: dist.ProcessGroup | None = None
    sharded_weights: bool = False
    group: dist.ProcessGroup | None = None
    main_rank: int = 0
    waits: _WaitPoints | None = field(default=None, compare=False, repr=False)

    @property
    def sequence_degree(self) -> int:
        return self.world_size // self.guidance_degree

    @property
    def guidance_index(self) -> int:
        return self.rank // self.sequence_degree

    @property
    def sequence_rank(self) -> int:
        return self.rank % self.sequence_degree

    @property
    def is_main(self) -> bool:
        """The generation's first process prints, runs the text encoder and writes the file."""
        return self.rank == 0

    @property
    def ranks(self) -> range:
        """The global ranks of the processes of this generation."""
        return range(self.main_rank, self.main_rank + self.world_size)

    def share(self, tensors: list[torch.Tensor] | None, device: torch.device) -> list[torch.Tensor]:
        """`tensors` as the main process gives them (None elsewhere), on every process of the generation. The others
        wait for the main process to be ready as long as it lives, however long its own work takes."""
        from ltx_core.parallel.broadcast import broadcast_tensors

        self._await_main()
        return broadcast_tensors(tensors, self.main_rank, self.group, self.transport(device))

    def share_text(self, texts: list[str] | None, device: torch.device) -> list[str]:
        from ltx_core.parallel.broadcast import broadcast_text

        self._await_main()
        return broadcast_text(texts, self.main_rank, self.group, self.transport(device))

    def _await_main(self) -> None:
        """The main process marks itself ready in the store; the others wait there, as long as every process of the
        generation gives signs of life, before the exchange (which the groups' timeout then bounds)."""
        liveness = current_liveness()
        if not self.is_parallel or liveness is None or self.waits is None:
            return
        key = self.waits.next("ready")
        if self.is_main:
            liveness.store.set(key, b"1")
        else:
            liveness.wait_for(key, self.ranks)

    def wait_for_all(self) -> None:
        """Return once every process of the generation got here, as long as they all give signs of life (after work
        that takes each its own time: loading a model, the main process writing the file; before leaving)."""
        liveness = current_liveness()
        if self.is_parallel and liveness is not None and self.waits is not None:
            liveness.wait_together(self.waits.next("together"), self.ranks)

    def most_constrained(self, memory: MemoryInfo, device: torch.device) -> MemoryInfo:
        """`memory` (this process's free memory) replaced by the least any process of the generation has, its RAM
        counted as its share of its machine's (every process of a machine keeps its own host copy of what it
        streams): the offload policy, a pure function of these numbers, then decides the same on every process, and
        what fits the most constrained process fits them all."""
        from ltx_core.offload.policy import MemoryInfo

        if not self.is_parallel:
            return memory
        local = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
        free = -1 if memory.accelerator_free is None else memory.accelerator_free
        mine = torch.tensor([free, memory.ram_available // local], dtype=torch.int64, device=self.transport(device))
        every = [torch.empty_like(mine) for _ in range(self.world_size)]
        dist.all_gather(every, mine, group=self.group)
        free_least, ram_least = torch.stack(every).min(dim=0).values.tolist()
        accelerator = None if memory.accelerator_free is None else max(0, free_least)
        return MemoryInfo(memory.device_type, accelerator, ram_least, memory.unified)

    @property
    def is_parallel(self) -> bool:
        return self.world_size > 1

    def transport(self, device: torch.device) -> torch.device:
        """Where tensors must be to travel between the ranks: on a GPU under NCCL (`device`, or this process's GPU
        when `device` is not one), on the CPU under gloo."""
        if self.is_parallel and dist.get_backend() == "nccl":
            return device if device.type == "cuda" else torch.device("cuda", torch.cuda.current_device())
        return torch.device("cpu")

    def describe(self) -> str:
        """One line for the run summary."""
        if not self.is_parallel:
            return "single process"
        weights = "sharded" if self.sharded_weights else "replicated"
        return (
            f"{self.world_size} processes: sequence degree {self.sequence_degree} × guidance degree "
            f"{self.guidance_degree}, weights {weights}"
        )


SINGLE_PROCESS = ParallelLayout()


def check_degrees(world_size: int, guidance_degree: int, *, name: str = "guidance_degree") -> None:
    """Refuse a guidance degree that does not divide the world size, naming the ones that do (`name`: what the
    caller calls the value, e.g. the CLI's `--cfg-parallel`)."""
    _check_divides(name, guidance_degree, world_size)


def check_group_size(world_size: int, group_size: int, *, name: str = "group_size") -> None:
    """Refuse groups that do not divide the processes, naming the sizes that do (`name` as in `check_degrees`)."""
    _check_divides(name, group_size, world_size)


def _check_divides(name: str, value: int, world_size: int) -> None:
    if value < 1 or world_size % value:
        valid = [d for d in range(1, world_size + 1) if world_size % d == 0]
        raise InputError(
            f"{name} {value} does not divide the {world_size} processes; use one of {', '.join(map(str, valid))}"
        )


def process_device(device: str | None) -> str | None:
    """The device of this torchrun process for a `--device` value: unset or a bare "cuda" becomes this process's
    GPU (`cuda:LOCAL_RANK`) when CUDA is there; anything else is kept as given."""
    if not launched_by_torchrun() or device not in (None, "cuda") or not torch.cuda.is_available():
        return device
    return f"cuda:{os.environ.get('LOCAL_RANK', '0')}"


def init_layout(
    guidance_degree: int = 1,
    *,
    device: torch.device | None = None,
    timeout: timedelta = DEFAULT_TIMEOUT,
    sharded_weights: bool = False,
    group_size: int | None = None,
) -> ParallelLayout:
    """The layout of this torchrun process (joining the default group if needed: NCCL for CUDA, else gloo), or the
    single-process layout outside torchrun. `group_size` (default: all) cuts the processes into groups of that size
    (consecutive ranks), each making its own generations; this layout is this process's group's. `timeout` bounds
    every collective of the layout's groups and how long a process may give no sign of life (see the module
    docstring); this process's heartbeat starts here."""
    if not dist.is_initialized():
        if not launched_by_torchrun():
            check_degrees(1, guidance_degree)
            return ParallelLayout(sharded_weights=sharded_weights)
        cuda = device is not None and device.type == "cuda"
        if cuda and "LOCAL_RANK" in os.environ:
            torch.cuda.set_device(torch.device("cuda", int(os.environ["LOCAL_RANK"])))
        if cuda:
            keep_running_after_nccl_errors()
        dist.init_process_group("nccl" if cuda else "gloo", timeout=timeout)
    world, global_rank = dist.get_world_size(), dist.get_rank()
    size = group_size or world
    check_group_size(world, size)
    check_degrees(size, guidance_degree)
    groups, mine, rank = world // size, global_rank // size, global_rank % size
    sequence_degree = size // guidance_degree
    my_group = sequence_group = guidance_group = None
    for number in range(groups):  # every rank creates every group, in the same order
        base = number * size
        group = dist.new_group(list(range(base, base + size)), timeout=timeout) if groups > 1 else None
        for index in range(guidance_degree):
            members = dist.new_group(
                [base + index * sequence_degree + r for r in range(sequence_degree)], timeout=timeout
            )
            if number == mine and rank // sequence_degree == index:
                sequence_group = members
        for position in range(sequence_degree):
            members = dist.new_group(
                [base + position + j * sequence_degree for j in range(guidance_degree)], timeout=timeout
            )
            if number == mine and rank % sequence_degree == position:
                guidance_group = members
        if number == mine:
            my_group = group
    start_liveness(timeout.total_seconds())
    waits = _WaitPoints(f"ltx/layout{next(_LAYOUT_NUMBERS)}/group{mine}")
    return ParallelLayout(
        size,
        rank,
        guidance_degree,
        sequence_group,
        guidance_group,
        sharded_weights,
        my_group,
        mine * size,
        waits,
    )


def keep_running_after_nccl_errors() -> None:
    """NCCL's error handling for this process (unless the user set it): on a timed-out or failed collective the
    watchdog aborts the communicators and the failure reaches the Python code as an error (mode 2, "clean up
    only"), instead of the default teardown that kills the process on the spot (no error line, no cleanup, a
    partial file left behind). Aborting also ends the kernels a stuck collective left running, so a thread blocked
    in a device sync behind them returns. Blocking wait (a host sync after every collective) stays off."""
    os.environ.setdefault("TORCH_NCCL_ASYNC_ERROR_HANDLING", "2")


def leave_process_group() -> None:
    """Stop this process's heartbeat and leave the process group (after `wait_for_all`, so no process is still
    receiving from one that left)."""

    stop_liveness()
    if dist.is_initialized():
        dist.destroy_process_group()
