"""Gemma text encoding: Gemma 3 (LTX-2 / LTX-2.3) and the Gemma-4 unified encoder (LTX-2.5), from a folder or a
packed file; tokenizer, feature extractors, connectors, prompts.

Importing this package does not import `transformers`; that happens only when Gemma is actually loaded.
"""

from ltx_core.text_encoders.gemma.assets import TextEncoderAssets, read_text_encoder_assets
from ltx_core.text_encoders.gemma.config import ConnectorConfig, TextPathConfig, detect_feature_version
from ltx_core.text_encoders.gemma.encoders import load_text_encoder, open_text_encoder
from ltx_core.text_encoders.gemma.gemma4 import Gemma4TextEncoder, load_gemma4
from ltx_core.text_encoders.gemma.loading import (
    TEXT_PATH_KEY_MAP,
    build_text_path,
    load_text_path,
    text_path_checkpoint_state_dict,
    text_path_config,
)
from ltx_core.text_encoders.gemma.model import GemmaTextEncoder, load_gemma
from ltx_core.text_encoders.gemma.processor import EmbeddingsProcessor, TextContexts
from ltx_core.text_encoders.gemma.prompts import (
    Enhancement,
    PromptContexts,
    ResidentPromptEncoder,
    contexts_from_hidden_states,
    encode_prompts,
)
from ltx_core.text_encoders.gemma.root import GemmaRoot, check_gemma_fits, find_gemma_root
from ltx_core.text_encoders.gemma.version_gate import check_gemma_pairing

__all__ = [
    "TEXT_PATH_KEY_MAP",
    "ConnectorConfig",
    "EmbeddingsProcessor",
    "Enhancement",
    "Gemma4TextEncoder",
    "GemmaRoot",
    "GemmaTextEncoder",
    "PromptContexts",
    "ResidentPromptEncoder",
    "TextContexts",
    "TextEncoderAssets",
    "TextPathConfig",
    "build_text_path",
    "check_gemma_fits",
    "check_gemma_pairing",
    "contexts_from_hidden_states",
    "detect_feature_version",
    "encode_prompts",
    "find_gemma_root",
    "load_gemma",
    "load_gemma4",
    "load_text_encoder",
    "load_text_path",
    "open_text_encoder",
    "read_text_encoder_assets",
    "text_path_checkpoint_state_dict",
    "text_path_config",
]
