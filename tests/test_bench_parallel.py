"""scripts/bench_parallel.py reports speedup and scaling efficiency only against a one-process run it measured (a run
over N = 2, 4 used to divide by its own first row times 2 and report a made-up 2.00), and says how the processes are
connected. The byte counter itself is tested in packages/ltx-core/tests/testing/test_collectives.py."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _script(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))  # it imports bench_transformer from its folder
    spec = importlib.util.spec_from_file_location("bench_parallel", ROOT / "scripts" / "bench_parallel.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


def test_speedup_only_against_a_measured_one_process_run(monkeypatch: pytest.MonkeyPatch) -> None:
    bench = _script(monkeypatch)
    assert bench.scaling({1: 0.8, 2: 0.5, 4: 0.4}) == {1: (1.0, 1.0), 2: (1.6, 0.8), 4: (2.0, 0.5)}
    assert bench.scaling({2: 0.5, 4: 0.4}) == {2: (None, None), 4: (None, None)}


def test_worlds(monkeypatch: pytest.MonkeyPatch) -> None:
    bench = _script(monkeypatch)
    assert bench.parse_worlds(None, 4) == [1, 2, 4]
    assert bench.parse_worlds("4,2,2", 8) == [2, 4]
    with pytest.raises(SystemExit, match="at least 1"):
        bench.parse_worlds("0,2", 2)
    with pytest.raises(SystemExit, match="comma-separated"):
        bench.parse_worlds("two", 2)


def test_the_interconnect_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    bench = _script(monkeypatch)
    assert bench.interconnect(cuda=False) == "interconnect: gloo on CPU / loopback (one machine)"
    monkeypatch.setattr(bench.torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(bench.torch.cuda, "get_device_name", lambda i: f"GPU{i}")
    monkeypatch.setattr(bench.torch.cuda.nccl, "version", lambda: (2, 28, 9))
    monkeypatch.setattr(bench.shutil, "which", lambda name: "/usr/bin/nvidia-smi")
    topology = "\tGPU0\tGPU1\nGPU0\t X \tNV18\nGPU1\tNV18\t X "
    calls = []

    def fake_run(cmd, **kwargs):
        calls.append(cmd)
        return bench.subprocess.CompletedProcess(cmd, 0, stdout=topology, stderr="")

    monkeypatch.setattr(bench.subprocess, "run", fake_run)
    text = bench.interconnect(cuda=True)
    assert calls == [["/usr/bin/nvidia-smi", "topo", "-m"]]
    assert text.startswith("interconnect: NCCL 2.28.9; GPUs: GPU0, GPU1\nnvidia-smi topo -m:\n")
    assert "GPU0\t X \tNV18" in text
