"""Whether the other processes of a run are still there: heartbeats in the rendezvous store, and waits that last as
long as the awaited processes live.

Two kinds of waiting, two bounds. A collective is bounded by its group's timeout (`init_layout(timeout=)`): once
every process has entered it, it ends within that time or fails. But a process often waits for another's own work
before an exchange: the first process loading Gemma, encoding or enhancing the prompts, writing the file, ending a
batch; every process loading its transformer at its own pace. That work may take far longer than any sensible
timeout, so those waits happen here, on the store, before the exchange: the waiting process polls for a key and
gives up only when a process it waits with has given no sign of life for the timeout.

The sign of life is a heartbeat: each process adds 1 to its counter in the store from a daemon thread every
`interval` seconds (a tenth of the timeout, at most 0.5 s). A process that is stopped (SIGSTOP), killed, or whose
machine is gone stops beating; one that is merely busy (in Python, in a torch op, in a device sync) keeps beating,
since torch releases the GIL in its ops. After a collective failed (a timeout, a closed connection),
`silent_ranks` tells which processes stopped beating (watched for three beats), so the error can name them.

The store is the one the process group was made with (torchrun's: hosted by the launcher, so it outlives a stopped
worker). Polling uses `check`, never a timed `wait` (TCPStore logs a warning line for every timed-out wait).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Sequence

import torch.distributed as dist

from ltx_core.errors import LostProcessError

_BEAT = "ltx/alive/"
_POLL_SECONDS = 0.05  # how often a wait looks at its key (a store round trip each)


class Liveness:
    """This process's heartbeat, and waits that watch the others' (see the module docstring)."""

    def __init__(self, store: dist.Store, rank: int, timeout: float) -> None:
        self.store = store
        self.rank = rank
        self.set_timeout(timeout)
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def set_timeout(self, timeout: float) -> None:
        self.timeout = float(timeout)
        self.interval = min(0.5, max(0.05, self.timeout / 10))  # ten beats per timeout at least, two a second

    def start(self) -> Liveness:
        self.beat()
        self._thread = threading.Thread(target=self._beat_until_stopped, name="ltx-heartbeat", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2 * self.interval)

    def beat(self) -> None:
        self.store.add(f"{_BEAT}{self.rank}", 1)

    def _beat_until_stopped(self) -> None:
        while not self._stopped.wait(self.interval):
            with contextlib.suppress(Exception):  # the store gone with the run: the waits report that themselves
                self.beat()

    def _counts(self, ranks: Sequence[int]) -> list[int]:
        return [self.store.add(f"{_BEAT}{r}", 0) for r in ranks]

    def wait_for(self, key: str, ranks: Sequence[int]) -> None:
        """Return once `key` is in the store; raise `LostProcessError` when a process of `ranks` (global ranks)
        gives no sign of life for the timeout meanwhile. No bound while they all live."""
        others = [r for r in ranks if r != self.rank]
        watch = _Watch(others, self._counts(others))
        look = time.monotonic() + self.interval
        while not self.store.check([key]):
            time.sleep(_POLL_SECONDS)
            if time.monotonic() >= look:
                self.beat()  # the heartbeat thread may be queued behind this thread's store calls
                silent = watch.update(self._counts(others)).silent_for(self.timeout)
                if silent:
                    message = f"lost contact with {_ranks(silent)}: no sign of life for {self.timeout:g} s"
                    raise LostProcessError(message, tuple(silent))
                look = time.monotonic() + self.interval

    def wait_together(self, name: str, ranks: Sequence[int]) -> None:
        """A barrier on the store: return once every process of `ranks` has called it with `name` (a name used once
        per group), as long as they live."""
        key = f"ltx/together/{name}"
        if self.store.add(key, 1) == len(ranks):
            self.store.set(f"{key}/all", b"1")
        self.wait_for(f"{key}/all", ranks)

    def silent_ranks(self, ranks: Sequence[int], seconds: float | None = None) -> list[int]:
        """The processes of `ranks` whose heartbeat does not move for `seconds` (default: three beats), watched now
        (after a failed collective: which process stopped answering)."""
        others = [r for r in ranks if r != self.rank]
        before = self._counts(others)
        time.sleep(3 * self.interval if seconds is None else seconds)
        after = self._counts(others)
        return [rank for rank, was, now in zip(others, before, after, strict=True) if was == now]


def _ranks(ranks: Sequence[int]) -> str:
    return f"rank {ranks[0]}" if len(ranks) == 1 else f"ranks {', '.join(map(str, ranks))}"


class _Watch:
    """When each watched process's heartbeat last moved, by this process's clock (no clock is shared)."""

    def __init__(self, ranks: Sequence[int], counts: Sequence[int]) -> None:
        now = time.monotonic()
        self.ranks = list(ranks)
        self.counts = list(counts)
        self.moved = [now] * len(self.ranks)

    def update(self, counts: Sequence[int]) -> _Watch:
        now = time.monotonic()
        for i, count in enumerate(counts):
            if count != self.counts[i]:
                self.counts[i], self.moved[i] = count, now
        return self

    def silent_for(self, seconds: float) -> list[int]:
        now = time.monotonic()
        return [rank for rank, moved in zip(self.ranks, self.moved, strict=True) if now - moved > seconds]


_CURRENT: Liveness | None = None


def start_liveness(timeout: float) -> Liveness:
    """This process's heartbeat in the default group's store (started once; a later call sets the timeout)."""
    global _CURRENT
    if _CURRENT is None or _CURRENT._stopped.is_set():
        _CURRENT = Liveness(dist.distributed_c10d._get_default_store(), dist.get_rank(), timeout).start()
    else:
        _CURRENT.set_timeout(timeout)
    return _CURRENT


def current_liveness() -> Liveness | None:
    """The running heartbeat of this process, or None (a single process, or none started)."""
    return _CURRENT if _CURRENT is not None and not _CURRENT._stopped.is_set() else None


_LOST_SIGNS = (
    "Timed out waiting",
    "Connection closed by peer",
    "Connection reset by peer",
    "communicator was aborted",
    "NCCL operation timed out",
    "Watchdog caught collective operation timeout",
)


def is_lost_contact(exc: BaseException) -> bool:
    """Whether `exc` is a collective (or the store) failing because another process stopped answering: torch's
    distributed errors (NCCL timeouts and aborted communicators, store timeouts) and gloo's timeouts and closed
    connections, which are plain RuntimeErrors."""
    if isinstance(exc, LostProcessError):
        return True
    if not isinstance(exc, RuntimeError) or not dist.is_available() or not dist.is_initialized():
        return False
    return isinstance(exc, dist.DistError) or any(sign in str(exc) for sign in _LOST_SIGNS)


def lost_contact(exc: BaseException, ranks: Sequence[int] | None = None) -> LostProcessError:
    """A failed exchange (`is_lost_contact(exc)`) as a `LostProcessError` naming the processes of `ranks` (default:
    all) that have stopped beating, watched for a few beats now."""
    if isinstance(exc, LostProcessError):
        return exc
    liveness = current_liveness()
    every = range(dist.get_world_size()) if ranks is None else ranks
    try:
        silent = liveness.silent_ranks(every) if liveness is not None else []
    except Exception:  # the store is gone as well
        silent = []
    first = " ".join(str(exc).split("\n")[0].split())
    first = first.split("] ", 1)[-1][:160]  # without gloo's "[file.cc:NN] " prefix
    if silent:
        message = f"lost contact with {_ranks(silent)}: an exchange failed ({first}) and it gives no sign of life"
        return LostProcessError(message, tuple(silent))
    return LostProcessError(f"lost contact with the other processes: an exchange failed ({first})")


def stop_liveness() -> None:
    """Stop this process's heartbeat (before leaving the process group)."""
    global _CURRENT
    if _CURRENT is not None:
        _CURRENT.stop()
        _CURRENT = None
