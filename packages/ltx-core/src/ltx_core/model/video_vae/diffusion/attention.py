"""3-D neighbourhood attention (NATTEN `na3d` semantics, spec §3.6) without NATTEN, Triton or a compiler.

Per axis of length L and kernel k (k' = min(k, L)) a query at i attends keys `[s, s + k')` with
`s = clamp(i − k'//2, 0, L − k')`: centred where possible, shifted inward at the borders, always k' real keys. The
3-D window is the product of the axis windows; softmax scale 1 (q comes pre-scaled).

Three ways to compute it, equal within float32 rounding (the tests hold them to each other on the CPU):
* `gather`: the reference. Every query's k_t·k_h·k_w keys are gathered explicitly; memory grows with the kernel
  volume, so it is for tests and small inputs.
* `blocked`: queries are cut into small blocks; the keys any query of a block can see form one box of
  `block + k' − 1` cells per axis, so each block is one dense `scaled_dot_product_attention` over its box with a
  boolean mask. Blocks whose masks are equal (all interior ones) run as one batched call, on any device, using
  PyTorch's fused attention kernels. Fast (little masked work), but its SDPA calls sum in another order than the
  official ones: in bf16 that moves the decoded frames by up to ~0.04.
* `official`: the official eager fallback's cut (§3.7): a few huge query tiles, each one SDPA call over its whole
  key region with an additive mask. Most of its work is on masked keys, but its calls are the official calls, so in
  bf16 on the CPU the decode is the official one bit for bit.
`auto` (the default) is `official` on the CPU, where the official result is reproducible, and `blocked` elsewhere
(the official GPU path is NATTEN, which no cut here reproduces).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import torch
import torch.nn.functional as F

Triple = tuple[int, int, int]
# queries × keys × heads of one batched call: bounds the gathered key boxes and the score matrices
_CALL_ELEMENTS = 1 << 27


def window_starts(length: int, kernel: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """First key of each query's window along one axis."""
    k = min(kernel, length)
    return (torch.arange(length, device=device) - k // 2).clamp(0, length - k)


def _window_index(length: int, kernel: int, device: torch.device | str) -> torch.Tensor:
    k = min(kernel, length)
    return window_starts(length, kernel, device)[:, None] + torch.arange(k, device=device)


def gather_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, kernel: Triple) -> torch.Tensor:
    """Reference NA by explicit gathers. q, k, v: (B, NH, T, H, W, hd) → (B, NH, T, H, W, hd)."""
    _, _, t, h, w, _ = q.shape
    it, ih, iw = (_window_index(n, kk, q.device) for n, kk in zip((t, h, w), kernel, strict=True))

    def windows(x: torch.Tensor) -> torch.Tensor:  # (B, NH, T, H, W, kt, kh, kw, hd)
        x = x[:, :, it]  # B NH T kt H W hd
        x = x[:, :, :, :, ih]  # B NH T kt H kh W hd
        x = x[:, :, :, :, :, :, iw]  # B NH T kt H kh W kw hd
        return x.permute(0, 1, 2, 4, 6, 3, 5, 7, 8)

    kw_, vw = windows(k), windows(v)
    b, nh = q.shape[:2]
    kw_ = kw_.reshape(b, nh, t, h, w, -1, q.shape[-1])
    vw = vw.reshape(b, nh, t, h, w, -1, q.shape[-1])
    scores = torch.einsum("bntxyd,bntxykd->bntxyk", q, kw_)
    probs = scores.softmax(dim=-1)
    return torch.einsum("bntxyk,bntxykd->bntxyd", probs, vw)


@dataclass(frozen=True)
class _Axis:
    """One axis of a blocked plan: query blocks of `block`, key boxes of `box` starting at `box_start[j]`, and the
    per-block mask types (`types[kind]` is (block, box) bool; `kind_of[j]` the type of block j)."""

    block: int
    count: int
    box: int
    box_index: torch.Tensor  # (count, box) long
    types: torch.Tensor  # (kinds, block, box) bool
    kind_of: torch.Tensor  # (count,) long


