"""The duration head's configuration (spec delta C.1), read from the file it is loaded from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ltx_core.loader import ConfigSection


@dataclass(frozen=True)
class DurationHeadConfig:
    video_width: int = 4096  # transformer.cross_attention_dim: the video context width
    audio_width: int = 2048  # transformer.audio_cross_attention_dim
    pooler_width: int = 256  # P
    num_queries: int = 1  # Q
    num_heads: int = 4  # h (head width P / h)
    mlp_width: int = 256  # M

    @classmethod
    def from_config(cls, config: dict[str, Any], source: Path | str = "<config>") -> DurationHeadConfig:
        """Defaults where the file says nothing (the published head's metadata names only the two widths)."""
        transformer = ConfigSection.of(config, None, source).get("transformer") or {}
        head = config.get("duration_head") or {}
        return cls(
            video_width=int(transformer.get("cross_attention_dim", cls.video_width)),
            audio_width=int(transformer.get("audio_cross_attention_dim", cls.audio_width)),
            pooler_width=int(head.get("pooler_hidden_dim", cls.pooler_width)),
            num_queries=int(head.get("num_queries", cls.num_queries)),
            num_heads=int(head.get("num_pooler_heads", cls.num_heads)),
            mlp_width=int(head.get("mlp_hidden", cls.mlp_width)),
        )
