"""Which Gemma an LTX checkpoint may be paired with (spec delta A.7.4, gemma4_text_encoder.md §8).

The Gemma family is whatever the text encoder declares (its config's `model_type`); the LTX checkpoint's metadata
only validates the pairing, never picks the family:
- `gemma_source_checkpoint` present: its `gemma_version` must equal the Gemma config's top-level `gemma_version`;
- absent and `model_version` >= 2.4.0: an error, or only a warning when the Gemma config declares no
  `gemma_version` either;
- absent and older (LTX-2, LTX-2.3): the text encoder must be Gemma 3.
`model_version` is parsed as written: "2.5" is (2, 5). (The official JSON-decodes the metadata first, so a "2.5"
written without a patch number becomes the float 2.5 and its gate crashes; we read the raw string.) No "-" → "."
normalisation here, as in the official gate.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from ltx_core.errors import CheckpointError
from ltx_core.loader import Checkpoint

logger = logging.getLogger(__name__)

GATED_FROM = (2, 4, 0)


def version_as_written(raw: str) -> tuple[int, ...]:
    """The leading run of all-digit "."-separated parts: "2.5.0" → (2, 5, 0), "2.5" → (2, 5), "" → ()."""
    parts: list[int] = []
    for part in raw.strip().split("."):
        if not part.isdigit():
            break
        parts.append(int(part))
    return tuple(parts)


def _source_gemma_version(checkpoint: Checkpoint) -> str | None:
    """`gemma_source_checkpoint.gemma_version`, None when the metadata has no `gemma_source_checkpoint`."""
    raw = checkpoint.metadata.get("gemma_source_checkpoint")
    if raw is None:
        return None
    try:
        source = json.loads(raw)
    except ValueError:
        source = None
    if not isinstance(source, dict):
        raise CheckpointError(
            f"{checkpoint.path}: metadata gemma_source_checkpoint is {raw!r}; expected a JSON object with gemma_version"
        )
    return str(source.get("gemma_version"))


def check_gemma_pairing(checkpoint: Checkpoint, gemma_config: dict[str, Any], text_encoder: str | Path) -> None:
    """One-line CheckpointError when the text encoder at `text_encoder` is not the Gemma `checkpoint` expects."""
    declared = gemma_config.get("gemma_version")
    model_type = gemma_config.get("model_type")
    expected = _source_gemma_version(checkpoint)
    if expected is not None:
        if declared is None or str(declared) != expected:
            raise CheckpointError(
                f"{checkpoint.path} expects the Gemma gemma_version {expected!r} (gemma_source_checkpoint), but the "
                f"text encoder {text_encoder} declares {declared!r}; pass the Gemma this checkpoint was made with"
            )
        return
    raw_version = checkpoint.metadata.get("model_version", "")
    if version_as_written(raw_version) >= GATED_FROM:
        if declared is None:
            logger.warning(
                "%s (model_version %s) has no gemma_source_checkpoint and the text encoder %s declares no "
                "gemma_version: their pairing is not checked",
                checkpoint.path,
                raw_version,
                text_encoder,
            )
            return
        raise CheckpointError(
            f"{checkpoint.path} (model_version {raw_version}) has no gemma_source_checkpoint metadata to check the "
            f"text encoder {text_encoder} (gemma_version {declared!r}) against"
        )
    if model_type != "gemma3":
        raise CheckpointError(
            f"{checkpoint.path} (model_version {raw_version or 'none'}) needs a Gemma 3 text encoder, but "
            f"{text_encoder} is {model_type!r}"
        )
