"""Guidance parallelism through whole guided pipelines (golden README 7.7 cases, one-stage and two-stage): the
guidance passes of every step spread over 2 processes give every recorded tensor, the frames and the waveform
bitwise equal to the same case run in one process (which `test_ti2vid_golden_parity` holds to the official run).
Every rank denoises the same latents; only rank 0 decodes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ltx_core.testing.distributed import run_ranks
from ltx_core.testing.golden import e2e_cases
from ltx_pipelines.testing.pipeline_runs import parallel_guided_case

PIPELINES = ("ti2vid_one_stage", "ti2vid_two_stages")


def _cases() -> list[Path]:
    """One case per pipeline (the first variant found), with guidance passes to spread."""
    found: dict[str, Path] = {}
    for path in e2e_cases(*(f"*_{name}_*" for name in PIPELINES)):
        for name in PIPELINES:
            if f"_{name}_" in path.name and "_hq_" not in path.name:
                found.setdefault(name, path)
    return list(found.values())


@pytest.mark.parametrize("path", _cases(), ids=lambda p: p.stem)
def test_guidance_passes_over_two_processes(path: Path) -> None:
    ranks = run_ranks(parallel_guided_case, 2, str(path), timeout=300)
    single = {k.removeprefix("single/"): v for k, v in ranks[0].items() if k.startswith("single/")}
    parallel = {k.removeprefix("parallel/"): v for k, v in ranks[0].items() if k.startswith("parallel/")}
    assert "video_frames" in parallel and "audio_waveform" in parallel
    assert parallel.keys() == single.keys()
    for name, value in single.items():
        assert torch.equal(parallel[name], value), name
    other = {k.removeprefix("parallel/"): v for k, v in ranks[1].items()}
    assert other.keys() == single.keys()
    for name, value in other.items():  # every rank denoised the same latents and returns the same result
        assert torch.equal(value, single[name]), name
