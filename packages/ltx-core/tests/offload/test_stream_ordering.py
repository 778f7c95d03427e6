"""The CUDA ordering of block streaming, checked on the CPU: streams, events and the disk reader thread are replaced
by fakes that log what the cache enqueues, and a happens-before graph built from that log must order every reuse.

Rules checked (device_cache.py / providers.py): a block runs only after its upload; an upload overwrites a device
row only after the block that last used the row has run; the next block's upload is queued from the running block's
pre-hook (prefetch) without the running block waiting for it; the disk reader thread refills a host slot only after
the upload that read it has finished, and an upload reads a host slot only after the reader has filled it with that
block. Negative controls drop the stream waits, the reader's event wait and the join on the reader: each must be
caught as a race.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch

from ltx_core.offload.streaming import build_streaming_transformer, providers
from ltx_core.testing.golden import component_cases, golden_dir, golden_modality, load_case


@dataclass(eq=False)
class FakeEvent:
    log: Any
    point: int | None = None  # the last op of the recording stream when recorded

    def record(self, stream: FakeStream) -> None:
        self.point = self.log.last_op(stream.name)

    def synchronize(self) -> None:
        if self.log.honour_host_waits:
            self.log.waits.setdefault(self.log.lane, []).append(self.point)


@dataclass(eq=False)
class FakeStream:
    name: str
    log: Any
    honour_waits: bool = True

    def wait_event(self, event: FakeEvent) -> None:
        if self.honour_waits:
            self.log.stream_waits.setdefault(self.name, []).append(event.point)

    def synchronize(self) -> None:
        pass


@dataclass
class Log:
    """Nodes are ops; edges say "must happen before". GPU ops follow their stream's order, the waits queued on
    their stream, and every main-thread host op issued before them; host ops follow their thread's program order
    ("host" is the main thread, "reader" the disk reader) and the waits that thread did (event waits, joins)."""

    edges: dict[int, set[int]] = field(default_factory=dict)
    labels: list[tuple[str, ...]] = field(default_factory=list)
    last: dict[str, int] = field(default_factory=dict)
    stream_waits: dict[str, list[int | None]] = field(default_factory=dict)
    waits: dict[str, list[int | None]] = field(default_factory=dict)  # per host thread, consumed by its next op
    current: str = "compute"
    lane: str = "host"  # the host thread running now
    honour_host_waits: bool = True

    def last_op(self, stream: str) -> int | None:
        return self.last.get(stream)

    def _node(self, label: tuple[str, ...], deps: list[int | None]) -> int:
        node = len(self.labels)
        self.labels.append(label)
        self.edges[node] = {d for d in deps if d is not None}
        return node

    def gpu(self, *label: str) -> int:
        stream = self.current
        deps = [self.last.get(stream), self.last.get("host"), *self.stream_waits.pop(stream, [])]
        node = self._node((stream, *label), deps)
        self.last[stream] = node
        return node

    def host(self, *label: str) -> int:
        lane = self.lane
        deps = [self.last.get(lane), *self.waits.pop(lane, [])]
        node = self._node((lane, *label), deps)
        self.last[lane] = node
        return node

    def before(self, a: int, b: int) -> bool:
        """Does op `a` necessarily happen before op `b`?"""
        seen, todo = set(), [b]
        while todo:
            n = todo.pop()
            for d in self.edges[n]:
                if d == a:
                    return True
                if d not in seen:
                    seen.add(d)
                    todo.append(d)
        return False


class InlineReader:
    """The disk reader's executor: each job runs at submit time, logged on the "reader" thread, after the submit."""

    def __init__(self, log: Log, honour_join: bool = True) -> None:
        self.log, self.honour_join = log, honour_join

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        self.log.waits.setdefault("reader", []).append(self.log.host("submit"))
        future: Future[Any] = JoinedFuture(self.log, self.honour_join)
        previous, self.log.lane = self.log.lane, "reader"
        try:
            future.set_result(fn(*args))
        except Exception as exc:
            future.set_exception(exc)
        finally:
            self.log.lane = previous
        future.end = self.log.last.get("reader")  # type: ignore[attr-defined]
        return future

    def shutdown(self, wait: bool = True) -> None:
        pass


class JoinedFuture(Future):
    """`result()` is the main thread joining the reader: its next op follows the reader's last op of the job."""

    def __init__(self, log: Log, honour_join: bool) -> None:
        super().__init__()
        self.log, self.honour_join, self.end = log, honour_join, None

    def result(self, timeout: float | None = None) -> Any:
        if self.honour_join:
            self.log.waits.setdefault("host", []).append(self.end)
        self.log.host("join")
        return super().result(timeout)


class LoggedHostBlock:
    """Reading `.data` is the upload (the cache copies it to the device right away, on the current stream)."""

    def __init__(self, block: providers.HostBlock, log: Log, copies: list[tuple[int, int | None, int]]) -> None:
        self._block, self._log, self._copies = block, log, copies
        self.index, self.slot = block.index, block.slot

    @property
    def data(self) -> torch.Tensor:
        self._copies.append((self.index, self.slot, self._log.gpu("copy", str(self.index))))
        return self._block.data


