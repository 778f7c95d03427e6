"""Duration-head files (spec delta C.1): the `duration_head.*` keys of an LTX-2.5 checkpoint or of the separate
head file, prefix stripped; None where a file has no head (every LTX-2 / LTX-2.3 file)."""

from __future__ import annotations

from pathlib import Path

import torch

from ltx_core.loader import Checkpoint, load_model, open_checkpoint, strip_prefix_map
from ltx_core.model.duration_head.config import DurationHeadConfig
from ltx_core.model.duration_head.model import DurationHead

DURATION_HEAD_PREFIX = "duration_head."
DURATION_HEAD_KEY_MAP = strip_prefix_map("duration_head", DURATION_HEAD_PREFIX)


def has_duration_head(checkpoint: str | Path | Checkpoint) -> bool:
    return any(k.startswith(DURATION_HEAD_PREFIX) for k in open_checkpoint(checkpoint).keys())


def load_duration_head(
    checkpoint: str | Path | Checkpoint, dtype: torch.dtype | None = None, device: torch.device | str = "cpu"
) -> DurationHead | None:
    """The head of `checkpoint` (strict: every head weight present, nothing extra), or None when it has none."""
    ckpt = open_checkpoint(checkpoint)
    if not has_duration_head(ckpt):
        return None
    config = DurationHeadConfig.from_config(ckpt.config, ckpt.path)
    model = load_model(
        lambda: DurationHead(config), ckpt, DURATION_HEAD_KEY_MAP, component="duration head", dtype=dtype, device=device
    )
    assert isinstance(model, DurationHead)
    return model
