"""A tiny, random "Gemma root" folder laid out like the official Gemma 3 download, for offline tests.

Files: `config.json` (transformers-4.x style keys, as in the real download), sharded `model-0000i-of-0000n.safetensors`
+ `model.safetensors.index.json` in the original Google layout (`language_model.model.*`, `vision_tower.*`,
`multi_modal_projector.*`), a BPE tokenizer trained here with the `tokenizers` library and Gemma's special tokens
(`tokenizer.json`, `tokenizer_config.json` with a Gemma-style chat template, `special_tokens_map.json`), and a
SigLIP image-processor config so the image-to-video enhancement path runs too. To fit an LTX checkpoint, choose
`hidden_size = transformer.caption_channels` and `num_layers = L − 1` (README 3.3).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch

SPECIAL_TOKENS = (
    "<pad>",
    "<eos>",
    "<bos>",
    "<unk>",
    "<mask>",
    "<start_of_turn>",
    "<end_of_turn>",
    "<start_of_image>",
    "<end_of_image>",
    "<image_soft_token>",
)
PAD_ID, EOS_ID, BOS_ID = 0, 1, 2
END_OF_TURN_ID = SPECIAL_TOKENS.index("<end_of_turn>")

CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{%- if messages[0]['role'] == 'system' -%}"
    "{%- if messages[0]['content'] is string -%}{%- set prefix = messages[0]['content'] + '\n\n' -%}"
    "{%- else -%}{%- set prefix = messages[0]['content'][0]['text'] + '\n\n' -%}{%- endif -%}"
    "{%- set loop_messages = messages[1:] -%}"
    "{%- else -%}{%- set prefix = '' -%}{%- set loop_messages = messages -%}{%- endif -%}"
    "{%- for message in loop_messages -%}"
    "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}"
    "{{ '<start_of_turn>' + role + '\n' + (prefix if loop.first else '') }}"
    "{%- if message['content'] is string -%}{{ message['content'] | trim }}"
    "{%- else -%}{%- for item in message['content'] -%}"
    "{%- if item['type'] == 'image' -%}{{ '<start_of_image>' }}"
    "{%- elif item['type'] == 'text' -%}{{ item['text'] | trim }}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "{{ '<end_of_turn>\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\n' }}{%- endif -%}"
)

_CORPUS = (
    "A cat walks slowly along the beach at sunset while waves roll in.",
    "The quick brown fox jumps over the lazy dog near the river.",
    'A woman in a red coat says: "We should go home now." Rain is falling on the street.',
    "Style: cinematic. The camera stays still as a car drives past a neon sign at night.",
    "Birds are singing in the forest; wind is moving through the tall green trees.",
    "user prompt: a man playing guitar on a stage, soft music and a cheering crowd.",
)
_ALPHABET = [chr(c) for c in range(33, 127)] + ["▁", "\n"]


def tiny_tokenizer_files(vocab_size: int = 384) -> dict[str, Any]:
    """tokenizer.json (as a parsed dict), tokenizer_config.json and special_tokens_map.json contents."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.normalizer = normalizers.Replace(" ", "▁")
    tok.pre_tokenizer = pre_tokenizers.Split("▁", behavior="merged_with_next")
    tok.decoder = decoders.Replace("▁", " ")
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS), initial_alphabet=_ALPHABET, show_progress=False
    )
    tok.train_from_iterator(_CORPUS, trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<bos> $A", pair="<bos> $A $B", special_tokens=[("<bos>", BOS_ID)]
    )
    specials = {"bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>"}
    extra = {"boi_token": "<start_of_image>", "eoi_token": "<end_of_image>", "image_token": "<image_soft_token>"}
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        **specials,
        **extra,
        "extra_special_tokens": extra,
        "additional_special_tokens": ["<start_of_turn>", "<end_of_turn>"],
        "add_bos_token": True,
        "add_eos_token": False,
        "padding_side": "left",
        "model_max_length": 1000000,
        "chat_template": CHAT_TEMPLATE,
    }
    return {
        "tokenizer.json": json.loads(tok.to_str()),
        "tokenizer_config.json": config,
        "special_tokens_map.json": specials,
        "vocab_size": tok.get_vocab_size(),
    }


