"""Releasing a transformer however it was held (resident fp8 / compiled, or streamed): weights to meta, device and
pinned caches emptied. Which way it is held is `ltx_core.transformer_providers`' choice."""

from __future__ import annotations

import torch
from torch import nn

from ltx_core.offload.streaming.wrapper import BlockStreamingWrapper, free_memory


def release_transformer(model: nn.Module) -> None:
    """Free a resident transformer or a `BlockStreamingWrapper` (weights → meta, device and pinned caches emptied)."""
    if isinstance(model, BlockStreamingWrapper):
        model.close()
        return
    cuda = any(p.is_cuda for p in model.parameters())
    if cuda:
        torch.cuda.synchronize()
    model.to("meta")
    free_memory(cuda)
