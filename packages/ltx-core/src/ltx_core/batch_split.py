"""Run a batched x0-model call as sequential chunks of at most `max_batch_size` rows.

Guided denoisers stack up to four guidance passes along the batch; the default of 1 runs them as separate
batch-1 forwards (the official default, and what parity needs: other GEMM shapes change low-order bits).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

import torch

from ltx_core.guidance.perturbations import BatchedPerturbationConfig
from ltx_core.model.transformer.modality import Modality

X0Output = tuple[torch.Tensor | None, torch.Tensor | None]


class X0Callable(Protocol):
    def __call__(
        self, video: Modality | None, audio: Modality | None, perturbations: BatchedPerturbationConfig | None
    ) -> X0Output: ...


def _chunk_sizes(batch: int, max_batch_size: int) -> list[int]:
    sizes = [max_batch_size] * (batch // max_batch_size)
    if batch % max_batch_size:
        sizes.append(batch % max_batch_size)
    return sizes


def _split_modality(modality: Modality | None, sizes: list[int]) -> list[Modality | None]:
    if modality is None:
        return [None] * len(sizes)
    parts: list[dict[str, Any]] = [{} for _ in sizes]
    for f in dataclasses.fields(modality):
        value = getattr(modality, f.name)
        if isinstance(value, torch.Tensor) and value.dim() > 0:
            for part, chunk in zip(parts, torch.split(value, sizes, dim=0), strict=True):
                part[f.name] = chunk
        else:  # None, bools and 0-D tensors are shared by every chunk
            for part in parts:
                part[f.name] = value
    return [dataclasses.replace(modality, **part) for part in parts]


def _cat(outputs: list[torch.Tensor | None]) -> torch.Tensor | None:
    if all(o is None for o in outputs):
        return None
    return torch.cat([o for o in outputs if o is not None], dim=0)


def batch_size(video: Modality | None, audio: Modality | None) -> int:
    present = video if video is not None else audio
    if present is None:
        raise ValueError("at least one of video and audio must be given")
    return int(present.latent.shape[0])


def split_batch(
    video: Modality | None,
    audio: Modality | None,
    perturbations: BatchedPerturbationConfig | None,
    max_batch_size: int,
) -> list[tuple[Modality | None, Modality | None, BatchedPerturbationConfig | None]]:
    """The call's (video, audio, perturbations) cut into chunks of at most `max_batch_size` rows, in batch order."""
    sizes = _chunk_sizes(batch_size(video, audio), max_batch_size)
    ptbs = perturbations.split(sizes) if perturbations is not None else [None] * len(sizes)
    return list(zip(_split_modality(video, sizes), _split_modality(audio, sizes), ptbs, strict=True))


class BatchSplitAdapter:
    """Same call signature as the wrapped model; other attributes are proxied to it."""

    def __init__(self, model: X0Callable, max_batch_size: int = 1) -> None:
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size {max_batch_size} is invalid; use 1 or more")
        self.model = model
        self.max_batch_size = max_batch_size

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["model"], name)

    def __call__(
        self,
        video: Modality | None,
        audio: Modality | None,
        perturbations: BatchedPerturbationConfig | None = None,
    ) -> X0Output:
        if batch_size(video, audio) <= self.max_batch_size:
            return self.model(video, audio, perturbations)
        outs = [self.model(*chunk) for chunk in split_batch(video, audio, perturbations, self.max_batch_size)]
        return _cat([o[0] for o in outs]), _cat([o[1] for o in outs])
