"""A tiny random Gemma-4 "unified" text encoder for offline tests, as a folder (HF layout: `config.json`,
`tokenizer.json`, sidecars, `model.safetensors` with `model.language_model.*`) and the parts of a packed single file
(gemma4_text_encoder.md §2): the config (the structure of the golden tiny one), the sidecars, the weights, the
official packer's Comfy-flat renaming. The tokenizer is `tiny_gemma`'s BPE. Used by the tiny LTX-2.5 set
(`tiny_checkpoints`, version "ltx25").
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

TINY_GEMMA4_VERSION = "tiny-gemma4-unified-test"  # as the golden 1.2.0 tiny files


def tiny_gemma4_config(hidden_size: int, num_layers: int, vocab_size: int) -> dict[str, Any]:
    """A `gemma4_unified` HF config with the structure of the golden tiny one (gemma4_text_encoder.md §3.1)."""
    from ltx_core.testing.tiny_gemma import BOS_ID, EOS_ID, PAD_ID, SPECIAL_TOKENS

    layer_types = ["sliding_attention"] * (num_layers - 1) + ["full_attention"]
    return {
        "architectures": ["Gemma4UnifiedForConditionalGeneration"],
        "model_type": "gemma4_unified",
        "gemma_version": TINY_GEMMA4_VERSION,
        "audio_config": None,
        "boi_token_id": SPECIAL_TOKENS.index("<start_of_image>"),
        "eoi_token_id": SPECIAL_TOKENS.index("<end_of_image>"),
        "image_token_id": SPECIAL_TOKENS.index("<image_soft_token>"),
        "tie_word_embeddings": True,
        "text_config": {
            "model_type": "gemma4_unified_text",
            "attention_k_eq_v": False,
            "bos_token_id": BOS_ID,
            "eos_token_id": EOS_ID,
            "pad_token_id": PAD_ID,
            "final_logit_softcapping": None,
            "head_dim": 12,
            "global_head_dim": 16,
            "hidden_activation": "gelu_pytorch_tanh",
            "hidden_size": hidden_size,
            "intermediate_size": 2 * hidden_size,
            "layer_types": layer_types,
            "max_position_embeddings": 4096,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "num_global_key_value_heads": 1,
            "num_hidden_layers": num_layers,
            "num_kv_shared_layers": 0,
            "rms_norm_eps": 1e-06,
            "rope_parameters": {
                "full_attention": {"partial_rotary_factor": 0.25, "rope_theta": 1000000.0, "rope_type": "proportional"},
                "sliding_attention": {"rope_theta": 10000.0, "rope_type": "default"},
            },
            "sliding_window": 8,
            "tie_word_embeddings": True,
            "use_double_wide_mlp": False,
            "vocab_size": vocab_size,
        },
    }


def gemma4_sidecars() -> dict[str, bytes]:
    """tokenizer.json (`tiny_gemma`'s BPE), tokenizer_config.json (Gemma-4 style: left padding, no chat template),
    processor_config.json and a chat template, as bytes by file name, plus "vocab_size" (the tokenizer's, as text):
    the caller takes out the tokenizer and the size, the rest are the sidecars."""
    from ltx_core.testing.tiny_gemma import tiny_tokenizer_files

    tok = tiny_tokenizer_files()
    tokenizer_config = {
        "tokenizer_class": "GemmaTokenizer",
        "bos_token": "<bos>",
        "eos_token": "<eos>",
        "pad_token": "<pad>",
        "unk_token": "<unk>",
        "padding_side": "left",
        "model_max_length": 1024,
    }
    template = (
        "{{ bos_token }}{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{{ eos_token }}{% endfor %}"
        "{% if add_generation_prompt %}<model>{% endif %}"
    )
    processor = {"processor_class": "Gemma4UnifiedProcessor", "image_seq_length": 4}
    return {
        "tokenizer.json": json.dumps(tok["tokenizer.json"], ensure_ascii=False).encode("utf-8"),
        "tokenizer_config.json": json.dumps(tokenizer_config, indent=1).encode("utf-8"),
        "processor_config.json": json.dumps(processor, indent=1).encode("utf-8"),
        "chat_template.jinja": template.encode("utf-8"),
        "vocab_size": str(tok["vocab_size"]).encode("utf-8"),
    }


def tiny_gemma4_weights(config: dict[str, Any]) -> dict[str, Any]:
    """Random float32 weights of the Gemma-4 text model under the HF names (`model.language_model.*`)."""
    from ltx_core.text_encoders.gemma.gemma4_config import gemma4_text_config
    from ltx_core.text_encoders.gemma.gemma4_model import Gemma4TextModel

    model = Gemma4TextModel(gemma4_text_config(config))
    return {"model.language_model." + k: v.detach().float().contiguous() for k, v in model.state_dict().items()}


def comfy_flat_name(key: str) -> str:
    """The official packer's default renaming (gemma4_text_encoder.md §2.3)."""
    for old, new in (
        ("model.language_model.", "model."),
        ("model.vision_embedder.", "vision_model."),
        ("model.embed_vision.", "multi_modal_projector."),
        ("model.embed_audio.", "audio_projector."),
    ):
        if key.startswith(old):
            return new + key[len(old) :]
    return key


def byte_tensor(data: bytes) -> Any:
    import torch

    return torch.frombuffer(bytearray(data), dtype=torch.uint8).clone()


def write_gemma4_root(
    folder: Path, config: dict[str, Any], weights: Mapping[str, Any], tokenizer_json: bytes, sidecars: dict[str, bytes]
) -> None:
    """The Gemma-4 unified folder `folder/gemma` (config.json, tokenizer.json, sidecars, model.safetensors), written
    beside and renamed into place."""
    from safetensors.torch import save_file

    tmp = folder / ".gemma.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / "config.json").write_text(json.dumps(copy.deepcopy(config), indent=1))
    (tmp / "tokenizer.json").write_bytes(tokenizer_json)
    for name, data in sidecars.items():
        (tmp / name).write_bytes(data)
    save_file(dict(weights), str(tmp / "model.safetensors"), metadata={"format": "pt"})
    os.chmod(tmp / "model.safetensors", 0o644)
    shutil.rmtree(folder / "gemma", ignore_errors=True)
    os.replace(tmp, folder / "gemma")
