"""What every generating pipeline returns, and how it reports progress and phase times while it runs."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch

from ltx_core.hdr.spaces import HDRColorSpace
from ltx_core.types import Audio
from ltx_pipelines.utils.blocks import FrameChunks

Progress = Callable[[str, int, int], None]  # (phase, done, total): "prompt", "stage 1", "upsample", "stage 2", ...


@dataclass
class PipelineResult:
    """`video` yields `[f, h, w, 3]` chunks in [0, 1] as it decodes (iterate once, or `close()` it to free the
    decoder); `audio` is the stereo waveform (float32) and its rate; the latents are the last stage's results.
    `color_space` is set for an HDR call: the chunks are then float32 ACEScct codes, written as EXR frames and an HLG
    master (`ltx_pipelines.media.hdr_mp4.write_hdr`) instead of an SDR MP4.
    `generated_keyframes`: the generated keyframe slots' latents `(B, C, K, H, W)` of the stage that had them
    (`generated_keyframes=N`), not decoded; None without slots."""

    video: FrameChunks
    audio: Audio
    video_latent: torch.Tensor
    audio_latent: torch.Tensor
    prompt: str
    frame_rate: float
    seconds: dict[str, float] = field(default_factory=dict)
    color_space: HDRColorSpace | None = None
    generated_keyframes: torch.Tensor | None = None


@dataclass
class AudioResult:
    """What a sound-only pipeline (text to audio) returns: the stereo waveform (float32) and its rate, the final
    audio latent, the prompt actually encoded, the length asked for or chosen (`num_frames` at `frame_rate`: the
    duration head's unit), and the time per phase."""

    audio: Audio
    audio_latent: torch.Tensor
    prompt: str
    num_frames: int
    frame_rate: float
    seconds: dict[str, float] = field(default_factory=dict)


class Phases:
    """Progress reports and wall times per phase: `with phases("stage 1"):`, `phases.steps("stage 1")`."""

    def __init__(self, progress: Progress | None) -> None:
        self.report: Progress = progress or (lambda phase, done, total: None)
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str, counted: bool = True) -> Iterator[None]:
        """Time the block under `name`; `counted` also reports it as a one-step phase (0 of 1, then 1 of 1)."""
        start = time.perf_counter()
        if counted:
            self.report(name, 0, 1)
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start
        if counted:
            self.report(name, 1, 1)

    def steps(self, name: str) -> Callable[[int, int], None]:
        """A stage's `on_step(i, n)` callback reporting step i+1 of n under `name`."""
        return lambda i, n: self.report(name, i + 1, n)


def prompt_text(contexts: Any, prompt: Any) -> str:
    """The prompt as used (the enhanced one when Gemma rewrote it), or the given text."""
    return getattr(contexts, "prompt", "") or (prompt if isinstance(prompt, str) else "")
