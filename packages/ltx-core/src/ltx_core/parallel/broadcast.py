"""Sharing one rank's results and checking that every rank was started alike.

The prompt's text encoder runs on one rank; its contexts (and the enhanced prompt text) are broadcast as tensors
with a small header (no pickling), so every rank holds bit-identical contexts. A tensor the header cannot describe
is refused by every rank alike: the source says so in the first message instead of failing alone and leaving the
others waiting. `check_same_arguments` compares a fingerprint of each argument across ranks before any work:
mismatched prompts, seeds or checkpoints are refused, naming the first argument that differs and its values.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import torch
import torch.distributed as dist

from ltx_core.errors import InputError

_DTYPES = (
    torch.float32,
    torch.bfloat16,
    torch.float16,
    torch.float64,
    torch.int64,
    torch.int32,
    torch.uint8,
    torch.bool,
    torch.float8_e4m3fn,
)
_MAX_DIMS = 8  # the header: dtype, ndim, then the sizes
_EVERY_DTYPE = sorted({v for v in vars(torch).values() if isinstance(v, torch.dtype)}, key=str)  # names a refusal


def broadcast_tensors(
    tensors: Sequence[torch.Tensor] | None,
    src: int = 0,
    group: dist.ProcessGroup | None = None,
    device: torch.device | str = "cpu",
) -> list[torch.Tensor]:
    """`tensors` as given on global rank `src` (None elsewhere), on every rank of `group`, on `device`."""
    device = torch.device(device)
    is_src = dist.get_rank() == src
    given = list(tensors) if is_src and tensors is not None else []
    head = torch.tensor([len(given), _refusal(given)], dtype=torch.int64, device=device)
    dist.broadcast(head, src, group=group)  # every rank learns the count, or that the source refuses
    count, refusal = head.tolist()
    if refusal:
        raise TypeError(_refusal_message(refusal))
    out: list[torch.Tensor] = []
    for index in range(count):
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


def _refusal(tensors: Sequence[torch.Tensor]) -> int:
    """0 when the header describes every tensor; else 1 + the dtype's index in `_EVERY_DTYPE`, or minus the number
    of dimensions (what the other ranks need to say why)."""
    for tensor in tensors:
        if tensor.dtype not in _DTYPES:
            return 1 + _EVERY_DTYPE.index(tensor.dtype)
        if tensor.ndim > _MAX_DIMS:
            return -tensor.ndim
    return 0


def _refusal_message(refusal: int) -> str:
    if refusal < 0:
        return f"cannot broadcast a tensor of {-refusal} dimensions; at most {_MAX_DIMS}"
    valid = ", ".join(str(d).removeprefix("torch.") for d in _DTYPES)
    return f"cannot broadcast a {_EVERY_DTYPE[refusal - 1]} tensor; valid dtypes: {valid}"


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
        raise InputError(
            f"{what} differ between the processes (rank {ranks} vs rank 0); start every rank with the same command line"
        )


_SHOWN_BYTES = 60  # of a differing value's text, per rank


def check_same_arguments(
    arguments: Sequence[tuple[str, object]],
    group: dist.ProcessGroup | None = None,
    device: torch.device | str = "cpu",
    hint: str = "",
) -> None:
    """Refuse, on every rank alike, when the ranks hold different values for the (name, value) `arguments` (compared
    by a digest of each value's repr, in the given order): one line naming the first that differs and each rank's
    value, then `hint`."""
    device = torch.device(device)
    size = dist.get_world_size(group)
    count = torch.tensor([len(arguments)], dtype=torch.int64, device=device)
    counts = [torch.empty_like(count) for _ in range(size)]
    dist.all_gather(counts, count, group=group)
    if len({int(c) for c in counts}) > 1:
        raise InputError(f"the processes take different sets of arguments (another version of the code?){hint}")
    digests = [fingerprint([name for name, _ in arguments])] + [fingerprint(value) for _, value in arguments]
    mine = torch.tensor([list(bytes.fromhex(d))[:16] for d in digests], dtype=torch.uint8, device=device)
    every = [torch.empty_like(mine) for _ in range(size)]
    dist.all_gather(every, mine, group=group)
    differs = (torch.stack(every) != every[0]).any(dim=2).any(dim=0).tolist()  # per argument, over the ranks
    if not any(differs):
        return
    if differs[0]:
        raise InputError(f"the processes take different sets of arguments (another version of the code?){hint}")
    index = differs.index(True) - 1
    name, value = arguments[index]
    encoded = _shown(value).encode()[:_SHOWN_BYTES]
    shown = torch.zeros(_SHOWN_BYTES + 1, dtype=torch.uint8, device=device)
    shown[0] = len(encoded)
    shown[1 : 1 + len(encoded)] = torch.tensor(list(encoded), dtype=torch.uint8)
    texts = [torch.empty_like(shown) for _ in range(size)]
    dist.all_gather(texts, shown, group=group)
    groups: dict[bytes, tuple[str, list[int]]] = {}  # the value's digest → its text, the ranks holding it
    for position, (digests, held) in enumerate(zip(every, texts, strict=True)):
        rank = dist.get_global_rank(group, position) if group is not None else position
        text = bytes(held[1 : 1 + int(held[0])].tolist()).decode(errors="replace")
        groups.setdefault(bytes(digests[1 + index].tolist()), (text, []))[1].append(rank)
    values = "; ".join(f"{text} on {_rank_list(ranks)}" for text, ranks in groups.values())
    raise InputError(f"{name} differs between the processes: {values}{hint}")


def _shown(value: object) -> str:
    """A value as a user wrote it (strings quoted, paths bare), cut to what fits the one-line message."""
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _rank_list(ranks: Sequence[int]) -> str:
    return f"rank {ranks[0]}" if len(ranks) == 1 else f"ranks {', '.join(map(str, ranks))}"
