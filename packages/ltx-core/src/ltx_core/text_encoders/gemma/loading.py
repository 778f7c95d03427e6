"""LTX checkpoint ↔ text-path modules (feature extractor + the two embeddings connectors).

Checkpoint keys (spec B.1): `text_embedding_projection.*` → `feature_extractor.*`,
`model.diffusion_model.{video,audio}_embeddings_connector.*` → `{video,audio}_connector.*`. The number of Gemma
hidden states is not in the config; it is read from the projection weight's input width (README 3.3).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ltx_core.errors import CheckpointError
from ltx_core.loader import Checkpoint, ConfigSection, KeyMap, load_model, open_checkpoint
from ltx_core.text_encoders.gemma.config import TextPathConfig, detect_feature_version
from ltx_core.text_encoders.gemma.processor import EmbeddingsProcessor

_RENAMES = (
    ("text_embedding_projection.", "feature_extractor."),
    ("model.diffusion_model.video_embeddings_connector.", "video_connector."),
    ("model.diffusion_model.audio_embeddings_connector.", "audio_connector."),
)

TEXT_PATH_KEY_MAP = KeyMap(
    name="ltx_text_path",
    prefixes=tuple(src for src, _ in _RENAMES),
    replacements=_RENAMES,
)


def _projection_key(version: int) -> str:
    return "text_embedding_projection." + ("aggregate_embed.weight" if version == 1 else "video_aggregate_embed.weight")


def text_path_config(checkpoint: Checkpoint) -> TextPathConfig:
    """Config of the text path stored in `checkpoint`, with L taken from the projection weight's shape."""
    section = ConfigSection.of(checkpoint.config, "transformer", source=checkpoint.path)
    version = detect_feature_version(section)
    key = _projection_key(version)
    if key not in checkpoint.keys():
        raise CheckpointError(f"{checkpoint.path}: has no text projection weight {key} (is this an LTX-2 checkpoint?)")
    in_width = checkpoint.info(key).shape[1]
    gemma_width = int(section.require("caption_channels"))
    if in_width % gemma_width != 0:
        raise CheckpointError(
            f"{checkpoint.path}: text projection input width {in_width} is not a multiple of "
            f"transformer.caption_channels={gemma_width}"
        )
    return TextPathConfig.from_section(section, in_width // gemma_width)


def text_path_factory(config: TextPathConfig) -> Callable[[], EmbeddingsProcessor]:
    return lambda: EmbeddingsProcessor(config)


def build_text_path(config: dict[str, Any], num_hidden_states: int) -> EmbeddingsProcessor:
    """Random-init text path from a checkpoint config dict (for the tiny-checkpoint generator)."""
    return EmbeddingsProcessor(TextPathConfig.from_config(config, num_hidden_states))


def load_text_path(
    checkpoint: str | Path | Checkpoint,
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str = "cpu",
) -> EmbeddingsProcessor:
    """The embeddings processor (feature extractor + connectors) with the checkpoint's weights, eval mode."""
    ckpt = open_checkpoint(checkpoint)
    model = load_model(
        text_path_factory(text_path_config(ckpt)),
        ckpt,
        TEXT_PATH_KEY_MAP,
        component="text path (projection + embeddings connectors)",
        dtype=dtype,
        device=device,
    )
    assert isinstance(model, EmbeddingsProcessor)
    return model


def text_path_checkpoint_state_dict(module: EmbeddingsProcessor) -> dict[str, torch.Tensor]:
    """The module's tensors under their official checkpoint keys (inverse of TEXT_PATH_KEY_MAP)."""
    out: dict[str, torch.Tensor] = {}
    for name, tensor in module.state_dict().items():
        for src, dst in _RENAMES:
            if name.startswith(dst):
                out[src + name[len(dst) :]] = tensor
                break
        else:
            raise CheckpointError(f"text path tensor {name!r} has no checkpoint key")
    return out
