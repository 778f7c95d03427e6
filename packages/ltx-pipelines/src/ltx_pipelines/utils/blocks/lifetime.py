"""Model lifetime: where blocks run (device resolution) and how long their models live (built for a call and freed
after, or kept until `release()`)."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

import torch
from torch import nn

from ltx_core.errors import InputError
from ltx_core.loader import Checkpoint, release
from ltx_core.parallel.layout import SINGLE_PROCESS, ParallelLayout

T = TypeVar("T")
CheckpointLike = str | Path | Checkpoint


@runtime_checkable
class ModelSource(Protocol):
    """Where a block's models come from. The default (`CheckpointSource`) loads them from the checkpoint files; a
    test passes an object with the same `build` (e.g. `ltx_core.testing.in_memory.InMemoryModels`, random tiny
    modules made in memory) wherever a checkpoint is taken, and every block then builds from it, reading no file.

    `component` is one of `COMPONENTS`; `options` are the component's own (`loras` for the transformer,
    `memory_efficient` for the video decoder)."""

    def build(
        self, component: str, *, dtype: torch.dtype | None, device: torch.device, **options: Any
    ) -> nn.Module: ...


COMPONENTS = (
    "transformer",
    "video_encoder",
    "video_decoder",
    "per_channel_statistics",
    "audio_encoder",
    "audio_decoder",
    "vocoder",
    "upsampler",
)


class CheckpointSource:
    """The models of one checkpoint file (or shards), each through its strict `ltx_core` loader."""

    def __init__(self, checkpoint: CheckpointLike) -> None:
        self.checkpoint = checkpoint

    def build(self, component: str, *, dtype: torch.dtype | None, device: torch.device, **options: Any) -> nn.Module:
        from ltx_core.model import audio_vae, transformer, upsampler, video_vae

        loaders: dict[str, Callable[..., nn.Module]] = {
            "transformer": transformer.load_transformer,
            "video_encoder": video_vae.load_video_encoder,
            "video_decoder": video_vae.load_video_decoder,
            "per_channel_statistics": video_vae.load_per_channel_statistics,
            "audio_encoder": audio_vae.load_audio_encoder,
            "audio_decoder": audio_vae.load_audio_decoder,
            "vocoder": audio_vae.load_vocoder,
            "upsampler": upsampler.load_upsampler,
        }
        return loaders[component](self.checkpoint, dtype=dtype, device=device, **options)


def model_source(checkpoint: CheckpointLike | ModelSource) -> ModelSource:
    """`checkpoint` itself when it builds models (a `ModelSource`), else its `CheckpointSource`."""
    return checkpoint if isinstance(checkpoint, ModelSource) else CheckpointSource(checkpoint)


def default_device() -> torch.device:
    """The current CUDA device when there is one, else Apple MPS when present, else the CPU (the official
    `get_device` never picks MPS, so on a Mac it silently ran on the CPU)."""
    if torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def resolve_device(device: torch.device | str | None) -> torch.device:
    if device is None:
        return default_device()
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise InputError(f"device {device!r} is not a torch device; use e.g. cpu, cuda or cuda:1") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {device!r} was asked for but CUDA is not available; use cpu")
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise InputError(f"device {device!r} was asked for but Apple MPS is not available; use cpu")
    if resolved.type == "mps" and resolved.index not in (None, 0):
        raise InputError(f"device {device!r}: Apple MPS has a single device; use mps")
    return resolved


def free(*models: nn.Module | None) -> None:
    """Drop the models' storage (moved to meta) and return cached memory to the system."""
    for model in models:
        if model is not None:
            release(model)
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    elif torch.backends.mps.is_available():
        torch.mps.empty_cache()


@contextmanager
def built(factory: Callable[[], T]) -> Iterator[T]:
    """Build with `factory`, yield, free on exit (also on error)."""
    model = factory()
    try:
        yield model
    finally:
        _free_all(model)


def _free_all(models: Any) -> None:
    """Free the modules among `models` (one or a tuple); other objects with a `release()` are released."""
    items = models if isinstance(models, tuple) else (models,)
    for item in items:
        if not isinstance(item, nn.Module) and hasattr(item, "release"):
            item.release()
    free(*(m for m in items if isinstance(m, nn.Module)))


class KeptModels:
    """A block's models: built for each use and freed after (the default), or, with `keep`, built on first use and
    kept until `release()` (a pipeline reused for many prompts, when memory allows)."""

    def __init__(self) -> None:
        self.keep = False
        self._models: Any = None

    @property
    def is_built(self) -> bool:
        return self._models is not None

    @contextmanager
    def use(self, factory: Callable[[], T]) -> Iterator[T]:
        if self._models is None and not self.keep:
            with built(factory) as models:
                yield models
            return
        yield self.get(factory)

    def get(self, factory: Callable[[], T]) -> T:
        """The kept models, built now if needed (only with `keep`: the caller then never frees them)."""
        assert self.keep or self._models is not None, "get() is for kept models; use use()"
        if self._models is None:
            self._models = factory()
        return self._models  # type: ignore[no-any-return]

    def release(self) -> None:
        models, self._models = self._models, None
        if models is not None:
            _free_all(models)


class ModelBlock:
    """A block of one checkpoint: where and in which dtype its models are built, where from (`source`: the
    checkpoint's loaders, or the checkpoint itself when it is a `ModelSource`), how long they live (`models`:
    built for each call and freed after, unless `models.keep`), and the processes it runs on (`parallel`: the
    blocks that run on rank 0 alone or spread their work say so)."""

    def __init__(
        self,
        checkpoint: CheckpointLike,
        *,
        dtype: torch.dtype = torch.bfloat16,
        device: torch.device | str | None = None,
        parallel: ParallelLayout = SINGLE_PROCESS,
    ) -> None:
        self.checkpoint = checkpoint
        self.source = model_source(checkpoint)
        self.dtype = dtype
        self.device = resolve_device(device)
        self.parallel = parallel
        self.models = KeptModels()

    def _build(self, component: str, **options: Any) -> nn.Module:
        """`component` from this block's source, on its device, in its dtype."""
        return self.source.build(component, dtype=self.dtype, device=self.device, **options)
