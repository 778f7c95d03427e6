"""Guidance parallelism: the passes of a guided step (conditional, unconditional, STG, modality isolation), stacked
along the batch, are spread over the guidance groups and gathered back.

The batch is cut into the same chunks of at most `max_batch_size` rows as `BatchSplitAdapter` cuts it in one
process; chunk c runs on guidance group c mod K, each exactly as in one process, and every rank receives every chunk's
rows (an all-gather among the ranks with the same sequence rank). The result is therefore bitwise the single-process
one.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from ltx_core.batch_split import BatchSplitAdapter, X0Callable, X0Output, batch_size, split_batch
from ltx_core.guidance.perturbations import BatchedPerturbationConfig
from ltx_core.model.transformer.modality import Modality


class GuidanceParallelAdapter(BatchSplitAdapter):
    """`BatchSplitAdapter(model, max_batch_size)` with its chunks spread: this rank's guidance group is `index` of
    `count`, and `group` joins it to the ranks of the other guidance groups that hold the same tokens."""

    def __init__(
        self, model: X0Callable, max_batch_size: int, *, index: int, count: int, group: dist.ProcessGroup | None
    ) -> None:
        super().__init__(model, max_batch_size)
        self.index, self.count, self.group = index, count, group

    def __call__(
        self,
        video: Modality | None,
        audio: Modality | None,
        perturbations: BatchedPerturbationConfig | None = None,
    ) -> X0Output:
        chunks = split_batch(video, audio, perturbations, self.max_batch_size)
        sizes = [batch_size(v, a) for v, a, _ in chunks]
        mine = {c: self.model(*chunk) for c, chunk in enumerate(chunks) if c % self.count == self.index}
        return self._gathered(video, mine, sizes, 0), self._gathered(audio, mine, sizes, 1)

    def _gathered(
        self, modality: Modality | None, mine: dict[int, X0Output], sizes: list[int], which: int
    ) -> torch.Tensor | None:
        """All chunks' rows of output `which` (0 video, 1 audio) in batch order, from every guidance group. An x0
        prediction has its input latent's shape and dtype, so a group with no chunk still knows the buffer."""
        if modality is None:
            return None
        starts = [sum(sizes[:c]) for c in range(len(sizes))]
        full = torch.zeros_like(modality.latent)
        for c, out in mine.items():
            full[starts[c] : starts[c] + sizes[c]] = out[which]
        parts = [torch.empty_like(full) for _ in range(self.count)]
        dist.all_gather(parts, full, group=self.group)
        for c in range(len(sizes)):
            full[starts[c] : starts[c] + sizes[c]] = parts[c % self.count][starts[c] : starts[c] + sizes[c]]
        return full