def _races(
    mode: str,
    slots: int,
    monkeypatch: pytest.MonkeyPatch,
    stream_waits: bool = True,
    host_waits: bool = True,
    join: bool = True,
) -> list[str]:
    golden = golden_dir()
    variant = component_cases("transformer_forward")[0].parent.name
    case = load_case(golden / "cases" / variant / "transformer_forward.safetensors")
    log = Log(honour_host_waits=host_waits)
    compute, copy = FakeStream("compute", log), FakeStream("copy", log, stream_waits)

    @contextmanager
    def on_stream(stream: FakeStream) -> Iterator[None]:
        previous, log.current = log.current, stream.name
        try:
            yield
        finally:
            log.current = previous

    fills: list[tuple[int, int, int]] = []  # (block, host slot, host op) per disk-mode host slot fill
    slot_of: dict[int, int] = {}  # host buffer address → slot
    real_fill = providers.fill_block

    def logged_fill(layout: Any, dst: torch.Tensor, *args: Any, **kwargs: Any) -> None:
        real_fill(layout, dst, *args, **kwargs)
        fills.append((layout.index, slot_of.get(dst.data_ptr(), -1), log.host("fill", str(layout.index))))

    monkeypatch.setattr(providers, "fill_block", logged_fill)
    monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: compute)
    monkeypatch.setattr(torch.cuda, "stream", on_stream)
    monkeypatch.setattr(torch.cuda, "Event", lambda *a, **k: FakeEvent(log))
    model = build_streaming_transformer(
        golden / case.params["checkpoint"], mode, "cpu", device_slots=slots, host_slots=slots
    )
    cache = model._cache
    cache.cuda, cache._copy_stream = True, copy  # the CUDA code path, on CPU tensors
    provider = cache.provider
    if mode == "disk":
        provider._executor = InlineReader(log, join)
        slot_of.update({b.data.data_ptr(): i for i, b in enumerate(provider._buffers)})
    copies: list[tuple[int, int | None, int]] = []  # (block, host slot, copy op) per upload
    real_fetch = provider.fetch
    provider.fetch = lambda index: LoggedHostBlock(real_fetch(index), log, copies)  # type: ignore[method-assign]
    runs: list[tuple[int, int, int, int]] = []  # (block, device row, start op, end op)

    def hooks(index: int) -> tuple[Any, Any]:
        def pre(*_: Any) -> None:
            runs.append((index, cache._cached[index], log.gpu("start", str(index)), -1))

        def post(*_: Any) -> None:
            block, row, start, _end = runs[-1]
            runs[-1] = (block, row, start, log.gpu("end", str(index)))

        return pre, post

    for index, block in enumerate(model.model.transformer_blocks):
        pre, post = hooks(index)
        block.register_forward_pre_hook(pre)
        block.register_forward_hook(post, prepend=True)  # before the cache's own post-hook records "done"
    with torch.no_grad():
        for _ in range(2):  # the second forward reuses rows and slots left by the first
            model(golden_modality(case.inputs, "video"), golden_modality(case.inputs, "audio"))
    model.close()

    races = []
    for i, (block, row, start, _end) in enumerate(runs):
        upload = max((op for b, _s, op in copies if b == block and op < start), default=None)
        if upload is not None and not log.before(upload, start):
            races.append(f"run {i}: block {block} may start before its upload")
        previous = [r for r in runs[:i] if r[1] == row and r[0] != block]
        if upload is not None and previous and not log.before(previous[-1][3], upload):
            races.append(f"run {i}: block {block}'s upload may overwrite row {row} while block {previous[-1][0]} runs")
    if mode == "disk":
        for block, slot, fill_op in fills:
            if any(s == slot and op < fill_op and not log.before(op, fill_op) for _b, s, op in copies):
                races.append(f"fill of block {block} may overwrite host slot {slot} during an upload")
        for block, slot, op in copies:
            filled = [(b, f) for b, s, f in fills if s == slot and f < op]
            if not filled or filled[-1][0] != block or not log.before(filled[-1][1], op):
                races.append(f"upload of block {block} may read host slot {slot} before the reader filled it")
    assert len(runs) == 2 * len(model.model.transformer_blocks) and copies
    if slots > 1:  # prefetch: block b+1's upload is queued before block b starts, and block b does not wait for it
        for k, (block, _row, start, _end) in enumerate(runs[:-1]):
            nxt = runs[k + 1][0]
            after = runs[k - 1][3] if k else -1  # copies queued from this block's pre-hook: the prefetch
            queued = [op for b, _s, op in copies if b == nxt and after < op < start]
            if nxt != block and queued and log.before(queued[-1], start):
                races.append(f"block {block} waits for the prefetch of block {nxt}")
        assert any(b == runs[1][0] and op < runs[0][2] for b, _s, op in copies), "block 1 was not prefetched"
    return races


@pytest.mark.parametrize("slots", [1, 2])
@pytest.mark.parametrize("mode", ["cpu", "disk"])
def test_every_reuse_is_ordered(mode: str, slots: int, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _races(mode, slots, monkeypatch) == []


@pytest.mark.parametrize("mode", ["cpu", "disk"])
def test_dropping_the_stream_waits_is_caught(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    races = _races(mode, 1, monkeypatch, stream_waits=False)
    assert any("overwrite row" in r for r in races), races


@pytest.mark.parametrize("slots", [1, 2])
def test_dropping_the_host_slot_wait_is_caught(slots: int, monkeypatch: pytest.MonkeyPatch) -> None:
    races = _races("disk", slots, monkeypatch, host_waits=False)
    assert any("overwrite host slot" in r for r in races), races


def test_dropping_the_join_on_the_reader_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    races = _races("disk", 2, monkeypatch, join=False)
    assert any("before the reader filled it" in r for r in races), races


def test_golden_variants_exist() -> None:
    assert component_cases("transformer_forward")
