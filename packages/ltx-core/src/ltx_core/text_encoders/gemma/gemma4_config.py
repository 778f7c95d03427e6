"""The Gemma-4 "unified" text model's structure, read from its HF config dict (spec gemma4_text_encoder.md §3, §6).

Only the text part is described: encoding never runs the vision or audio embedders (§6). Values the spec gives HF
defaults for (the RoPE of each layer type, §3.2) default to those; every other structural value is read from the
config, and a feature the spec does not describe (KV sharing, per-layer inputs, ...) is refused in one line rather
than silently computed differently.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ltx_core.errors import ConfigError

SLIDING = "sliding_attention"
FULL = "full_attention"

# §3.2: HF's defaults when the config omits a layer type's RoPE.
_DEFAULT_ROPE: dict[str, dict[str, Any]] = {
    SLIDING: {"rope_type": "default", "rope_theta": 10000.0},
    FULL: {"rope_type": "proportional", "partial_rotary_factor": 0.25, "rope_theta": 1000000.0},
}
# Text-config keys whose non-trivial values change the forward in ways §6 does not describe.
_UNSUPPORTED = ("num_kv_shared_layers", "hidden_size_per_layer_input", "use_double_wide_mlp", "per_layer_config")
_ACTIVATIONS = ("gelu_pytorch_tanh",)


@dataclass(frozen=True)
class RopeSpec:
    """One layer type's rotary table: `default` (all angles) or `proportional` (a rotated fraction, then zeros)."""

    rope_type: str
    theta: float
    partial_rotary_factor: float = 1.0
    factor: float = 1.0


@dataclass(frozen=True)
class Gemma4TextConfig:
    hidden_size: int  # D
    num_layers: int  # L
    intermediate_size: int
    num_heads: int
    num_kv_heads: int  # sliding layers
    num_global_kv_heads: int  # full layers
    head_dim: int  # sliding layers
    global_head_dim: int  # full layers
    layer_types: tuple[str, ...]
    sliding_window: int
    rms_norm_eps: float
    vocab_size: int
    pad_token_id: int
    attention_k_eq_v: bool  # full layers take V from the raw K projection (no v_proj)
    rope: dict[str, RopeSpec]
    placeholder_ids: tuple[int, ...]  # image / video / audio token ids, replaced by the pad id before the lookup

    def is_full(self, layer: int) -> bool:
        return self.layer_types[layer] == FULL

    def layer_head_dim(self, layer: int) -> int:
        return self.global_head_dim if self.is_full(layer) else self.head_dim

    def layer_kv_heads(self, layer: int) -> int:
        return self.num_global_kv_heads if self.is_full(layer) else self.num_kv_heads

    def has_v_proj(self, layer: int) -> bool:
        return not (self.attention_k_eq_v and self.is_full(layer))


def _int(text: dict[str, Any], key: str, source: str) -> int:
    if key not in text:
        raise ConfigError(f"{source}: Gemma config value text_config.{key} is missing")
    value = text[key]
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{source}: Gemma config value text_config.{key} is {value!r}; expected a positive integer")
    return value


def _rope(text: dict[str, Any], layer_type: str, source: str) -> RopeSpec:
    params = (text.get("rope_parameters") or {}).get(layer_type) or _DEFAULT_ROPE[layer_type]
    rope_type = params.get("rope_type", "default")
    if rope_type not in ("default", "proportional"):
        raise ConfigError(
            f"{source}: Gemma config rope_parameters.{layer_type}.rope_type is {rope_type!r}; "
            "supported: 'default', 'proportional'"
        )
    default_theta = _DEFAULT_ROPE[layer_type]["rope_theta"]
    return RopeSpec(
        rope_type,
        float(params.get("rope_theta", default_theta)),
        float(params.get("partial_rotary_factor", 1.0)),
        float(params.get("factor", 1.0)),
    )


def gemma4_text_config(config: dict[str, Any], source: str | Path = "<config>") -> Gemma4TextConfig:
    """The text model of a `gemma4_unified` HF config dict; one-line ConfigError naming `source` otherwise."""
    where = str(source)
    text = config.get("text_config")
    if not isinstance(text, dict):
        raise ConfigError(f"{where}: the Gemma-4 config has no text_config object")
    for key in _UNSUPPORTED:
        if text.get(key):
            raise ConfigError(
                f"{where}: Gemma config text_config.{key} is {text[key]!r}; this text encoder supports only models "
                "without it"
            )
    activation = text.get("hidden_activation", "gelu_pytorch_tanh")
    if activation not in _ACTIVATIONS:
        raise ConfigError(
            f"{where}: Gemma config text_config.hidden_activation is {activation!r}; expected one of "
            f"{', '.join(_ACTIVATIONS)}"
        )
    layers = _int(text, "num_hidden_layers", where)
    layer_types = tuple(text.get("layer_types") or ())
    if len(layer_types) != layers or any(t not in (SLIDING, FULL) for t in layer_types):
        raise ConfigError(
            f"{where}: Gemma config text_config.layer_types is {list(layer_types)!r}; expected {layers} entries, "
            f"each {SLIDING!r} or {FULL!r}"
        )
    head_dim = _int(text, "head_dim", where)
    kv_heads = _int(text, "num_key_value_heads", where)
    placeholders = tuple(
        int(config[k]) for k in ("image_token_id", "video_token_id", "audio_token_id") if config.get(k) is not None
    )
    return Gemma4TextConfig(
        hidden_size=_int(text, "hidden_size", where),
        num_layers=layers,
        intermediate_size=_int(text, "intermediate_size", where),
        num_heads=_int(text, "num_attention_heads", where),
        num_kv_heads=kv_heads,
        num_global_kv_heads=int(text.get("num_global_key_value_heads") or kv_heads),
        head_dim=head_dim,
        global_head_dim=int(text.get("global_head_dim") or head_dim),
        layer_types=layer_types,
        sliding_window=_int(text, "sliding_window", where),
        rms_norm_eps=float(text.get("rms_norm_eps", 1e-6)),
        vocab_size=_int(text, "vocab_size", where),
        pad_token_id=int(text.get("pad_token_id") or 0),
        attention_k_eq_v=bool(text.get("attention_k_eq_v", False)),
        rope={t: _rope(text, t, where) for t in sorted(set(layer_types))},
        placeholder_ids=placeholders,
    )
