"""The CUDA ordering of block streaming, checked on the CPU: streams and events are replaced by fakes that log what
the cache enqueues, and a happens-before graph built from that log must order every buffer reuse.

Rules checked (device_cache.py / providers.py): a block runs only after its upload; an upload overwrites a device
row only after the block that last used the row has run; the disk reader refills a host slot only after the upload
that read it has finished. A negative control drops the stream waits and must be caught as a race.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch

from ltx_core.offload.streaming import build_streaming_transformer, providers
from ltx_core.testing.golden import golden_dir, golden_modality, load_case


@dataclass(eq=False)
class FakeEvent:
    log: Any
    point: int | None = None  # the last op of the recording stream when recorded

    def record(self, stream: FakeStream) -> None:
        self.point = self.log.last_op(stream.name)

    def synchronize(self) -> None:
        if self.log.honour_host_waits:
            self.log.host_waits.append(self.point)


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
    their stream, and every host op issued before them; host ops follow program order and host waits only."""

    edges: dict[int, set[int]] = field(default_factory=dict)
    labels: list[tuple[str, ...]] = field(default_factory=list)
    last: dict[str, int] = field(default_factory=dict)
    stream_waits: dict[str, list[int | None]] = field(default_factory=dict)
    host_waits: list[int | None] = field(default_factory=list)
    current: str = "compute"
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
        deps = [self.last.get("host"), *self.host_waits]
        self.host_waits.clear()
        node = self._node(("host", *label), deps)
        self.last["host"] = node
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
    mode: str, slots: int, monkeypatch: pytest.MonkeyPatch, stream_waits: bool = True, host_waits: bool = True
) -> list[str]:
    golden = golden_dir()
    variant = sorted(p.parent.name for p in (golden / "cases").glob("*/transformer_forward.safetensors"))[0]
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

    fills: list[tuple[int, int]] = []  # (block, host op) per disk-mode host slot fill
    real_fill = providers.fill_block

    def logged_fill(layout: Any, dst: torch.Tensor, *args: Any, **kwargs: Any) -> None:
        real_fill(layout, dst, *args, **kwargs)
        fills.append((layout.index, log.host("fill", str(layout.index))))

    monkeypatch.setattr(providers, "fill_block", logged_fill)
    monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: compute)
    monkeypatch.setattr(torch.cuda, "stream", on_stream)
    monkeypatch.setattr(torch.cuda, "Event", lambda *a, **k: FakeEvent(log))
    model = build_streaming_transformer(
        golden / case.params["checkpoint"], mode, "cpu", device_slots=slots, host_slots=slots
    )
    cache = model._cache
    cache.cuda, cache._copy_stream = True, copy  # the CUDA code path, on CPU tensors
    copies: list[tuple[int, int | None, int]] = []  # (block, host slot, copy op) per upload
    real_fetch = cache.provider.fetch
    cache.provider.fetch = lambda index: LoggedHostBlock(real_fetch(index), log, copies)  # type: ignore[method-assign]
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
    if mode == "disk":  # each fetch fills a host slot, then uploads from it: fills and copies pair up in order
        slots_used = [slot for _b, slot, _op in copies]
        for k, (block, fill_op) in enumerate(fills):
            earlier = [copies[j][2] for j in range(k) if slots_used[j] == slots_used[k]]
            if earlier and not log.before(earlier[-1], fill_op):
                races.append(f"fill {k}: block {block} may overwrite host slot {slots_used[k]} during an upload")
    assert len(runs) == 2 * len(model.model.transformer_blocks) and copies
    return races


@pytest.mark.parametrize("slots", [1, 2])
@pytest.mark.parametrize("mode", ["cpu", "disk"])
def test_every_reuse_is_ordered(mode: str, slots: int, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _races(mode, slots, monkeypatch) == []


@pytest.mark.parametrize("mode", ["cpu", "disk"])
def test_dropping_the_stream_waits_is_caught(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    races = _races(mode, 1, monkeypatch, stream_waits=False)
    assert any("overwrite row" in r for r in races), races


def test_dropping_the_host_slot_wait_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    races = _races("disk", 1, monkeypatch, host_waits=False)
    assert any("overwrite host slot" in r for r in races), races


def test_golden_variants_exist() -> None:
    assert any((golden_dir() / "cases").glob("*/transformer_forward.safetensors"))
