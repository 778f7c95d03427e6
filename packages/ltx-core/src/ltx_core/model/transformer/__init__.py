"""The LTX-2 / LTX-2.3 audio-video diffusion transformer."""

from ltx_core.model.transformer.attention import register_attention_kernel
from ltx_core.model.transformer.config import ModelType, RopeType, TransformerConfig
from ltx_core.model.transformer.loading import (
    TRANSFORMER_KEY_MAP,
    build_transformer,
    load_transformer,
    read_model_version,
    transformer_checkpoint_state_dict,
    transformer_config,
    transformer_key_map,
)
from ltx_core.model.transformer.modality import Modality
from ltx_core.model.transformer.model import LTXModel
from ltx_core.model.transformer.x0 import X0Model, to_denoised

__all__ = [
    "TRANSFORMER_KEY_MAP",
    "LTXModel",
    "Modality",
    "ModelType",
    "RopeType",
    "TransformerConfig",
    "X0Model",
    "build_transformer",
    "load_transformer",
    "read_model_version",
    "register_attention_kernel",
    "to_denoised",
    "transformer_checkpoint_state_dict",
    "transformer_config",
    "transformer_key_map",
]
