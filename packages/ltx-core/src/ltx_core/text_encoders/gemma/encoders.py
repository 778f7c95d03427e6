"""One entry point for every text encoder: the Gemma family is the one the text encoder declares.

The path (`--gemma-root`) is a folder or a packed `.safetensors` file; its config's `model_type` picks the family
(gemma4_text_encoder.md §8: never the LTX checkpoint's `model_version`, which only validates the pairing,
`version_gate`): `gemma3` → the Gemma 3 root (`root.py`, `model.py`), `gemma4_unified` → the Gemma-4 unified
encoder (`gemma4.py`). The official also accepts a dense `gemma4` (an instruct model meant for enhancement) as an
encoder; it has per-layer inputs this stack does not implement, so it is refused in one line, as is a packed Gemma 3
file (a Gemma 3 text encoder is read from its folder).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ltx_core.errors import CheckpointError, ConfigError
from ltx_core.text_encoders.gemma.assets import (
    TextEncoderAssets,
    is_packed,
    read_text_encoder_assets,
    text_encoder_model_type,
)
from ltx_core.text_encoders.gemma.root import GemmaRoot, find_gemma_root
from ltx_core.text_encoders.gemma.tokenizer import MAX_LENGTH

TextEncoderSource = GemmaRoot | TextEncoderAssets
ENCODE_TYPES = ("gemma3", "gemma4_unified")


def open_text_encoder(path: str | Path | TextEncoderSource) -> TextEncoderSource:
    """The text encoder at `path` (folder or packed file), by the family its config declares."""
    if isinstance(path, (GemmaRoot, TextEncoderAssets)):
        return path
    path = Path(path)
    if path.is_dir() and not (path / "config.json").is_file() and not any(path.rglob("config.json")):
        return find_gemma_root(path)  # the Gemma 3 root's own one-line error for what is missing
    model_type = text_encoder_model_type(path)
    if model_type == "gemma3":
        if is_packed(path):
            raise ConfigError(f"{path}: a packed Gemma 3 text encoder is not supported; pass the Gemma 3 folder")
        return find_gemma_root(path)
    if model_type == "gemma4_unified":
        return read_text_encoder_assets(path)
    raise ConfigError(
        f"{path}: the text encoder's model_type is {model_type!r}; supported for encoding: {', '.join(ENCODE_TYPES)}"
    )


def load_text_encoder(
    source: str | Path | TextEncoderSource,
    *,
    dtype: torch.dtype = torch.bfloat16,
    device: torch.device | str = "cpu",
    max_length: int = MAX_LENGTH,
    offload: str | None = "none",
    memory: Any = None,
) -> Any:
    """A `GemmaTextEncoder` (Gemma 3) or `Gemma4TextEncoder` (same interface) for the source's family."""
    opened = open_text_encoder(source)
    if isinstance(opened, GemmaRoot):
        from ltx_core.text_encoders.gemma.model import load_gemma

        return load_gemma(opened, dtype=dtype, device=device, max_length=max_length, offload=offload, memory=memory)
    if isinstance(opened, TextEncoderAssets):
        from ltx_core.text_encoders.gemma.gemma4 import load_gemma4

        return load_gemma4(opened, dtype=dtype, device=device, max_length=max_length, offload=offload, memory=memory)
    raise CheckpointError(f"not a text encoder: {opened!r}")
