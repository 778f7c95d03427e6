"""The process layout of one generation under torchrun: world = guidance degree × sequence degree.

Ranks are numbered `guidance_index × sequence_degree + sequence_rank`: each guidance group (a contiguous block of
`sequence_degree` ranks) splits the video tokens among its members, and the ranks with the same sequence rank in the
different guidance groups exchange the guidance passes they computed. Every rank creates every group, in the same
order (a `torch.distributed` rule).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from ltx_core.errors import InputError

DEFAULT_TIMEOUT = timedelta(minutes=5)


def launched_by_torchrun() -> bool:
    """True inside a process started by torchrun (or any launcher that sets the env:// variables)."""
    return all(k in os.environ for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"))


@dataclass(frozen=True)
class ParallelLayout:
    """This rank's place in the layout of one generation and the groups it talks to (None: a single process).

    `world_size` and `rank` count the processes of this generation: all of them, or, when a batch runs several
    generations at once (`processes_per_job`), this rank's job group (`group`, whose first process has the global
    rank `main_rank`; it is job group `job_index` of `job_groups`)."""

    world_size: int = 1
    rank: int = 0
    guidance_degree: int = 1
    sequence_group: dist.ProcessGroup | None = None
    guidance_group: dist.ProcessGroup | None = None
    sharded_weights: bool = False
    group: dist.ProcessGroup | None = None
    main_rank: int = 0
    job_index: int = 0
    job_groups: int = 1

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

    def share(self, tensors: list[torch.Tensor] | None, device: torch.device) -> list[torch.Tensor]:
        """`tensors` as the main process gives them (None elsewhere), on every process of the generation."""
        from ltx_core.parallel.broadcast import broadcast_tensors

        return broadcast_tensors(tensors, self.main_rank, self.group, self.transport(device))

    def share_text(self, texts: list[str] | None, device: torch.device) -> list[str]:
        from ltx_core.parallel.broadcast import broadcast_text

        return broadcast_text(texts, self.main_rank, self.group, self.transport(device))

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


def check_degrees(world_size: int, guidance_degree: int) -> None:
    """Refuse a guidance degree that does not divide the world size, naming the ones that do."""
    _check_divides("--cfg-parallel", guidance_degree, world_size)


def check_job_size(world_size: int, processes_per_job: int) -> None:
    """Refuse job groups that do not divide the processes, naming the sizes that do."""
    _check_divides("--processes-per-job", processes_per_job, world_size)


def _check_divides(flag: str, value: int, world_size: int) -> None:
    if value < 1 or world_size % value:
        valid = [d for d in range(1, world_size + 1) if world_size % d == 0]
        raise InputError(f"{flag} {value} does not divide the {world_size} processes; use one of "
                         f"{', '.join(map(str, valid))}")  # fmt: skip


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
    processes_per_job: int | None = None,
) -> ParallelLayout:
    """The layout of this torchrun process (joining the default group if needed: NCCL for CUDA, else gloo), or the
    single-process layout outside torchrun. `processes_per_job` (default: all) cuts the processes into job groups of
    that size, each making its own generations (a --jobs batch)."""
    if not dist.is_initialized():
        if not launched_by_torchrun():
            check_degrees(1, guidance_degree)
            return ParallelLayout(sharded_weights=sharded_weights)
        cuda = device is not None and device.type == "cuda"
        if cuda and "LOCAL_RANK" in os.environ:
            torch.cuda.set_device(torch.device("cuda", int(os.environ["LOCAL_RANK"])))
        dist.init_process_group("nccl" if cuda else "gloo", timeout=timeout)
    world, global_rank = dist.get_world_size(), dist.get_rank()
    size = processes_per_job or world
    check_job_size(world, size)
    check_degrees(size, guidance_degree)
    job_groups, job_index, rank = world // size, global_rank // size, global_rank % size
    sequence_degree = size // guidance_degree
    job_group = sequence_group = guidance_group = None
    for job in range(job_groups):  # every rank creates every group, in the same order
        base = job * size
        group = dist.new_group(list(range(base, base + size))) if job_groups > 1 else None
        for index in range(guidance_degree):
            members = dist.new_group([base + index * sequence_degree + r for r in range(sequence_degree)])
            if job == job_index and rank // sequence_degree == index:
                sequence_group = members
        for position in range(sequence_degree):
            members = dist.new_group([base + position + j * sequence_degree for j in range(guidance_degree)])
            if job == job_index and rank % sequence_degree == position:
                guidance_group = members
        if job == job_index:
            job_group = group
    return ParallelLayout(size, rank, guidance_degree, sequence_group, guidance_group, sharded_weights, job_group,
                          job_index * size, job_index, job_groups)  # fmt: skip
