"""Model sources: where a component's module comes from. The default reads the checkpoint files through each
component's strict loader; a test passes an object with the same `build` (e.g.
`ltx_core.testing.in_memory.InMemoryModels`, random tiny modules made in memory) and nothing reads a file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

from ltx_core.loader.safetensors_file import Checkpoint

CheckpointLike = str | Path | Checkpoint

COMPONENTS = (
    "transformer",
    "video_encoder",
    "video_decoder",
    "per_channel_statistics",
    "audio_encoder",
    "audio_decoder",
    "vocoder",
    "upsampler",
    "duration_head",
)


@runtime_checkable
class ModelSource(Protocol):
    """Builds a component by name (one of `COMPONENTS`); `options` are the component's own (`loras` for the
    transformer, `memory_efficient` for the video decoder)."""

    def build(
        self, component: str, *, dtype: torch.dtype | None, device: torch.device, **options: Any
    ) -> nn.Module: ...


class CheckpointSource:
    """The models of one checkpoint file (or shards), each through its strict `ltx_core` loader."""

    def __init__(self, checkpoint: CheckpointLike) -> None:
        self.checkpoint = checkpoint

    def build(self, component: str, *, dtype: torch.dtype | None, device: torch.device, **options: Any) -> nn.Module:
        from ltx_core.model import audio_vae, duration_head, transformer, upsampler, video_vae  # import the loader

        loaders: dict[str, Callable[..., nn.Module]] = {
            "transformer": transformer.load_transformer,
            "video_encoder": video_vae.load_video_encoder,
            "video_decoder": video_vae.load_video_decoder,
            "per_channel_statistics": video_vae.load_per_channel_statistics,
            "audio_encoder": audio_vae.load_audio_encoder,
            "audio_decoder": audio_vae.load_audio_decoder,
            "vocoder": audio_vae.load_vocoder,
            "upsampler": upsampler.load_upsampler,
            "duration_head": duration_head.load_duration_head,
        }
        return loaders[component](self.checkpoint, dtype=dtype, device=device, **options)


def model_source(checkpoint: CheckpointLike | ModelSource) -> ModelSource:
    """`checkpoint` itself when it builds models (a `ModelSource`), else its `CheckpointSource`."""
    return checkpoint if isinstance(checkpoint, ModelSource) else CheckpointSource(checkpoint)
