"""The transformer's configuration, read from the checkpoint metadata's `transformer` section (spec §1)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from ltx_core.errors import ConfigError
from ltx_core.loader.config import ConfigSection


class ModelType(Enum):
    AUDIO_VIDEO = "ltx av model"
    VIDEO_ONLY = "ltx video only model"
    AUDIO_ONLY = "ltx audio only model"

    @property
    def has_video(self) -> bool:
        return self is not ModelType.AUDIO_ONLY

    @property
    def has_audio(self) -> bool:
        return self is not ModelType.VIDEO_ONLY


class RopeType(Enum):
    SPLIT = "split"
    INTERLEAVED = "interleaved"


# Values the official configurators insist on (absent reads as a mismatch unless the value is None).
_REQUIRED_ALL: tuple[tuple[str, Any], ...] = (
    ("dropout", 0.0),
    ("attention_bias", True),
    ("num_vector_embeds", None),
    ("activation_fn", "gelu-approximate"),
    ("num_embeds_ada_norm", 1000),
    ("use_linear_projection", False),
    ("only_cross_attention", False),
    ("cross_attention_norm", True),
    ("double_self_attention", False),
    ("upcast_attention", False),
    ("standardization_norm", "rms_norm"),
    ("norm_elementwise_affine", False),
    ("qk_norm", "rms_norm"),
    ("positional_embedding_type", "rope"),
    ("use_middle_indices_grid", True),
)
_REQUIRED_AV: tuple[tuple[str, Any], ...] = (
    ("use_audio_video_cross_attention", True),
    ("share_ff", False),
    ("av_cross_ada_norm", True),
)
# The backend is an execution choice here (see attention.py); these are the values the official code accepts.
ATTENTION_TYPES = ("default", "pytorch", "xformers", "flash_attention_3")


@dataclass(frozen=True)
class TransformerConfig:
    """Sizes and feature switches of one LTX-2 / LTX-2.3 transformer (defaults are the official code's)."""

    model_type: ModelType = ModelType.AUDIO_VIDEO
    num_layers: int = 48
    num_attention_heads: int = 32
    attention_head_dim: int = 128
    in_channels: int = 128
    out_channels: int = 128
    cross_attention_dim: int = 4096
    audio_num_attention_heads: int = 32
    audio_attention_head_dim: int = 64
    audio_in_channels: int = 128
    audio_out_channels: int = 128
    audio_cross_attention_dim: int = 2048
    norm_eps: float = 1e-6
    attention_type: str = "default"
    positional_embedding_theta: float = 10000.0
    positional_embedding_max_pos: tuple[float, ...] = (20, 2048, 2048)
    audio_positional_embedding_max_pos: tuple[float, ...] = (20,)
    timestep_scale_multiplier: float = 1000
    av_ca_timestep_scale_multiplier: float = 1
    use_middle_indices_grid: bool = True
    rope_type: RopeType = RopeType.SPLIT
    rope_float64: bool = False
    apply_gated_attention: bool = False
    cross_attention_adaln: bool = False
    caption_proj_before_connector: bool = False
    caption_channels: int | None = None
    # LTX-2.5 switches (spec delta B.1; absent: the LTX-2 / LTX-2.3 behaviour)
    ff_bias: bool = True
    audio_ff_bias: bool = True
    use_prompt_adaln_single: bool = True
    use_keyframes_abs_pos_embedding: bool = False

    @classmethod
    def from_section(cls, section: ConfigSection, model_type: ModelType = ModelType.AUDIO_VIDEO) -> TransformerConfig:
        for key, value in _REQUIRED_ALL:
            section.expect(key, value)
        if model_type is ModelType.AUDIO_VIDEO:
            for key, value in _REQUIRED_AV:
                section.expect(key, value)
        d = cls()
        caption_before = bool(section.get("caption_proj_before_connector", False))
        cfg = cls(
            model_type=model_type,
            num_layers=_int(section, "num_layers", d.num_layers),
            num_attention_heads=_int(section, "num_attention_heads", d.num_attention_heads),
            attention_head_dim=_int(section, "attention_head_dim", d.attention_head_dim),
            in_channels=_int(section, "in_channels", d.in_channels),
            out_channels=_int(section, "out_channels", d.out_channels),
            cross_attention_dim=_int(section, "cross_attention_dim", d.cross_attention_dim),
            audio_num_attention_heads=_int(section, "audio_num_attention_heads", d.audio_num_attention_heads),
            audio_attention_head_dim=_int(section, "audio_attention_head_dim", d.audio_attention_head_dim),
            audio_in_channels=_int(section, "audio_in_channels", d.audio_in_channels),
            audio_out_channels=_int(section, "audio_out_channels", d.audio_out_channels),
            audio_cross_attention_dim=_int(section, "audio_cross_attention_dim", d.audio_cross_attention_dim),
            norm_eps=float(section.get("norm_eps", d.norm_eps)),
            attention_type=section.choice("attention_type", ATTENTION_TYPES, d.attention_type),
            positional_embedding_theta=float(section.get("positional_embedding_theta", d.positional_embedding_theta)),
            positional_embedding_max_pos=_floats(
                section, "positional_embedding_max_pos", d.positional_embedding_max_pos
            ),
            audio_positional_embedding_max_pos=_floats(
                section, "audio_positional_embedding_max_pos", d.audio_positional_embedding_max_pos
            ),
            timestep_scale_multiplier=float(section.get("timestep_scale_multiplier", d.timestep_scale_multiplier)),
            av_ca_timestep_scale_multiplier=float(
                section.get("av_ca_timestep_scale_multiplier", d.av_ca_timestep_scale_multiplier)
            ),
            use_middle_indices_grid=bool(section.get("use_middle_indices_grid", True)),
            rope_type=RopeType(section.choice("rope_type", [r.value for r in RopeType], RopeType.SPLIT.value)),
            rope_float64=section.choice("frequencies_precision", ["float32", "float64"], "float32") == "float64",
            apply_gated_attention=bool(section.get("apply_gated_attention", False)),
            cross_attention_adaln=bool(section.get("cross_attention_adaln", False)),
            caption_proj_before_connector=caption_before,
            caption_channels=None if caption_before else _int(section, "caption_channels", None),
            ff_bias=bool(section.get("ff_bias", True)),
            audio_ff_bias=bool(section.get("audio_ff_bias", True)),
            use_prompt_adaln_single=bool(section.get("use_prompt_adaln_single", True)),
            use_keyframes_abs_pos_embedding=bool(section.get("use_keyframes_abs_pos_embedding", False)),
        )
        cfg.validate(section)
        return cfg

    @classmethod
    def from_checkpoint_config(
        cls, config: dict[str, Any], model_type: ModelType = ModelType.AUDIO_VIDEO, source: str = "<config>"
    ) -> TransformerConfig:
        return cls.from_section(ConfigSection.of(config, "transformer", source=source), model_type)

    def validate(self, section: ConfigSection | None = None) -> None:
        """Width relations the official code silently assumes (it would fail later with a shape error)."""
        where = f"{section.source}: " if section is not None else ""
        if self.model_type.has_video and self.cross_attention_dim != self.video_dim:
            raise ConfigError(
                f"{where}config value transformer.cross_attention_dim is {self.cross_attention_dim}; it must equal "
                f"num_attention_heads·attention_head_dim = {self.video_dim}"
            )
        if self.model_type.has_audio and self.audio_cross_attention_dim != self.audio_dim:
            raise ConfigError(
                f"{where}config value transformer.audio_cross_attention_dim is {self.audio_cross_attention_dim}; "
                f"it must equal audio_num_attention_heads·audio_attention_head_dim = {self.audio_dim}"
            )
        if len(self.positional_embedding_max_pos) != 3:
            raise ConfigError(
                f"{where}config value transformer.positional_embedding_max_pos is "
                f"{list(self.positional_embedding_max_pos)}; expected 3 values (time, height, width)"
            )
        if len(self.audio_positional_embedding_max_pos) != 1:
            raise ConfigError(
                f"{where}config value transformer.audio_positional_embedding_max_pos is "
                f"{list(self.audio_positional_embedding_max_pos)}; expected 1 value (time)"
            )

    @property
    def video_dim(self) -> int:
        return self.num_attention_heads * self.attention_head_dim

    @property
    def audio_dim(self) -> int:
        return self.audio_num_attention_heads * self.audio_attention_head_dim

    @property
    def has_prompt_adaln(self) -> bool:
        """The prompt AdaLN (σ → the text cross-attention's K/V modulation) exists: with cross-attention AdaLN,
        unless the file turns it off (LTX-2.5 may: the per-block static table alone then modulates K/V)."""
        return self.cross_attention_adaln and self.use_prompt_adaln_single

    @property
    def adaln_rows(self) -> int:
        """K: rows of the per-block modulation tables (shift/scale/gate ×2, ×3 with cross-attention AdaLN)."""
        return 9 if self.cross_attention_adaln else 6

    @property
    def has_caption_projection(self) -> bool:
        return not self.caption_proj_before_connector

    @property
    def is_audio_video(self) -> bool:
        return self.model_type is ModelType.AUDIO_VIDEO

    @property
    def cross_pe_max_pos(self) -> float:
        return max(self.positional_embedding_max_pos[0], self.audio_positional_embedding_max_pos[0])

    @property
    def av_gate_factor(self) -> float:
        return self.av_ca_timestep_scale_multiplier / self.timestep_scale_multiplier


def _int(section: ConfigSection, key: str, default: int | None) -> int:
    value = section.require(key) if default is None else section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(
            f"{section.source}: config value {section.section}.{key} is {value!r}; expected a positive integer"
        )
    return value


def _floats(section: ConfigSection, key: str, default: tuple[float, ...]) -> tuple[float, ...]:
    value = section.get(key, list(default))
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, (int, float)) for v in value):
        raise ConfigError(f"{section.source}: config value {section.section}.{key} is {value!r}; expected numbers")
    return tuple(value)
