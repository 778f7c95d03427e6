"""Counting what a process sends through `torch.distributed`, whichever API issued the collective.

A benchmark that wraps Python functions (`dist.all_to_all_single`, `dist.all_gather_into_tensor`, ...) misses every
collective issued through another name: FSDP2 gathers with `dist.all_gather_single` and reduces with
`dist.reduce_scatter_single` (names that changed between torch versions), DTensor and `torch.compile` use the
functional collectives. All of them end in one of the dispatcher's `c10d::` or `_c10d_functional::` operators, so
`count_collectives` counts there, with a TorchDispatchMode: each collective once, whoever called it.

Bytes are what the process must put on the interconnect with the usual ring / pairwise algorithms, for a group of
N processes and a tensor of B bytes on this process: all-gather (N−1)·B of its shard, reduce-scatter (N−1)/N·B,
all-reduce 2(N−1)/N·B, all-to-all B minus the slice it keeps, broadcast / scatter B from the source, gather and
send B. Every call is also counted by kind (latency matters as much as bytes for small messages).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist
from torch.utils._python_dispatch import TorchDispatchMode


@dataclass
class Collectives:
    """What `count_collectives` saw on this process: calls and bytes sent, per kind of collective."""

    calls: Counter[str] = field(default_factory=Counter)
    sent: Counter[str] = field(default_factory=Counter)

    @property
    def bytes(self) -> int:
        return sum(self.sent.values())

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def add(self, kind: str, sent: float) -> None:
        self.calls[kind] += 1
        self.sent[kind] += round(sent)

    def __str__(self) -> str:
        if not self.calls:
            return "no collectives"
        kinds = ", ".join(f"{k} {self.calls[k]}x {self.sent[k] / 2**20:.2f} MiB" for k in sorted(self.calls))
        return f"{self.total_calls} collectives, {self.bytes / 2**20:.2f} MiB sent ({kinds})"


def _nbytes(tensors: Any) -> int:
    if isinstance(tensors, torch.Tensor):
        return tensors.numel() * tensors.element_size()
    if isinstance(tensors, Sequence):
        return sum(_nbytes(t) for t in tensors)
    return 0


def _group(group: Any) -> dist.ProcessGroup:
    """The process group an operator got: c10d's operators get it boxed (a ScriptObject), the functional ones by
    name."""
    if isinstance(group, str):
        return dist.distributed_c10d._resolve_process_group(group)
    if isinstance(group, torch.ScriptObject):
        return dist.ProcessGroup.unbox(group)
    return group


def _all_to_all(total: int, group: dist.ProcessGroup, input_splits: Sequence[int]) -> float:
    """Bytes of an all-to-all's input that leave this process: all but the slice it keeps."""
    n, rank = group.size(), group.rank()
    if len(input_splits) == n and sum(input_splits) > 0:
        return total * (1 - input_splits[rank] / sum(input_splits))
    return total * (n - 1) / n  # even splits


def _from_root(nbytes: int, group: dist.ProcessGroup, root: int) -> int:
    return nbytes if group.rank() == root else 0


def _to_root(nbytes: int, group: dist.ProcessGroup, root: int) -> int:
    return 0 if group.rank() == root else nbytes