def write_tiny_tokenizer(out_dir: str | Path) -> int:
    """Write only the tokenizer files into `out_dir`; returns the vocabulary size."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tok = tiny_tokenizer_files()
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        (out / name).write_text(json.dumps(tok[name], indent=1, ensure_ascii=False))
    return int(tok["vocab_size"])


def tiny_gemma_config(
    hidden_size: int,
    num_layers: int,
    vocab_size: int,
    *,
    num_heads: int = 2,
    num_kv_heads: int = 1,
    head_dim: int = 8,
    sliding_window_pattern: int = 2,
    image_size: int = 28,
    patch_size: int = 14,
    mm_tokens_per_image: int = 4,
) -> dict[str, Any]:
    """A Gemma 3 config.json with the real model's structure keys and tiny sizes."""
    image_ids = {name: SPECIAL_TOKENS.index(name) for name in ("<start_of_image>", "<end_of_image>")}
    return {
        "architectures": ["Gemma3ForConditionalGeneration"],
        "model_type": "gemma3",
        "boi_token_index": image_ids["<start_of_image>"],
        "eoi_token_index": image_ids["<end_of_image>"],
        "image_token_index": SPECIAL_TOKENS.index("<image_soft_token>"),
        "eos_token_id": [EOS_ID, END_OF_TURN_ID],
        "bos_token_id": BOS_ID,
        "pad_token_id": PAD_ID,
        "initializer_range": 0.02,
        "mm_tokens_per_image": mm_tokens_per_image,
        "torch_dtype": "bfloat16",
        "text_config": {
            "model_type": "gemma3_text",
            "attention_bias": False,
            "attention_dropout": 0.0,
            "attn_logit_softcapping": None,
            "final_logit_softcapping": None,
            "head_dim": head_dim,
            "hidden_activation": "gelu_pytorch_tanh",
            "hidden_size": hidden_size,
            "initializer_range": 0.02,
            "intermediate_size": 2 * hidden_size,
            "max_position_embeddings": 4096,
            "num_attention_heads": num_heads,
            "num_hidden_layers": num_layers,
            "num_key_value_heads": num_kv_heads,
            "query_pre_attn_scalar": head_dim,
            "rms_norm_eps": 1e-6,
            "rope_local_base_freq": 10000.0,
            "rope_scaling": {"factor": 8.0, "rope_type": "linear"},
            "rope_theta": 1000000.0,
            "sliding_window": 1024,
            "sliding_window_pattern": sliding_window_pattern,
            "vocab_size": vocab_size,
        },
        "vision_config": {
            "model_type": "siglip_vision_model",
            "attention_dropout": 0.0,
            "hidden_act": "gelu_pytorch_tanh",
            "hidden_size": 16,
            "image_size": image_size,
            "intermediate_size": 32,
            "layer_norm_eps": 1e-6,
            "num_attention_heads": 2,
            "num_channels": 3,
            "num_hidden_layers": 1,
            "patch_size": patch_size,
            "vision_use_head": False,
        },
    }


def _legacy_key(key: str) -> str | None:
    """New HF module names → the original Gemma 3 shard names (the layout the official loader expects)."""
    for new, old in (
        ("model.language_model.", "language_model.model."),
        ("model.vision_tower.", "vision_tower."),
        ("model.multi_modal_projector.", "multi_modal_projector."),
    ):
        if key.startswith(new):
            return old + key[len(new) :]
    return None  # lm_head: tied to the embeddings, not stored


def make_tiny_gemma_root(
    out_dir: str | Path,
    hidden_size: int,
    num_layers: int,
    *,
    seed: int = 0,
    num_shards: int = 2,
    dtype: torch.dtype = torch.float32,
    **config_overrides: Any,
) -> Path:
    """Write a tiny random Gemma 3 root into `out_dir` (created if needed) and return it."""
    from safetensors.torch import save_file
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration

    out = Path(out_dir)
    vocab_size = write_tiny_tokenizer(out)
    config = tiny_gemma_config(hidden_size, num_layers, vocab_size, **config_overrides)
    (out / "config.json").write_text(json.dumps(config, indent=1))
    (out / "generation_config.json").write_text(
        json.dumps({"bos_token_id": BOS_ID, "eos_token_id": [EOS_ID, END_OF_TURN_ID], "pad_token_id": PAD_ID})
    )
    vision = config["vision_config"]
    (out / "preprocessor_config.json").write_text(
        json.dumps(
            {
                "image_processor_type": "Gemma3ImageProcessor",
                "processor_class": "Gemma3Processor",
                "do_convert_rgb": True,
                "do_normalize": True,
                "do_rescale": True,
                "do_resize": True,
                "do_pan_and_scan": False,
                "image_mean": [0.5, 0.5, 0.5],
                "image_std": [0.5, 0.5, 0.5],
                "rescale_factor": 1 / 255,
                "resample": 2,
                "size": {"height": vision["image_size"], "width": vision["image_size"]},
            }
        )
    )
    (out / "processor_config.json").write_text(
        json.dumps({"processor_class": "Gemma3Processor", "image_seq_length": config["mm_tokens_per_image"]})
    )

    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = Gemma3ForConditionalGeneration(Gemma3Config.from_dict(config))
    finally:
        torch.random.set_rng_state(generator_state)
    tensors = {}
    for key, tensor in model.state_dict().items():
        legacy = _legacy_key(key)
        if legacy is not None:
            tensors[legacy] = tensor.detach().to(dtype).contiguous()
    keys = sorted(tensors)
    per_shard = math.ceil(len(keys) / num_shards)
    weight_map = {}
    for i in range(num_shards):
        name = f"model-{i + 1:05d}-of-{num_shards:05d}.safetensors"
        shard = {k: tensors[k] for k in keys[i * per_shard : (i + 1) * per_shard]}
        save_file(shard, out / name, metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(shard, name))
    total = sum(t.numel() * t.element_size() for t in tensors.values())
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (out / "model.safetensors.index.json").write_text(json.dumps(index, indent=1))
    return out


