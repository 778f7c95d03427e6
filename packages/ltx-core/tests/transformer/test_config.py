"""Config parsing: required values, defaults, unsupported values → one-line ConfigError naming the key."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest

from ltx_core.errors import ConfigError
from ltx_core.loader import open_checkpoint
from ltx_core.model.transformer import ModelType, RopeType, TransformerConfig


def _config(golden: Path, variant: str) -> dict:
    path = golden / f"{variant}_tiny.safetensors"
    if not path.exists():
        pytest.skip(f"no {path.name}")
    return copy.deepcopy(open_checkpoint(path).config)


@pytest.mark.parametrize("variant", ["ltx2", "ltx23"])
def test_reads_checkpoint_config(golden: Path, variant: str) -> None:
    raw = _config(golden, variant)
    t = raw["transformer"]
    cfg = TransformerConfig.from_checkpoint_config(raw)
    assert cfg.num_layers == t["num_layers"]
    assert cfg.video_dim == t["num_attention_heads"] * t["attention_head_dim"]
    assert cfg.audio_dim == t["audio_num_attention_heads"] * t["audio_attention_head_dim"]
    assert cfg.rope_type is RopeType(t["rope_type"])
    assert cfg.rope_float64 == (t.get("frequencies_precision") == "float64")
    adaln = bool(t.get("cross_attention_adaln", False))
    assert cfg.cross_attention_adaln == adaln
    assert cfg.adaln_rows == (9 if adaln else 6)
    assert cfg.has_caption_projection == (not t.get("caption_proj_before_connector", False))
    assert cfg.av_gate_factor == t["av_ca_timestep_scale_multiplier"] / t["timestep_scale_multiplier"]


@pytest.mark.parametrize("key", ["dropout", "qk_norm", "use_middle_indices_grid", "av_cross_ada_norm"])
def test_missing_required_key(golden: Path, key: str) -> None:
    raw = _config(golden, "ltx23")
    del raw["transformer"][key]
    with pytest.raises(ConfigError, match=re.escape(f"transformer.{key}")) as err:
        TransformerConfig.from_checkpoint_config(raw)
    assert "\n" not in str(err.value)


def test_video_only_does_not_need_av_keys(golden: Path) -> None:
    raw = _config(golden, "ltx23")
    del raw["transformer"]["av_cross_ada_norm"]
    cfg = TransformerConfig.from_checkpoint_config(raw, ModelType.VIDEO_ONLY)
    assert cfg.model_type is ModelType.VIDEO_ONLY


@pytest.mark.parametrize(
    ("key", "value"),
    [("rope_type", "spiral"), ("qk_norm", "layer_norm"), ("frequencies_precision", "float16"), ("num_layers", 0)],
)
def test_unsupported_value(golden: Path, key: str, value: object) -> None:
    raw = _config(golden, "ltx2")
    raw["transformer"][key] = value
    with pytest.raises(ConfigError, match=re.escape(f"transformer.{key}")) as err:
        TransformerConfig.from_checkpoint_config(raw)
    assert repr(value) in str(err.value)


def test_caption_channels_required_when_projection_is_in_transformer(golden: Path) -> None:
    raw = _config(golden, "ltx2")
    assert not raw["transformer"].get("caption_proj_before_connector", False)
    del raw["transformer"]["caption_channels"]
    with pytest.raises(ConfigError, match=r"transformer\.caption_channels"):
        TransformerConfig.from_checkpoint_config(raw)


def test_inconsistent_widths(golden: Path) -> None:
    raw = _config(golden, "ltx23")
    raw["transformer"]["cross_attention_dim"] += 1
    with pytest.raises(ConfigError, match="cross_attention_dim"):
        TransformerConfig.from_checkpoint_config(raw)


def test_missing_section() -> None:
    with pytest.raises(ConfigError, match="transformer"):
        TransformerConfig.from_checkpoint_config({"vae": {}})


def test_defaults_are_official() -> None:
    cfg = TransformerConfig()
    assert (cfg.num_layers, cfg.video_dim, cfg.audio_dim) == (48, 4096, 2048)
    assert cfg.positional_embedding_max_pos == (20, 2048, 2048)
    assert cfg.cross_pe_max_pos == 20
    assert cfg.av_gate_factor == 0.001  # the code default when av_ca_timestep_scale_multiplier is absent
