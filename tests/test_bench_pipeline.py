"""scripts/bench_pipeline.py: `--dtype fp32` writes fp32 weights under their own names (the transformer computes in
its stored dtype, so bf16 weights with fp32 states crashed at the first linear), and refuses fp8 quantization."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def _script(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_pipeline", ROOT / "scripts" / "bench_pipeline.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # its dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


def test_fp32_files_are_stored_in_fp32_under_their_own_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bench = _script(monkeypatch)
    assert {"bf16": torch.bfloat16, "fp32": torch.float32} == bench.DTYPES
    assert bench.file_paths(tmp_path, "ltx23", 1, "bf16") == (
        tmp_path / "ltx23_1layers.safetensors",
        tmp_path / "ltx23_spatial_upsampler_x2.safetensors",
    )
    assert bench.file_paths(tmp_path, "ltx2", 2, "fp32") == (
        tmp_path / "ltx2_2layers_fp32.safetensors",
        tmp_path / "ltx2_spatial_upsampler_x2_fp32.safetensors",
    )
    args = bench.parse_args(["--device", "cpu", "--dtype", "fp32"])
    assert args.dtype == "fp32" and args.quantization == "none"


def test_fp32_with_quantization_is_refused(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _script(monkeypatch).parse_args(["--device", "cpu", "--dtype", "fp32", "--quantization", "fp8-cast"])
    assert exit_info.value.code == 2
    assert "--quantization fp8-cast quantizes bf16 weights; use it with --dtype bf16" in capsys.readouterr().err


def test_host_syncs_are_counted_per_step_and_reported_in_the_headline(monkeypatch: pytest.MonkeyPatch) -> None:
    """The headline step's host syncs per step: counted between the stage's step events (the same window as the
    seconds per step), here one `.item()` a step on the CPU detector; the benchmark's own sync is not counted."""
    bench = _script(monkeypatch)
    memory = bench.Memory(torch.device("cpu"))
    syncs = bench.HostSyncs(torch.device("cpu"))
    timeline = bench.Timeline(memory, syncs)
    with syncs.counting():
        timeline.start()
        for step in range(4):
            timeline.progress("stage 1", step, 3)
            if step < 3:
                torch.ones(2).sum().item()  # one blocking call a step
        torch.ones(2).tolist()  # after the last step event: outside the window
    assert syncs.count() is None  # no longer counting
    assert bench.syncs_per_step(timeline) == {"stage 1": 1.0}
    timeline.cut("stage 1: 8 steps")
    args = bench.parse_args(["--device", "cpu"])
    args.step_tflop, args.run_tflop = {"stage 1": 1.0, "stage 2": 1.0}, 2.0
    line = bench.headline(args, timeline, memory, 1, bench.syncs_per_step(timeline))
    assert line.startswith("headline (run 1): 192x128x9, 1 blocks; total ")
    assert "stage 1 " in line and " s/step (" in line and "peak RSS " in line
    assert line.endswith("host syncs per step: stage 1 1 (counted in run 1)")