def _sent(name: str, args: Sequence[Any]) -> tuple[str, float] | None:
    """(kind, bytes sent) of one collective operator call, or None for an operator that is not a collective.
    Roots are ranks within the operator's group (torch.distributed converts global ranks before dispatching)."""
    # c10d::* (the ProcessGroup API under torch.distributed's functions, FSDP2 included)
    if name in ("_allgather_base_", "allgather_", "allgather_coalesced_", "allgather_into_tensor_coalesced_"):
        return "all_gather", (_group(args[2]).size() - 1) * _nbytes(args[1])
    if name in ("_reduce_scatter_base_", "reduce_scatter_", "reduce_scatter_tensor_coalesced_"):
        n = _group(args[2]).size()
        return "reduce_scatter", (n - 1) / n * _nbytes(args[1])
    if name in ("allreduce_", "allreduce_coalesced_"):
        n = _group(args[1]).size()
        return "all_reduce", 2 * (n - 1) / n * _nbytes(args[0])
    if name == "alltoall_base_":
        return "all_to_all", _all_to_all(_nbytes(args[1]), _group(args[2]), list(args[4]))
    if name == "alltoall_":
        rank = _group(args[2]).rank()
        return "all_to_all", sum(_nbytes(t) for i, t in enumerate(args[1]) if i != rank)
    if name == "broadcast_":
        return "broadcast", _from_root(_nbytes(args[0]), _group(args[1]), int(args[2]))
    if name == "scatter_":
        return "scatter", _from_root(_nbytes(args[1]), _group(args[2]), int(args[3]))
    if name in ("gather_", "gather_into_tensor_"):
        return "gather", _to_root(_nbytes(args[1]), _group(args[2]), int(args[3]))
    if name == "reduce_":
        return "reduce", _to_root(_nbytes(args[0]), _group(args[1]), int(args[3]))
    if name == "send":
        return "send", _nbytes(args[0])
    if name in ("recv_", "recv_any_source_"):
        return "recv", 0
    if name in ("barrier", "monitored_barrier_"):
        return "barrier", 0
    # _c10d_functional::* and _dtensor::* (DTensor, torch.compile, the functional API)
    if name in ("all_gather_into_tensor", "all_gather_into_tensor_out", "all_gather_into_tensor_coalesced"):
        return "all_gather", (int(args[1]) - 1) * _nbytes(args[0])
    if name in ("reduce_scatter_tensor", "reduce_scatter_tensor_out", "reduce_scatter_tensor_coalesced"):
        n = int(args[2])
        return "reduce_scatter", (n - 1) / n * _nbytes(args[0])
    if name in ("all_reduce", "all_reduce_", "all_reduce_coalesced", "all_reduce_coalesced_"):
        n = _group(args[2]).size()
        return "all_reduce", 2 * (n - 1) / n * _nbytes(args[0])
    if name == "all_to_all_single":
        return "all_to_all", _all_to_all(_nbytes(args[0]), _group(args[3]), list(args[2]))
    if name == "shard_dim_alltoall":
        return "all_to_all", _all_to_all(_nbytes(args[0]), _group(args[3]), [])
    if name in ("broadcast", "broadcast_"):
        return "broadcast", _from_root(_nbytes(args[0]), _group(args[2]), int(args[1]))
    if name == "isend":
        return "send", _nbytes(args[0])
    if name == "irecv":
        return "recv", 0
    return None


_NAMESPACES = ("c10d", "_c10d_functional", "_dtensor")


class _CountingMode(TorchDispatchMode):
    def __init__(self, seen: Collectives) -> None:
        super().__init__()
        self.seen = seen

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if func.namespace in _NAMESPACES:
            counted = _sent(func._schema.name.split("::", 1)[1], args)
            if counted is not None:
                self.seen.add(*counted)
        return func(*args, **kwargs)


@contextmanager
def count_collectives() -> Iterator[Collectives]:
    """Count, inside the block, every collective this process issues (calls and bytes sent, per kind). Thread-local,
    like every dispatch mode: collectives issued from another thread are not seen."""
    seen = Collectives()
    with _CountingMode(seen):
        yield seen


def collectives_case(rank: int, world: int) -> dict[str, torch.Tensor]:
    """Rank function of the counter's test (spawned processes import it by name): known collectives through each
    API, a group of one, and an FSDP2-sharded forward; per step, the calls and bytes counted by kind."""
    from torch.distributed.fsdp import fully_shard

    out: dict[str, torch.Tensor] = {}

    def keep(name: str, seen: Collectives) -> None:
        out[f"{name}.bytes"] = torch.tensor(seen.bytes, dtype=torch.int64)
        out[f"{name}.calls"] = torch.tensor(seen.total_calls, dtype=torch.int64)
        for kind in seen.calls:
            out[f"{name}.{kind}"] = torch.tensor(seen.sent[kind], dtype=torch.int64)

    x = torch.ones(1024)  # 4 KiB
    alone = [dist.new_group([r]) for r in range(world)]  # every rank takes part in creating every group
    with torch.inference_mode():
        with count_collectives() as seen:
            dist.all_gather_into_tensor(torch.empty(world * 1024), x)
            dist.all_gather([torch.empty(1024) for _ in range(world)], x)
            dist.all_to_all_single(torch.empty(1024), x)
            dist.reduce_scatter_tensor(torch.empty(1024 // world), x)
            dist.all_reduce(x.clone())
            dist.broadcast(x.clone(), src=0)
            name = dist.group.WORLD.group_name
            torch.ops._c10d_functional.wait_tensor(torch.ops._c10d_functional.all_gather_into_tensor(x, world, name))
        keep("api", seen)
        with count_collectives() as seen:
            dist.all_gather_into_tensor(torch.empty(1024), x, group=alone[rank])
        keep("alone", seen)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.Linear(64, 32))
    for layer in model:
        fully_shard(layer)
    with torch.inference_mode(), count_collectives() as seen:
        model(torch.ones(2, 64))
    keep("fsdp", seen)
    return out
