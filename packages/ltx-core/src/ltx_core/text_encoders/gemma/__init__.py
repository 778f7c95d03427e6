"""Gemma 3 text encoding for LTX-2 / LTX-2.3: root folder, tokenizer, feature extractors, connectors, prompts.

Importing this package does not import `transformers`; that happens only when Gemma is actually loaded.
"""

from ltx_core.text_encoders.gemma.config import ConnectorConfig, TextPathConfig, detect_feature_version
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

__all__ = [
    "TEXT_PATH_KEY_MAP",
    "ConnectorConfig",
    "EmbeddingsProcessor",
    "Enhancement",
    "GemmaRoot",
    "GemmaTextEncoder",
    "PromptContexts",
    "ResidentPromptEncoder",
    "TextContexts",
    "TextPathConfig",
    "build_text_path",
    "check_gemma_fits",
    "contexts_from_hidden_states",
    "detect_feature_version",
    "encode_prompts",
    "find_gemma_root",
    "load_gemma",
    "load_text_path",
    "text_path_checkpoint_state_dict",
    "text_path_config",
]
