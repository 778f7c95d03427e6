"""Model lifetime: where blocks run (device resolution) and how long their models live (built for a call and freed
after, or kept until `release()`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import torch
from torch import nn

from ltx_core.errors import InputError
from ltx_core.loader import release
from ltx_core.loader.sources import CheckpointLike, model_source
from ltx_core.transformer_providers import empty_caches

T = TypeVar("T")


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
    empty_caches()


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
    checkpoint's loaders, or the checkpoint itself when it is a `ModelSource`) and how long they live (`models`:
    built for each call and freed after, unless `models.keep`). A block works in one process; under several,
    `processes.across_processes` wraps the blocks that share or spread their work."""

    def __init__(
        self,
        checkpoint: CheckpointLike,
        *,
        dtype: torch.dtype = torch.bfloat16,
        device: torch.device | str | None = None,
    ) -> None:
        self.checkpoint = checkpoint
        self.source = model_source(checkpoint)
        self.dtype = dtype
        self.device = resolve_device(device)
        self.models = KeptModels()

    def _build(self, component: str, **options: Any) -> nn.Module:
        """`component` from this block's source, on its device, in its dtype."""
        return self.source.build(component, dtype=self.dtype, device=self.device, **options)
