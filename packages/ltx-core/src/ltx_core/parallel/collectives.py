"""Token-shard collectives: split a sequence over a group (padded to a multiple of its size), gather it back, and
exchange sequence shards for head groups (Ulysses all-to-all). Inference only (no autograd)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Shard:
    """This rank's part of a sequence of `length` tokens padded to `padded` = `size` × `local`."""

    length: int
    size: int
    rank: int

    @property
    def local(self) -> int:
        return -(-self.length // self.size)

    @property
    def padded(self) -> int:
        return self.local * self.size

    @property
    def start(self) -> int:
        return self.rank * self.local

    @property
    def valid(self) -> int:
        """Real (unpadded) tokens in this rank's part (0 for trailing ranks of a very short sequence)."""
        return max(0, min(self.length - self.start, self.local))


def pad_tokens(x: torch.Tensor, padded: int, dim: int, mode: str = "zeros") -> torch.Tensor:
    """`x` padded along `dim` to `padded` entries with zeros, or with copies of its last entry (`mode="edge"`)."""
    missing = padded - x.shape[dim]
    if missing <= 0:
        return x
    if mode == "edge":
        tail = x.narrow(dim, x.shape[dim] - 1, 1)
        fill = tail.expand(*[missing if d == dim % x.ndim else -1 for d in range(x.ndim)])
    else:
        shape = list(x.shape)
        shape[dim] = missing
        fill = x.new_zeros(shape)
    return torch.cat([x, fill], dim=dim)


def local_part(x: torch.Tensor, shard: Shard, dim: int, mode: str = "zeros") -> torch.Tensor:
    """This rank's `shard.local` entries of `x` along `dim` (padded first)."""
    return pad_tokens(x, shard.padded, dim, mode).narrow(dim, shard.start, shard.local).contiguous()


def gather_tokens(x: torch.Tensor, shard: Shard, dim: int, group: dist.ProcessGroup | None) -> torch.Tensor:
    """Every rank's local part of `x` along `dim`, concatenated in rank order, pads dropped."""
    parts = [torch.empty_like(x) for _ in range(shard.size)]
    dist.all_gather(parts, x.contiguous(), group=group)
    return torch.cat(parts, dim=dim).narrow(dim, 0, shard.length)


def sequence_to_heads(x: torch.Tensor, size: int, group: dist.ProcessGroup | None) -> torch.Tensor:
    """[B, n, H·d] local tokens, all heads → [B, size·n, (H/size)·d] all tokens, this rank's head group.

    The inner width is heads-major (`(h d)`), so head group g is the g-th contiguous slice of width H·d/size.
    """
    b, n, inner = x.shape
    chunks = x.reshape(b, n, size, inner // size).permute(2, 0, 1, 3).contiguous()  # [size, B, n, w]
    out = torch.empty_like(chunks)
    dist.all_to_all_single(out, chunks, group=group)  # out[r] = rank r's tokens, my head group
    return out.permute(1, 0, 2, 3).reshape(b, size * n, inner // size)


def heads_to_sequence(x: torch.Tensor, size: int, group: dist.ProcessGroup | None) -> torch.Tensor:
    """The inverse of `sequence_to_heads`: [B, size·n, w] this rank's heads → [B, n, size·w] local tokens."""
    b, total, width = x.shape
    n = total // size
    chunks = x.reshape(b, size, n, width).permute(1, 0, 2, 3).contiguous()  # [size, B, n, w]: tokens of rank r
    out = torch.empty_like(chunks)
    dist.all_to_all_single(out, chunks, group=group)  # out[g] = head group g of my tokens
    return out.permute(1, 2, 0, 3).reshape(b, n, size * width)