# Tokens only the dense Gemma-4 processor reads (its video token, its audio tokens: `Gemma4Processor` refuses any call
# without begin/end-of-audio tokens), added after the BPE training so the other tiny tokenizers keep their vocabulary.
GEMMA4_PROCESSOR_TOKENS = {
    "video_token": "<|video|>",
    "audio_token": "<audio_soft_token>",
    "boa_token": "<start_of_audio>",
    "eoa_token": "<end_of_audio>",
}
# The Gemma-4 template renders an image item as the image token, which the processor expands to
# begin-of-image + one soft token per pooled patch + end-of-image.
GEMMA4_CHAT_TEMPLATE = CHAT_TEMPLATE.replace("{{ '<start_of_image>' }}", "{{ '<image_soft_token>' }}")
TINY_VISION = {"patch_size": 4, "pooling_kernel_size": 3, "max_soft_tokens": 70}  # 70: the smallest budget HF allows


def tiny_gemma4_enhancer_config(
    vocab_size: int, hidden_size: int = 32, num_layers: int = 2, *, token_ids: dict[str, int] | None = None
) -> dict[str, Any]:
    """A dense Gemma-4 instruct config (`model_type` "gemma4"), text only, or with `token_ids` (the tokenizer's ids of
    the image/video/audio tokens) a tiny vision tower too, small enough for CPU tests."""
    text = {
        "model_type": "gemma4_text",
        "vocab_size": vocab_size,
        "vocab_size_per_layer_input": vocab_size,
        "hidden_size": hidden_size,
        "hidden_size_per_layer_input": 8,
        "intermediate_size": 2 * hidden_size,
        "num_hidden_layers": num_layers,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "head_dim": 16,
        "global_head_dim": 16,
        "sliding_window": 16,
        "layer_types": ["sliding_attention", "full_attention"][:num_layers],
        "pad_token_id": PAD_ID,
        "eos_token_id": [EOS_ID, END_OF_TURN_ID],
        "bos_token_id": BOS_ID,
    }
    config: dict[str, Any] = {
        "model_type": "gemma4",
        "architectures": ["Gemma4ForConditionalGeneration"],
        "text_config": text,
    }
    if token_ids is None:
        return config
    vision = {
        "model_type": "gemma4_vision",
        "hidden_size": 16,
        "intermediate_size": 32,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "num_key_value_heads": 2,
        "head_dim": 8,
        "patch_size": TINY_VISION["patch_size"],
        "pooling_kernel_size": TINY_VISION["pooling_kernel_size"],
        "position_embedding_size": 1024,
    }
    text["use_bidirectional_attention"] = "vision"  # image tokens see each other (the larger Gemma 4 models)
    return {**config, "vision_config": vision, "audio_config": None, **token_ids}


def _gemma4_vision_tokenizer(tok: dict[str, Any]) -> dict[str, int]:
    """Add the processor's tokens to `tok` (tokenizer.json after the trained vocabulary, tokenizer_config.json with the
    Gemma-4 chat template) in place; returns the config's token ids."""
    from tokenizers import Tokenizer

    backend = Tokenizer.from_str(json.dumps(tok["tokenizer.json"]))
    backend.add_special_tokens(list(GEMMA4_PROCESSOR_TOKENS.values()))
    tok["tokenizer.json"] = json.loads(backend.to_str())
    tok["vocab_size"] = backend.get_vocab_size()
    config = tok["tokenizer_config.json"]
    config.update(GEMMA4_PROCESSOR_TOKENS, chat_template=GEMMA4_CHAT_TEMPLATE)
    config["extra_special_tokens"] = {**config["extra_special_tokens"], **GEMMA4_PROCESSOR_TOKENS}
    ids = {name: backend.token_to_id(token) for name, token in config["extra_special_tokens"].items()}
    return {
        "image_token_id": ids["image_token"],
        "boi_token_id": ids["boi_token"],
        "eoi_token_id": ids["eoi_token"],
        "video_token_id": ids["video_token"],
        "audio_token_id": ids["audio_token"],
        "boa_token_id": ids["boa_token"],
        "eoa_token_index": ids["eoa_token"],  # sic: transformers' name
    }


