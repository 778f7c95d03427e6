"""Finding the parts of a "Gemma root" folder (the official Gemma 3 download) and checking it fits a checkpoint.

Discovery follows spec A.2 (weights = the folder of the first `model*.safetensors`, every `*.safetensors` under it
is a shard; tokenizer = the folder holding the tokenizer files; image processor = the folder of
`preprocessor_config.json`), with sorted globbing so the choice does not depend on filesystem order. Unlike the
official loader we read the model structure from the folder's own `config.json` instead of hard-coding Gemma-3-12B.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ltx_core.errors import CheckpointError
from ltx_core.loader import SafetensorsFile
from ltx_core.text_encoders.gemma.assets import TextEncoderAssets
from ltx_core.text_encoders.gemma.config import TextPathConfig


@dataclass(frozen=True)
class GemmaRoot:
    root: Path
    weights_dir: Path
    shards: tuple[Path, ...]
    config_path: Path
    tokenizer_dir: Path
    image_processor_dir: Path | None

    @property
    def config(self) -> dict[str, Any]:
        try:
            data = json.loads(self.config_path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"{self.config_path}: cannot read the Gemma config ({exc})") from None
        if not isinstance(data, dict):
            raise CheckpointError(f"{self.config_path}: the Gemma config is not a JSON object")
        return data

    @property
    def text_config(self) -> dict[str, Any]:
        cfg = self.config
        if cfg.get("model_type") != "gemma3" or not isinstance(cfg.get("text_config"), dict):
            raise CheckpointError(
                f"{self.config_path}: model_type is {cfg.get('model_type')!r}; expected a multimodal 'gemma3' config "
                "with a text_config (e.g. google/gemma-3-12b-it-qat-q4_0-unquantized)"
            )
        return cfg["text_config"]

    @property
    def hidden_size(self) -> int:
        return int(self.text_config.get("hidden_size", 0))

    @property
    def num_layers(self) -> int:
        return int(self.text_config.get("num_hidden_layers", 0))


def _first(root: Path, pattern: str) -> Path | None:
    matches = sorted(root.rglob(pattern))
    return matches[0] if matches else None


def find_gemma_root(root: str | Path) -> GemmaRoot:
    """Locate weights, config, tokenizer and (optional) image processor under `root`; one-line error if absent."""
    root = Path(root)
    if not root.is_dir():
        raise CheckpointError(f"Gemma root folder not found: {root}")
    first_weights = _first(root, "model*.safetensors")
    if first_weights is None:
        raise CheckpointError(f"{root}: no Gemma weights found (expected model*.safetensors files)")
    weights_dir = first_weights.parent
    shards = tuple(sorted(weights_dir.rglob("*.safetensors")))
    config_path = weights_dir / "config.json"
    if not config_path.is_file():
        raise CheckpointError(f"{root}: Gemma config not found: {config_path}")
    tokenizer_file = _first(root, "tokenizer.json") or _first(root, "tokenizer.model")
    if tokenizer_file is None:
        raise CheckpointError(f"{root}: Gemma tokenizer not found (expected tokenizer.json or tokenizer.model)")
    if not (tokenizer_file.parent / "tokenizer_config.json").is_file():
        raise CheckpointError(
            f"{root}: Gemma tokenizer config not found: {tokenizer_file.parent / 'tokenizer_config.json'}"
        )
    processor = _first(root, "preprocessor_config.json")
    return GemmaRoot(
        root=root,
        weights_dir=weights_dir,
        shards=shards,
        config_path=config_path,
        tokenizer_dir=tokenizer_file.parent,
        image_processor_dir=processor.parent if processor else None,
    )


INDEX_FILE = "model.safetensors.index.json"


def check_gemma_files(gemma: GemmaRoot | TextEncoderAssets) -> None:
    """Every shard the folder's index names is there, every shard's header is sound and promises no more bytes than
    the file has (headers only, no tensor read), and the JSON files parse: an incomplete download is refused before
    any model is built. (A Gemma-4 encoder's JSON parsed when its assets were read; its weight headers are checked
    here.)"""

    if isinstance(gemma, TextEncoderAssets):
        for path in gemma.weight_files:
            SafetensorsFile(path)
        return
    index = gemma.weights_dir / INDEX_FILE
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text()).get("weight_map", {})
            listed = sorted(set(weight_map.values()))
        except (OSError, ValueError, AttributeError, TypeError) as exc:
            raise CheckpointError(f"{index}: cannot read the shard index ({exc})") from None
        missing = [name for name in listed if not (gemma.weights_dir / name).is_file()]
        if missing:
            raise CheckpointError(
                f"{gemma.root}: Gemma is incomplete; {INDEX_FILE} lists {len(listed)} shard(s), missing: "
                f"{', '.join(missing)}"
            )
    for shard in gemma.shards:
        SafetensorsFile(shard)
    check_gemma_json(gemma)


def check_gemma_json(gemma: GemmaRoot) -> None:
    """The config and tokenizer JSON files parse (a truncated or corrupt download is refused up front, instead of
    when the tokenizer is loaded halfway through a run)."""
    for path in (
        gemma.config_path,
        gemma.tokenizer_dir / "tokenizer_config.json",
        gemma.tokenizer_dir / "tokenizer.json",
    ):
        if not path.is_file():
            continue
        try:
            json.loads(path.read_bytes())
        except (OSError, ValueError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise CheckpointError(f"{path}: not valid JSON ({reason}); is the download complete?") from None


def check_gemma_fits(
    gemma: GemmaRoot | TextEncoderAssets, text_path: TextPathConfig, checkpoint: str | Path = "checkpoint"
) -> None:
    """The LTX text projection takes D·L inputs: Gemma's width must be D and its layer count L − 1 (both read from
    the Gemma config, §7)."""
    width, layers = gemma.hidden_size, gemma.num_layers
    need_width, need_layers = text_path.gemma_width, text_path.num_hidden_states - 1
    if (width, layers) != (need_width, need_layers):
        raise CheckpointError(
            f"Gemma at {gemma.root} has hidden_size={width}, num_hidden_layers={layers}, but {checkpoint} needs "
            f"hidden_size={need_width}, num_hidden_layers={need_layers} (text projection input "
            f"{need_width}x{need_layers + 1})"
        )
