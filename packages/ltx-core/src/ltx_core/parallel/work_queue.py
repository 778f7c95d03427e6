"""Dynamic work sharing: each process takes the next unclaimed item from a counter in torch.distributed's key-value
store, so a slow item does not hold the others back (no static split) and every item is taken exactly once."""

from __future__ import annotations

from collections.abc import Iterator

import torch.distributed as dist


def claimed(count: int, store: dist.Store | None = None, key: str = "ltx/next_item") -> Iterator[int]:
    """Item indices for this process: all of `range(count)` in order without a store; with one, the next unclaimed
    index each time (`store.add` is atomic across processes and machines)."""
    if store is None:
        yield from range(count)
        return
    while (index := store.add(key, 1) - 1) < count:
        yield index
