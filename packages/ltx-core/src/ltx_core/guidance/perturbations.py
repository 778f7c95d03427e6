"""Guidance perturbations (STG and modality isolation) as a small explicit input to the transformer forward.

A `Perturbation` says which sub-step to skip and in which blocks (None = every block). A sample's config is a
tuple of perturbations; a batch carries one config per sample, so differently perturbed guidance passes can run
in one batched forward.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import torch


class PerturbationType(Enum):
    SKIP_A2V_CROSS_ATTN = "skip_a2v_cross_attn"
    SKIP_V2A_CROSS_ATTN = "skip_v2a_cross_attn"
    SKIP_VIDEO_SELF_ATTN = "skip_video_self_attn"
    SKIP_AUDIO_SELF_ATTN = "skip_audio_self_attn"


@dataclass(frozen=True)
class Perturbation:
    type: PerturbationType
    blocks: tuple[int, ...] | None = None  # None: every block

    def covers(self, block: int) -> bool:
        return self.blocks is None or block in self.blocks


@dataclass(frozen=True)
class PerturbationConfig:
    """The perturbations of one sample (empty: a plain forward)."""

    perturbations: tuple[Perturbation, ...] = ()

    def is_perturbed(self, type_: PerturbationType, block: int) -> bool:
        return any(p.type == type_ and p.covers(block) for p in self.perturbations)

    @classmethod
    def empty(cls) -> PerturbationConfig:
        return cls(())


@dataclass(frozen=True)
class BatchedPerturbationConfig:
    """One `PerturbationConfig` per batch row."""

    configs: tuple[PerturbationConfig, ...]

    @classmethod
    def empty(cls, batch: int) -> BatchedPerturbationConfig:
        return cls(tuple(PerturbationConfig.empty() for _ in range(batch)))

    @classmethod
    def of(cls, configs: Sequence[PerturbationConfig]) -> BatchedPerturbationConfig:
        return cls(tuple(configs))

    def __len__(self) -> int:
        return len(self.configs)

    def perturbed(self, type_: PerturbationType, block: int) -> list[bool]:
        return [c.is_perturbed(type_, block) for c in self.configs]

    def all_perturbed(self, type_: PerturbationType, block: int) -> bool:
        return all(self.perturbed(type_, block))

    def any_perturbed(self, type_: PerturbationType, block: int) -> bool:
        return any(self.perturbed(type_, block))

    def keep_mask(self, type_: PerturbationType, block: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """[B, 1, 1]: 1.0 for samples computed normally, 0.0 for perturbed ones."""
        keep = [0.0 if p else 1.0 for p in self.perturbed(type_, block)]
        return torch.tensor(keep, device=device, dtype=dtype).view(-1, 1, 1)

    def split(self, sizes: Sequence[int]) -> list[BatchedPerturbationConfig]:
        out, start = [], 0
        for s in sizes:
            out.append(BatchedPerturbationConfig(self.configs[start : start + s]))
            start += s
        return out
