"""The perturbation decisions of one transformer forward, computed once before the blocks run.

Each block asks, per perturbation kind, whether every row skips a sub-step (skip it), some rows do (multiply by a
[B, 1, 1] 0/1 keep mask) or none do. Building that mask inside the block with `torch.tensor(..., device=cuda)` is a
blocking host-to-device copy, ~100 per batched forward with modality isolation. Here every (kind, block) mask of a
forward comes from one host table uploaded once per dtype (page-locked and non-blocking on CUDA); the blocks get
views of it. The values are the same 0.0 / 1.0 as before, so outputs are bitwise unchanged.
"""

from __future__ import annotations

from array import array

import torch

from ltx_core.guidance.perturbations import BatchedPerturbationConfig, PerturbationType

_KINDS = tuple(PerturbationType)


class KeepMasks:
    """Per-forward view of a `BatchedPerturbationConfig` for `num_blocks` blocks on `device`."""

    def __init__(self, config: BatchedPerturbationConfig, num_blocks: int, device: torch.device) -> None:
        self.config = config
        self.device = device
        self.batch = len(config)
        self.num_blocks = num_blocks
        # perturbed[kind][block] = one bool per row (pure Python: deciding costs no device work)
        self._perturbed = {k: [tuple(config.perturbed(k, i)) for i in range(num_blocks)] for k in _KINDS}
        self._tables: dict[torch.dtype, torch.Tensor] = {}

    def all(self, kind: PerturbationType, index: int) -> bool:
        """Every row skips `kind` in block `index` (the sub-step is not computed at all)."""
        return all(self._perturbed[kind][index])

    def any(self, kind: PerturbationType, index: int) -> bool:
        return any(self._perturbed[kind][index])

    def keep(self, kind: PerturbationType, index: int, dtype: torch.dtype) -> torch.Tensor:
        """[B, 1, 1] in `dtype` on the device: 1.0 for rows computed normally, 0.0 for perturbed ones."""
        table = self._tables.get(dtype)
        if table is None:
            table = self._tables[dtype] = self._upload(dtype)
        return table[_KINDS.index(kind), index].view(-1, 1, 1)

    def _upload(self, dtype: torch.dtype) -> torch.Tensor:
        """[kinds, blocks, B] keep values: one host buffer, one copy (float32 0/1 cast exactly to `dtype`)."""
        values = array("f", (0.0 if p else 1.0 for k in _KINDS for rows in self._perturbed[k] for p in rows))
        host = torch.frombuffer(values, dtype=torch.float32) if values else torch.empty(0)
        host = host.view(len(_KINDS), self.num_blocks, self.batch)
        if self.device.type == "cuda":
            host = host.pin_memory()
        return host.to(self.device, non_blocking=True).to(dtype)
