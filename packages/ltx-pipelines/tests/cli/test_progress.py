"""Progress facade: plain lines without a TTY, rich bars with one, silence when quiet, the summary table."""

from __future__ import annotations

import io
from pathlib import Path

import torch
from rich.console import Console

from ltx_pipelines.cli.progress import PeakMemory, RunProgress, RunSummary, format_bytes, format_seconds, peak_memory

SUMMARY = RunSummary(output_path=Path("/tmp/out.mp4"), num_frames=121, height=512, width=768, fps=24.0, seed=10)


def _console(terminal: bool) -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=terminal, width=120, color_system=None), buffer


def test_plain_output_without_a_terminal() -> None:
    console, buffer = _console(terminal=False)
    progress = RunProgress(console=console)
    with progress.stage("stage 1"):
        assert list(progress.steps(range(3), description="stage 1 denoising")) == [0, 1, 2]
    chunks = [torch.zeros(2, 4, 4, 3), torch.zeros(1, 4, 4, 3)]
    assert len(list(progress.frames(chunks, total_frames=3))) == 2
    lines = buffer.getvalue().splitlines()
    assert lines[0] == "stage 1 ..."
    assert [line.split(",")[0] for line in lines[1:4]] == [f"stage 1 denoising: step {i}/3" for i in (1, 2, 3)]
    assert "ETA" in lines[1] and "elapsed" in lines[1]
    assert lines[4].startswith("stage 1 done in ")
    assert [line.split(",")[0] for line in lines[5:]] == ["decoding: frame 2/3", "decoding: frame 3/3"]
    assert set(progress.stage_times) == {"stage 1"} and progress.stage_times["stage 1"] >= 0


def test_rich_bars_on_a_terminal() -> None:
    console, buffer = _console(terminal=True)
    progress = RunProgress(console=console)
    with progress.task("stage 2", total=4) as advance:
        for _ in range(4):
            advance(1)
    text = buffer.getvalue()
    assert "stage 2" in text and "4/4" in text


def test_quiet_prints_nothing() -> None:
    console, buffer = _console(terminal=False)
    progress = RunProgress(quiet=True, console=console)
    with progress.stage("decode"):
        list(progress.steps([1, 2], description="x"))
    progress.summary(SUMMARY)
    assert buffer.getvalue() == ""
    assert "decode" in progress.stage_times  # timings are still kept


def test_summary_table_content() -> None:
    console, buffer = _console(terminal=False)
    progress = RunProgress(console=console)
    with progress.stage("text encoding"):
        pass
    progress.summary(SUMMARY)
    text = buffer.getvalue()
    for expected in (
        "/tmp/out.mp4",
        "5.04 s (121 frames)",
        "768 x 512",
        "24 fps",
        "seed",
        "time: text encoding",
        "time: total",
        peak_memory().kind,
    ):
        assert expected in text


def test_formatting_helpers() -> None:
    assert format_seconds(3.14159) == "3.1 s"
    assert format_seconds(125) == "2 min 05 s"
    assert format_seconds(3 * 3600 + 120) == "3 h 02 min"
    assert format_bytes(512) == "512 B"
    assert format_bytes(3 * 1024**2) == "3.0 MiB"
    assert format_bytes(5 * 1024**4) == "5120.0 GiB"
    assert format_bytes(None) == "unknown"
    assert peak_memory().bytes is None or peak_memory().bytes > 0


def test_mps_peak_is_sampled_at_steps_and_stages(monkeypatch) -> None:
    from ltx_pipelines.cli import progress as progress_module

    allocated = iter([5 * 2**20, 9 * 2**20, 7 * 2**20, 6 * 2**20, 6 * 2**20])
    monkeypatch.setattr(progress_module, "_mps_peak", 0)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    monkeypatch.setattr(torch.mps, "driver_allocated_memory", lambda: next(allocated))
    progress = RunProgress(quiet=True)
    with progress.stage("stage 1"):
        for _ in progress.steps(range(3)):
            pass  # samples 5, 9, 7 MiB
    # the stage end sampled 6 MiB, the summary samples 6 MiB: the peak stays the sampled maximum
    assert peak_memory() == progress_module.PeakMemory("MPS allocated (sampled peak)", 9 * 2**20)


def test_cuda_peak_covers_every_device(monkeypatch) -> None:
    """`--device cuda:1` allocates on device 1; the current device (0) may have allocated nothing."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: {0: 0, 1: 7 * 2**30}[device])
    assert peak_memory() == PeakMemory("CUDA max allocated", 7 * 2**30)
