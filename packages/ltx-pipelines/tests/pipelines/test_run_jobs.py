"""`pipeline.run_jobs(jobs)`: several calls with the models kept between them, each result bitwise its own call on a
fresh pipeline; the models are freed at the end (in-memory components, no files)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import torch

from ltx_pipelines.distilled import DistilledPipeline
from ltx_pipelines.utils.blocks import DiffusionStage

SIZE = {"height": 64, "width": 64, "num_frames": 9, "frame_rate": 24.0}


@dataclass
class Job:
    prompt: Any
    seed: int
    height: int = 64
    width: int = 64
    num_frames: int = 9
    frame_rate: float = 24.0


def _frames(result: Any) -> torch.Tensor:
    return torch.cat(list(result.video))


def test_jobs_keep_the_models_and_match_single_calls(components: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    builds = []
    wrap = DiffusionStage._wrapped  # once per transformer the provider builds
    monkeypatch.setattr(DiffusionStage, "_wrapped", lambda self, inner: builds.append(1) or wrap(self, inner))
    pipeline = DistilledPipeline(components.distilled, None, components.distilled, device="cpu")
    jobs = [{"prompt": components.positive, "seed": 1, **SIZE}, Job(components.positive, 2)]
    results = [(job, _frames(result), result.audio.waveform) for job, result in pipeline.run_jobs(jobs)]
    assert len(builds) == 1, "the transformer is built once for both jobs"
    assert [job["seed"] for job, _, _ in results] == [1, 2]
    assert not any(stage.is_built for stage in pipeline._stages), "freed at the end"
    for job, frames, waveform in results:
        alone = DistilledPipeline(components.distilled, None, components.distilled, device="cpu")(**job)
        assert torch.equal(_frames(alone), frames) and torch.equal(alone.audio.waveform, waveform)
    assert not torch.equal(results[0][1], results[1][1])
