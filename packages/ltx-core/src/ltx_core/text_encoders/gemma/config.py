"""Text-path configuration read from the checkpoint's `transformer` section (spec A.8, A.9.1).

Two sizes are not in the config (README 3.3): the Gemma width `D` equals `caption_channels`, and the number of
Gemma hidden states `L` is the input width of the aggregate-embed weight(s) divided by `D`. `L` is therefore passed
in by the caller (the loader reads it from the weight shape).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ltx_core.errors import ConfigError
from ltx_core.loader.config import ConfigSection

NUM_REGISTERS = 128
"""Learnable registers per connector; hard-wired in the official code (the config key is not read)."""

CONNECTOR_ROPE_THETA = 10000.0

_V2_KEYS = (
    "caption_proj_before_connector",
    "caption_projection_first_linear",
    "caption_proj_input_norm",
    "caption_projection_second_linear",
)
_V2_VALUES = (True, False, False, False)


def detect_feature_version(section: ConfigSection) -> int:
    """1 for LTX-2 (shared projection, connectors at Gemma width), 2 for LTX-2.3 (per-modality projections)."""
    present = [k for k in _V2_KEYS if section.has(k)]
    if not present:
        return 1
    if len(present) != len(_V2_KEYS):
        missing = [k for k in _V2_KEYS if k not in present]
        raise ConfigError(
            f"{section.source}: config has a partial caption-projection setup; missing transformer.{', '.join(missing)}"
        )
    values = tuple(section.get(k) for k in _V2_KEYS)
    if values != _V2_VALUES:
        got = ", ".join(f"{k}={v!r}" for k, v in zip(_V2_KEYS, values, strict=True))
        raise ConfigError(
            f"{section.source}: unsupported caption-projection setup ({got}); supported: none of them, or "
            + ", ".join(f"{k}={v!r}" for k, v in zip(_V2_KEYS, _V2_VALUES, strict=True))
        )
    return 2


@dataclass(frozen=True)
class ConnectorConfig:
    """One embeddings connector (a small 1-D transformer over the text sequence)."""

    num_heads: int
    head_dim: int
    num_layers: int
    rope_max_pos: int
    gated_attention: bool
    rope_float64: bool
    num_registers: int = NUM_REGISTERS
    rope_theta: float = CONNECTOR_ROPE_THETA
    ff_bias: bool = True  # `connector_ff_bias` (LTX-2.5 may drop them; one key for both connectors)

    @property
    def width(self) -> int:
        return self.num_heads * self.head_dim


@dataclass(frozen=True)
class TextPathConfig:
    """Everything needed to build the feature extractor and the two connectors."""

    version: int  # 1 = LTX-2, 2 = LTX-2.3
    gemma_width: int  # D
    num_hidden_states: int  # L (Gemma layers + 1)
    video_width: int  # output width of the video features / connector
    audio_width: int
    video_connector: ConnectorConfig
    audio_connector: ConnectorConfig

    @property
    def feature_width(self) -> int:
        return self.gemma_width * self.num_hidden_states

    @classmethod
    def from_section(cls, section: ConfigSection, num_hidden_states: int) -> TextPathConfig:
        version = detect_feature_version(section)
        gemma_width = int(section.require("caption_channels"))
        if num_hidden_states < 1:
            raise ConfigError(f"number of Gemma hidden states is {num_hidden_states}; it must be at least 1")
        rope_type = section.choice("rope_type", ("split",), default="split")
        del rope_type  # only "split" is used by the released checkpoints
        max_pos = section.get("connector_positional_embedding_max_pos", [1])
        if not isinstance(max_pos, list) or len(max_pos) != 1:
            raise ConfigError(
                f"{section.source}: config value transformer.connector_positional_embedding_max_pos is {max_pos!r}; "
                "expected a one-element list"
            )
        rope64 = section.get("frequencies_precision") == "float64"
        gated = bool(section.get("connector_apply_gated_attention", False))
        heads = int(section.get("connector_num_attention_heads", 30))
        head_dim = int(section.get("connector_attention_head_dim", 128))
        layers = int(section.get("connector_num_layers", 2))
        ff_bias = bool(section.get("connector_ff_bias", True))
        video = ConnectorConfig(heads, head_dim, layers, int(max_pos[0]), gated, rope64, ff_bias=ff_bias)
        audio = ConnectorConfig(
            int(section.get("audio_connector_num_attention_heads", heads)),
            int(section.get("audio_connector_attention_head_dim", head_dim)),
            int(section.get("audio_connector_num_layers", layers)),
            int(max_pos[0]),
            gated,
            rope64,
            ff_bias=ff_bias,
        )
        if version == 1:
            video_width = audio_width = gemma_width
        else:
            video_width = int(section.require("num_attention_heads")) * int(section.require("attention_head_dim"))
            audio_width = int(section.require("audio_num_attention_heads")) * int(
                section.require("audio_attention_head_dim")
            )
        for name, conn, width in (("video", video, video_width), ("audio", audio, audio_width)):
            if conn.width != width:
                raise ConfigError(
                    f"{section.source}: {name} connector width {conn.num_heads}x{conn.head_dim}={conn.width} does not "
                    f"match its input width {width}"
                )
        return cls(version, gemma_width, num_hidden_states, video_width, audio_width, video, audio)

    @classmethod
    def from_config(cls, config: dict[str, Any], num_hidden_states: int, source: str = "<config>") -> TextPathConfig:
        return cls.from_section(ConfigSection.of(config, "transformer", source=source), num_hidden_states)