def tiny_gemma4_processor_config() -> dict[str, Any]:
    """processor_config.json of the tiny vision enhancer: the `Gemma4Processor` with each sub-processor's config nested
    under its attribute name (gemma4_text_encoder.md §3.4), sized for the tiny vision tower."""
    vision = {**TINY_VISION, "do_convert_rgb": True, "do_rescale": True, "rescale_factor": 1 / 255}
    return {
        "processor_class": "Gemma4Processor",
        "image_seq_length": TINY_VISION["max_soft_tokens"],
        "audio_seq_length": 750,
        "audio_ms_per_token": 40,
        "image_processor": {
            "image_processor_type": "Gemma4ImageProcessor",
            **vision,
            "do_resize": True,
            "do_normalize": False,
            "image_mean": [0.0, 0.0, 0.0],
            "image_std": [1.0, 1.0, 1.0],
            "resample": 3,
        },
        "feature_extractor": {
            "feature_extractor_type": "Gemma4AudioFeatureExtractor",
            "feature_size": 128,
            "sampling_rate": 16000,
            "padding_value": 0.0,
            "return_attention_mask": True,
        },
        "video_processor": {"video_processor_type": "Gemma4VideoProcessor", **vision, "num_frames": 8},
    }


def make_tiny_gemma4_enhancer(out: str | Path, *, seed: int = 0, packed: bool = False, vision: bool = False) -> Path:
    """A tiny random dense Gemma-4 instruct model in the HF layout (`model.language_model.*`, no LM head: it is tied),
    with the tiny tokenizer and a chat template: a folder (`out/`) or, with `packed`, one `.safetensors` file (`out`)
    holding the config as `gemma_config`, the tokenizer bytes and every sidecar (gemma4_text_encoder.md §2.2).

    `vision`: with a tiny vision tower (`model.vision_tower.*`, `model.embed_vision.*`), the processor's image, video
    and audio tokens, a chat template that renders an image item as the image token, and `processor_config.json`
    (§3.4), so the image-to-video enhancement runs."""
    from safetensors.torch import save_file
    from transformers import Gemma4Config, Gemma4ForConditionalGeneration

    tok = tiny_tokenizer_files()
    token_ids = _gemma4_vision_tokenizer(tok) if vision else None
    config = tiny_gemma4_enhancer_config(int(tok["vocab_size"]), token_ids=token_ids)
    torch.manual_seed(seed)
    model = Gemma4ForConditionalGeneration(Gemma4Config.from_dict(config)).eval()
    state = {k: v.contiguous() for k, v in model.state_dict().items() if k.startswith("model.")}
    sidecars = {
        "tokenizer_config.json": json.dumps(tok["tokenizer_config.json"], indent=1).encode(),
        "special_tokens_map.json": json.dumps(tok["special_tokens_map.json"], indent=1).encode(),
        "chat_template.jinja": (GEMMA4_CHAT_TEMPLATE if vision else CHAT_TEMPLATE).encode(),
    }
    if vision:
        sidecars["processor_config.json"] = json.dumps(tiny_gemma4_processor_config(), indent=1).encode()
    tokenizer_json = json.dumps(tok["tokenizer.json"], ensure_ascii=False).encode()
    out = Path(out)
    if packed:
        out.parent.mkdir(parents=True, exist_ok=True)

        def as_bytes(data: bytes) -> torch.Tensor:
            return torch.frombuffer(bytearray(data), dtype=torch.uint8).clone()

        tensors = dict(state)
        tensors["tokenizer_json"] = as_bytes(tokenizer_json)
        tensors.update({f"hf_asset__{name}": as_bytes(data) for name, data in sidecars.items()})
        save_file(tensors, str(out), metadata={"format": "pt", "gemma_config": json.dumps(config)})
        return out
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(config, indent=1))
    (out / "tokenizer.json").write_bytes(tokenizer_json)
    for name, data in sidecars.items():
        (out / name).write_bytes(data)
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    return out
