"""Sharing one rank's results and checking that every rank was started alike.

The prompt's text encoder runs on one rank; its contexts (and the enhanced prompt text) are broadcast as tensors
with a small header (no pickling), so every rank holds bit-identical contexts. `check_same_everywhere` compares a
fingerprint of the arguments across ranks before any work: mismatched prompts, seeds or checkpoints are refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import torch
import torch.distributed as dist

from ltx_core.errors import InputError

_DTYPES = (torch.float32, torch.bfloat16, torch.float16, torch.float64, torch.int64, torch.int32, torch.uint8,
           torch.bool, torch.float8_e4m3fn)  # fmt: skip


def broadcast_tensors(
    tensors: Sequence[torch.Tensor] | None,
    src: int = 0,
    group: dist.ProcessGroup | None = None,
    device: torch.device | str = "cpu",
) -> list[torch.Tensor]:
    """`tensors` as given on global rank `src` (None elsewhere), on every rank of `group`, on `device`."""
    device = torch.device(device)
    is_src = dist.get_rank() == src
    count = torch.tensor([len(tensors) if is_src and tensors is not None else 0], dtype=torch.int64, device=device)
    dist.broadcast(count, src, group=group)
    out: list[torch.Tensor] = []
    for index in range(int(count)):
        local = tensors[index].to(device).contiguous() if is_src and tensors is not None else None
        header = torch.zeros(10, dtype=torch.int64, device=device)
        if local is not None:
            header[0], header[1] = _DTYPES.index(local.dtype), local.ndim
            header[2 : 2 + local.ndim] = torch.tensor(local.shape, dtype=torch.int64)
        dist.broadcast(header, src, group=group)
        values = header.tolist()
        if local is None:
            local = torch.empty(values[2 : 2 + values[1]], dtype=_DTYPES[values[0]], device=device)
        dist.broadcast(local, src, group=group)
        out.append(local)
    return out


def broadcast_text(
    texts: Sequence[str] | None,
    src: int = 0,
    group: dist.ProcessGroup | None = None,
    device: torch.device | str = "cpu",
) -> list[str]:
    """UTF-8 strings from `src` to every rank."""
    encoded = None if texts is None else [torch.tensor(list(t.encode()), dtype=torch.uint8) for t in texts]
    return [bytes(t.cpu().tolist()).decode() for t in broadcast_tensors(encoded, src, group, device)]


def fingerprint(*values: object) -> str:
    """A short digest of the values' reprs (what must agree across ranks)."""
    return hashlib.sha256(repr(values).encode()).hexdigest()


def check_same_everywhere(
    digest: str, what: str, group: dist.ProcessGroup | None = None, device: torch.device | str = "cpu"
) -> None:
    """Refuse (on every rank, in one line) when the ranks hold different `digest`s of `what`."""
    mine = torch.tensor(list(bytes.fromhex(digest)), dtype=torch.uint8, device=device)
    every = [torch.empty_like(mine) for _ in range(dist.get_world_size(group))]
    dist.all_gather(every, mine, group=group)
    others = [rank for rank, d in enumerate(every) if not torch.equal(d, every[0])]
    if others:
        ranks = ", ".join(map(str, others))
        raise InputError(f"{what} differ between the processes (rank {ranks} vs rank 0); start every rank with the "
                         "same command line")  # fmt: skip