def _plan_axis(length: int, kernel: int, block: int, device: torch.device | str) -> _Axis:
    k = min(kernel, length)
    block = max(1, min(block, length))
    count = -(-length // block)
    box = min(length, block + k - 1)
    starts = window_starts(length, kernel, device)
    first = torch.arange(count, device=device) * block
    box_start = torch.minimum(starts[first], torch.full_like(first, length - box))
    queries = (first[:, None] + torch.arange(block, device=device)).clamp(max=length - 1)  # padded rows: repeats
    rel = starts[queries] - box_start[:, None]  # (count, block)
    r = torch.arange(box, device=device)
    masks = (r >= rel[..., None]) & (r < rel[..., None] + k)  # (count, block, box)
    types, kind_of = torch.unique(masks, dim=0, return_inverse=True)
    return _Axis(block, count, box, box_start[:, None] + r, types, kind_of)


def _blocks_of(x: torch.Tensor, axes: tuple[_Axis, _Axis, _Axis]) -> torch.Tensor:
    """(B, NH, T, H, W, d) → (B, NH, nt, nh, nw, bt·bh·bw, d): the query blocks, zero-padded at the far ends."""
    b, nh, t, h, w, d = x.shape
    at, ah, aw = axes
    pad = (0, 0, 0, aw.count * aw.block - w, 0, ah.count * ah.block - h, 0, at.count * at.block - t)
    x = F.pad(x, pad)
    x = x.view(b, nh, at.count, at.block, ah.count, ah.block, aw.count, aw.block, d)
    return x.permute(0, 1, 2, 4, 6, 3, 5, 7, 8).reshape(b, nh, at.count, ah.count, aw.count, -1, d)


def _boxes_of(x: torch.Tensor, axes: tuple[_Axis, _Axis, _Axis], sel: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """Key boxes of the selected blocks: (N, T, H, W, d) → (N, st, sh, sw, box volume, d)."""
    n, _, _, _, d = x.shape
    it, ih, iw = (a.box_index[s] for a, s in zip(axes, sel, strict=True))
    x = x.index_select(1, it.flatten()).unflatten(1, it.shape)  # N st Rt H W d
    x = x.index_select(3, ih.flatten()).unflatten(3, ih.shape)  # N st Rt sh Rh W d
    x = x.index_select(5, iw.flatten()).unflatten(5, iw.shape)  # N st Rt sh Rh sw Rw d
    x = x.permute(0, 1, 3, 5, 2, 4, 6, 7)
    return x.reshape(n, len(sel[0]), len(sel[1]), len(sel[2]), -1, d)


def blocked_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, kernel: Triple, block: Triple | None = None
) -> torch.Tensor:
    """NA as dense attention over each query block's key box. q, k, v: (B, NH, T, H, W, hd)."""
    b, nh, t, h, w, d = q.shape
    block = block or default_block(kernel)
    axes = tuple(_plan_axis(n, kk, bb, q.device) for n, kk, bb in zip((t, h, w), kernel, block, strict=True))
    at, ah, aw = axes
    qb = _blocks_of(q, axes)
    kv = torch.stack((k, v)).reshape(2 * b * nh, t, h, w, d)  # one gather for keys and values
    out = torch.empty_like(qb)
    per_block = b * nh * (at.block * ah.block * aw.block) * max(d, at.box * ah.box * aw.box)
    for kinds in product(range(len(at.types)), range(len(ah.types)), range(len(aw.types))):
        sel = tuple(torch.nonzero(a.kind_of == kind).flatten() for a, kind in zip(axes, kinds, strict=True))
        mask = (
            at.types[kinds[0]][:, None, None, :, None, None]
            & ah.types[kinds[1]][None, :, None, None, :, None]
            & aw.types[kinds[2]][None, None, :, None, None, :]
        ).reshape(at.block * ah.block * aw.block, at.box * ah.box * aw.box)
        # split along the T blocks so one call stays within the element budget
        step = max(1, _CALL_ELEMENTS // max(1, per_block * len(sel[1]) * len(sel[2])))
        for i in range(0, len(sel[0]), step):
            part = (sel[0][i : i + step], sel[1], sel[2])
            qs = qb[:, :, part[0]][:, :, :, part[1]][:, :, :, :, part[2]]
            ks, vs = _boxes_of(kv, axes, part).unflatten(0, (2, b * nh))
            shape = qs.shape
            res = F.scaled_dot_product_attention(
                qs.reshape(b * nh, -1, shape[-2], d),
                ks.reshape(b * nh, -1, ks.shape[-2], d),
                vs.reshape(b * nh, -1, vs.shape[-2], d),
                attn_mask=mask,
                scale=1.0,
            )
            out[:, :, part[0][:, None, None], part[1][None, :, None], part[2][None, None, :]] = res.view(shape)
    out = out.view(b, nh, at.count, ah.count, aw.count, at.block, ah.block, aw.block, d)
    out = out.permute(0, 1, 2, 5, 3, 6, 4, 7, 8).reshape(b, nh, at.count * at.block, ah.count * ah.block, -1, d)
    return out[:, :, :t, :h, :w]


def default_block(kernel: Triple) -> Triple:
    """Query block (t, h, w): one frame of 8×8 tokens. Measured on the CPU (kernels 3×5×5 and 3×7×7): small blocks
    waste the fewest masked keys and beat 2×8×8, 1×16×16 and 6×14×14; not measured on a GPU."""
    return (1, 8, 8)


OFFICIAL_MASK_ELEMENTS = 1 << 25


def official_blocks(shape: Triple, kernel: Triple, limit: int = OFFICIAL_MASK_ELEMENTS) -> Triple:
    """The official eager fallback's query tiles (§3.7): halve the largest tile/kernel ratio until the mask of one
    tile is at most `limit` (2^25) elements."""
    tiles = list(shape)
    ks = [min(kk, n) for kk, n in zip(kernel, shape, strict=True)]

    def volume() -> int:
        region = 1
        for n, tile, kk in zip(shape, tiles, ks, strict=True):
            region *= min(n, tile + kk - 1)
        return tiles[0] * tiles[1] * tiles[2] * region

    while volume() > limit and max(tiles) > 1:
        ratios = [tile / kk for tile, kk in zip(tiles, ks, strict=True)]
        a = ratios.index(max(ratios))
        tiles[a] = max(1, (tiles[a] + 1) // 2)
    return (tiles[0], tiles[1], tiles[2])


# per query tile of one axis: its queries, its key region, and the kind of its window mask (equal kinds, equal masks)
_AxisTiles = list[tuple[slice, slice, tuple[int, ...]]]


def _official_axis(length: int, kernel: int, tile: int) -> _AxisTiles:
    """Per query tile of one axis: its queries, its key region [start(first), start(last) + k') and the key-region
    offsets of its queries' windows (what its mask is made of)."""
    k = min(kernel, length)
    starts = window_starts(length, kernel).tolist()
    out = []
    for first in range(0, length, tile):
        last = min(first + tile, length) - 1
        lo, hi = starts[first], starts[last] + k
        out.append((slice(first, last + 1), slice(lo, hi), (hi - lo, *(s - lo for s in starts[first : last + 1]))))
    return out


def _axis_mask(kind: tuple[int, ...], kernel: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """(queries, region) additive mask of one axis: 0 inside a query's window, -inf outside."""
    region, rel = kind[0], torch.tensor(kind[1:], device=device)
    r = torch.arange(region, device=device)
    inside = (r >= rel[:, None]) & (r < rel[:, None] + min(kernel, region))
    return torch.zeros(inside.shape, dtype=dtype, device=device).masked_fill_(~inside, float("-inf"))


def official_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, kernel: Triple, limit: int = OFFICIAL_MASK_ELEMENTS
) -> torch.Tensor:
    """NA exactly as the official eager fallback computes it (§3.7): its query tiles, each one SDPA call over the
    tile's key region with an additive mask (tiles of equal geometry share it). The call shapes fix the attention
    kernel's summation order, so in bf16 this is the official CPU decode bit for bit (the small blocks of `blocked`
    round differently). The mask holds -inf where the official one holds `finfo.min`: the same zero weights, the same
    bits (no row is ever fully masked), and it is one broadcast sum of the three axis masks."""
    b, nh, t, h, w, d = q.shape
    tiles = official_blocks((t, h, w), kernel, limit)
    axes = [_official_axis(n, kk, tile) for n, kk, tile in zip((t, h, w), kernel, tiles, strict=True)]
    out = torch.empty_like(q)
    masks: dict[tuple[tuple[int, ...], ...], torch.Tensor] = {}
    for (qt, kt, ct), (qh, kh, ch), (qw, kw, cw) in product(*axes):
        kinds = (ct, ch, cw)
        mask = masks.get(kinds)
        if mask is None:
            mt, mh, mw = (_axis_mask(c, kk, q.dtype, q.device) for c, kk in zip(kinds, kernel, strict=True))
            th = (mt[:, None, :, None] + mh[None, :, None, :]).flatten(0, 1).flatten(1, 2)
            mask = (th[:, None, :, None] + mw[None, :, None, :]).flatten(0, 1).flatten(1, 2)
            masks = {kinds: mask}  # keep one: tiles of one geometry come in runs along W
        sizes = (qt.stop - qt.start, qh.stop - qh.start, qw.stop - qw.start)
        nq, nk = mask.shape
        res = F.scaled_dot_product_attention(
            q[:, :, qt, qh, qw].reshape(b, nh, nq, d),
            k[:, :, kt, kh, kw].reshape(b, nh, nk, d),
            v[:, :, kt, kh, kw].reshape(b, nh, nk, d),
            attn_mask=mask[None, None],
            scale=1.0,
        )
        out[:, :, qt, qh, qw] = res.view(b, nh, *sizes, d)
    return out


Backend = str  # "auto" | "official" | "blocked" | "gather"
BACKENDS = ("auto", "official", "blocked", "gather")


def resolve_backend(backend: Backend, device: torch.device) -> Backend:
    """ "auto": the official tiling on the CPU (bitwise the official CPU decode, in bf16 too), `blocked` elsewhere
    (no official accelerator result to match: the official GPU path is NATTEN)."""
    if backend == "auto":
        return "official" if device.type == "cpu" else "blocked"
    return backend


def neighborhood_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, kernel: Triple, backend: Backend = "auto"
) -> torch.Tensor:
    """NA over (B, NH, T, H, W, hd) tensors by the named backend (all compute the same function)."""
    backend = resolve_backend(backend, q.device)
    if backend == "gather":
        return gather_attention(q, k, v, kernel)
    if backend == "official":
        return official_attention(q, k, v, kernel)
    if backend != "blocked":
        raise ValueError(f"attention backend {backend!r} is unknown; use one of {', '.join(BACKENDS)}")
    return blocked_attention(q, k, v, kernel)
