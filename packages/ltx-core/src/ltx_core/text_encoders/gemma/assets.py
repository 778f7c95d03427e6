"""A text encoder's assets from an HF folder or from one packed `.safetensors` file (gemma4_text_encoder.md §2).

The 1.2.0 text-encoder argument may be either: a folder (config.json, tokenizer.json, sidecar JSON/Jinja files,
`model*.safetensors` shards) or a packed single file (the HF config as the `gemma_config` metadata string, the
bytes of tokenizer.json as a uint8 tensor `tokenizer_json`, one uint8 tensor `hf_asset__<name>` per sidecar, and
the weights). Both give the same record, so what is built from it cannot tell them apart. Globs are sorted (the
official takes file-system order), so the choice never depends on the file system.

`processor_config.json`, which the official requires because it always builds the HF processor, is not required
here: that processor serves only prompt enhancement, which a Gemma-4 unified encoder does not do (§9.1).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ltx_core.errors import CheckpointError, ConfigError
from ltx_core.loader import SafetensorsFile

CONFIG_KEY = "gemma_config"
TOKENIZER_KEY = "tokenizer_json"
ASSET_PREFIX = "hf_asset__"
# Older / Comfy packs may carry these sidecars as metadata strings; used only without an `hf_asset__` tensor.
METADATA_SIDECARS = ("tokenizer_config.json", "processor_config.json", "chat_template.jinja", "generation_config.json")
REQUIRED_SIDECARS = ("tokenizer_config.json",)


@dataclass(frozen=True)
class TextEncoderAssets:
    """What a Gemma-4 text encoder is built from. `root` is the path the user gave (folder or packed file)."""

    root: Path
    config: dict[str, Any]
    tokenizer_json: bytes = field(repr=False)
    sidecars: dict[str, bytes] = field(repr=False)
    weight_files: tuple[Path, ...]
    packed: bool

    @property
    def model_type(self) -> str:
        return str(self.config.get("model_type"))

    @property
    def text_config(self) -> dict[str, Any]:
        text = self.config.get("text_config")
        if not isinstance(text, dict):
            raise ConfigError(f"{self.root}: the Gemma config has no text_config object")
        return text

    @property
    def hidden_size(self) -> int:
        return int(self.text_config.get("hidden_size", 0))

    @property
    def num_layers(self) -> int:
        return int(self.text_config.get("num_hidden_layers", 0))

    def sidecar_json(self, name: str) -> dict[str, Any]:
        """A sidecar JSON file's object ({} when absent)."""
        raw = self.sidecars.get(name)
        if raw is None:
            return {}
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise CheckpointError(f"{self.root}: sidecar {name} is not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise CheckpointError(f"{self.root}: sidecar {name} is not a JSON object")
        return data


def parse_config(raw: str | bytes, where: str) -> dict[str, Any]:
    """The HF config dict; it must be a JSON object with a `model_type`."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{where}: the Gemma config is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{where}: the Gemma config is not a JSON object")
    if not data.get("model_type"):
        raise ConfigError(f"{where}: the Gemma config has no model_type")
    return data


def _first(root: Path, pattern: str) -> Path | None:
    matches = sorted(root.rglob(pattern))
    return matches[0] if matches else None


def folder_config_path(root: Path) -> Path:
    """The folder's own config.json, else the first one below it."""
    config = root / "config.json" if (root / "config.json").is_file() else _first(root, "config.json")
    if config is None:
        raise CheckpointError(f"{root}: no config.json found in the Gemma folder")
    return config


def _check_required(root: Path, sidecars: dict[str, bytes]) -> None:
    missing = [name for name in REQUIRED_SIDECARS if name not in sidecars]
    if missing:
        raise CheckpointError(f"{root}: the text encoder lacks {', '.join(missing)}")


def read_folder_assets(root: Path) -> TextEncoderAssets:
    config_path = folder_config_path(root)
    config = parse_config(config_path.read_bytes(), str(config_path))
    tokenizer = _first(root, "tokenizer.json")
    if tokenizer is None:
        raise CheckpointError(f"{root}: no tokenizer.json found in the Gemma folder")
    sidecars: dict[str, bytes] = {}
    for pattern in ("*.json", "*.jinja"):
        for path in sorted(root.rglob(pattern)):
            if path.name not in ("config.json", "tokenizer.json") and path.name not in sidecars:
                sidecars[path.name] = path.read_bytes()
    _check_required(root, sidecars)
    first_weights = _first(root, "model*.safetensors")
    if first_weights is None:
        raise CheckpointError(f"{root}: no Gemma weights found (expected model*.safetensors files)")
    shards = tuple(sorted(first_weights.parent.rglob("*.safetensors")))
    return TextEncoderAssets(root, config, tokenizer.read_bytes(), sidecars, shards, packed=False)


def _bytes(f: SafetensorsFile, key: str) -> bytes:
    info = f.tensors[key]
    if info.dtype.is_floating_point or info.dtype.is_complex or info.dtype == torch.bool or len(info.shape) != 1:
        raise CheckpointError(f"{f.path}: tensor {key} is {info.dtype} {list(info.shape)}; expected 1-D uint8 bytes")
    return bytes(f.read(key).to(torch.uint8).numpy().tobytes())


def packed_config(f: SafetensorsFile) -> dict[str, Any]:
    raw = f.metadata.get(CONFIG_KEY)
    if raw is None:
        raise CheckpointError(f"{f.path}: packed text encoder has no '{CONFIG_KEY}' metadata (the HF config)")
    return parse_config(raw, f"{f.path} ({CONFIG_KEY})")


def read_packed_assets(path: Path) -> TextEncoderAssets:
    f = SafetensorsFile(path)
    config = packed_config(f)
    if TOKENIZER_KEY not in f.tensors:
        raise CheckpointError(f"{path}: packed text encoder has no '{TOKENIZER_KEY}' tensor (the tokenizer.json bytes)")
    sidecars = {key[len(ASSET_PREFIX) :]: _bytes(f, key) for key in f.keys() if key.startswith(ASSET_PREFIX)}
    for name in METADATA_SIDECARS:
        if name not in sidecars and name in f.metadata:
            sidecars[name] = f.metadata[name].encode("utf-8")
    _check_required(path, sidecars)
    return TextEncoderAssets(path, config, _bytes(f, TOKENIZER_KEY), sidecars, (path,), packed=True)


def is_packed(path: Path) -> bool:
    return path.is_file() and path.suffix == ".safetensors"


def text_encoder_model_type(path: str | Path) -> str:
    """The `model_type` a text-encoder path declares (folder: its config.json; packed file: `gemma_config`)."""
    path = Path(path)
    if is_packed(path):
        return str(packed_config(SafetensorsFile(path))["model_type"])
    if path.is_dir():
        config_path = folder_config_path(path)
        return str(parse_config(config_path.read_bytes(), str(config_path))["model_type"])
    raise CheckpointError(
        f"text encoder not found: {path} (expected a Gemma folder or a packed text-encoder .safetensors file)"
    )


def read_text_encoder_assets(path: str | Path) -> TextEncoderAssets:
    """The assets of a folder or a packed file; one-line CheckpointError naming the path otherwise."""
    path = Path(path)
    if is_packed(path):
        return read_packed_assets(path)
    if path.is_dir():
        return read_folder_assets(path)
    raise CheckpointError(
        f"text encoder not found: {path} (expected a Gemma folder or a packed text-encoder .safetensors file)"
    )
