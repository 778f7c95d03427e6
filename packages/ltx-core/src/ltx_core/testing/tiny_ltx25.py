"""The tiny LTX-2.5 set: a distilled single file and the same weights as split files, a tiny Gemma-4 unified text
encoder (folder and packed file), a conv-decoder video VAE, an x2 upsampler and a distilled LoRA.

Written by `make_tiny_checkpoints(out, ["ltx25"])` into `out/ltx25/` (`FILES_25`):

    distilled.safetensors          the single file: 2.5 transformer (ff_bias false, keyframe embedding on; the audio
                                   FFN / prompt AdaLN / connector FFN biases left at their default, true: the flag
                                   set of the golden T2A file), text connectors and projection, diffusion video VAE,
                                   audio VAE + BWE vocoder, duration head; metadata `config`, `model_version`
                                   "2.5.0", `gemma_source_checkpoint`
    split/transformer.safetensors  `model.diffusion_model.*` (connectors included); `config.transformer`,
                                   `model_version`, `gemma_source_checkpoint` (delta E.2)
    split/text_encoder.safetensors the packed Gemma-4 text encoder (Comfy-flat weight names, `gemma_config`,
                                   `tokenizer_json`, `hf_asset__*`) with the LTX `text_embedding_projection.*`
    split/video_vae.safetensors    `vae.*` (the diffusion decoder); `config.vae`, `model_version`
    split/audio_vae.safetensors    `audio_vae.*` + `vocoder.*`; `config.audio_vae`, `config.vocoder`
    split/duration_head.safetensors `duration_head.*`; `config.transformer` (the two context widths) and
                                   `config.duration_head`
    video_vae_conv.safetensors     a conv-decoder video VAE stored with bare keys (`encoder.*`, `decoder.*`,
                                   `per_channel_statistics.*`) and no `model_version` (delta E.2's UNSURE case)
    spatial_upsampler_x2.safetensors, distilled_lora.safetensors
    gemma/                         the tiny Gemma-4 unified folder (HF layout `model.language_model.*`)

Every split file holds exactly the single file's tensors of its slot, so a run from the split files is bitwise the
run from the single file.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

LTX25_MODEL_VERSION = "2.5.0"
TINY_GEMMA4_VERSION = "tiny-gemma4-unified-test"  # as the golden 1.2.0 tiny files
SPLIT_FILES = {
    "transformer": "split/transformer.safetensors",
    "text_encoder": "split/text_encoder.safetensors",
    "video_vae": "split/video_vae.safetensors",
    "audio_vae": "split/audio_vae.safetensors",
    "duration_head": "split/duration_head.safetensors",
}
FILES_25 = (
    "distilled.safetensors",
    *SPLIT_FILES.values(),
    "video_vae_conv.safetensors",
    "spatial_upsampler_x2.safetensors",
    "distilled_lora.safetensors",
    "gemma",
)
_TRANSFORMER_PREFIX = "model.diffusion_model."
_PROJECTION_PREFIX = "text_embedding_projection."


def tiny_transformer_config_25() -> dict[str, Any]:
    """The tiny LTX-2.3 transformer with the LTX-2.5 flags of the golden T2A file."""
    from ltx_core.testing.tiny_checkpoints import tiny_transformer_config

    return {**tiny_transformer_config("ltx23"), "ff_bias": False, "use_keyframes_abs_pos_embedding": True}


def tiny_diffusion_vae_config() -> dict[str, Any]:
    """The `CausalDiffusionVAE` section of the golden 1.2.0 tiny end-to-end file (128 latent channels)."""
    stage = [3, 3, 3]
    return {
        "_class_name": "CausalDiffusionVAE",
        "latent_channels": 128,
        "model_output_type": "v",
        "decoder": {
            "head_dim": 16,
            "t_emb_dim": 32,
            "stage_channels": [128, 64, 32, 32, 16],
            "stage_depths": [1, 1, 1, 1, 2],
            "stage_kernels": [stage] * 5,
            "upsamples": [[[1, 2, 2], 2], [[2, 1, 1], 2], [[2, 2, 2], 1], [[2, 2, 2], 2]],
            "stage5_kernel": [3, 5, 5],
            "stage5_channels": 32,
            "default_num_inference_steps": 2,
            "in_channels": 128,
            "out_channels": 3,
            "patch_size": 4,
            "timestep_scale_multiplier": 1.0,
        },
        "encoder": {
            "in_channels": 3,
            "out_channels": 128,
            "patch_size": 4,
            "dims": 3,
            "norm_layer": "pixel_norm",
            "latent_log_var": "uniform",
            "spatial_padding_mode": "zeros",
            "blocks": [["compress_all_res", {"multiplier": 1}]] * 3,
        },
    }


def tiny_duration_head_config() -> dict[str, Any]:
    return {"pooler_hidden_dim": 16, "num_queries": 1, "num_pooler_heads": 2, "mlp_hidden": 16}


def tiny_config_25() -> dict[str, Any]:
    """The full metadata `config` of the tiny LTX-2.5 single file."""
    from ltx_core.testing.tiny_checkpoints import tiny_audio_vae_config, tiny_vocoder_config

    return {
        "transformer": tiny_transformer_config_25(),
        "vae": tiny_diffusion_vae_config(),
        "audio_vae": tiny_audio_vae_config(),
        "vocoder": tiny_vocoder_config("ltx23"),
        "duration_head": tiny_duration_head_config(),
    }


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


def _gemma4_sidecars() -> dict[str, bytes]:
    """tokenizer_config.json (Gemma-4 style: left padding, no chat template), processor_config.json and a chat
    template, as bytes by file name."""
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


def _byte_tensor(data: bytes) -> Any:
    import torch

    return torch.frombuffer(bytearray(data), dtype=torch.uint8).clone()


def write_ltx25_set(folder: Path, seed: int) -> None:
    """Write the tiny LTX-2.5 set into `folder` (see the module docstring); deterministic for `seed`."""
    import torch

    from ltx_core.model.audio_vae.loading import (
        audio_decoder_from_config,
        audio_encoder_from_config,
        audio_vae_checkpoint_state_dict,
        vocoder_checkpoint_state_dict,
        vocoder_from_config,
    )
    from ltx_core.model.duration_head import DurationHead, DurationHeadConfig
    from ltx_core.model.transformer import build_transformer, transformer_checkpoint_state_dict
    from ltx_core.model.video_vae import video_decoder_factory, video_encoder_factory
    from ltx_core.model.video_vae.diffusion.loading import diffusion_decoder_checkpoint_state_dict
    from ltx_core.testing.tiny_checkpoints import (
        LORA_RANK,
        TINY_NUM_HIDDEN_STATES,
        _randomize_statistics,
        _save,
        _stored,
        tiny_upsampler_config,
        tiny_vae_config,
        transformer_lora_state_dict,
        upsampler_file_contents,
    )
    from ltx_core.text_encoders.gemma import build_text_path, text_path_checkpoint_state_dict

    config = tiny_config_25()
    sidecars = _gemma4_sidecars()
    vocab_size = int(sidecars.pop("vocab_size"))
    tokenizer_json = sidecars.pop("tokenizer.json")
    caption = config["transformer"]["caption_channels"]
    gemma_config = tiny_gemma4_config(caption, TINY_NUM_HIDDEN_STATES - 1, vocab_size)
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        transformer = transformer_checkpoint_state_dict(build_transformer(config))
        text_path = text_path_checkpoint_state_dict(build_text_path(config, TINY_NUM_HIDDEN_STATES))
        encoder, decoder = video_encoder_factory(config), video_decoder_factory(config)
        _randomize_statistics(encoder.per_channel_statistics)
        decoder.per_channel_statistics.load_state_dict(encoder.per_channel_statistics.state_dict())
        video_vae = {f"vae.encoder.{k}": v for k, v in encoder.state_dict().items() if "per_channel" not in k}
        video_vae.update(diffusion_decoder_checkpoint_state_dict(decoder))  # + vae.per_channel_statistics.*
        audio_encoder, audio_decoder = audio_encoder_from_config(config), audio_decoder_from_config(config)
        _randomize_statistics(audio_encoder.per_channel_statistics)
        audio_vae = audio_vae_checkpoint_state_dict(audio_encoder, audio_decoder)
        audio_vae.update(vocoder_checkpoint_state_dict(vocoder_from_config(config)))
        head = DurationHead(DurationHeadConfig.from_config(config))
        with torch.no_grad():
            for name, param in head.named_parameters():
                if name.endswith(("modality_emb", "query_tokens")):  # torch.empty in the module
                    param.normal_(0.0, 1.0)
        duration = {"duration_head." + k: v for k, v in head.state_dict().items()}
        torch.manual_seed(seed + 1)
        conv_config = {"vae": tiny_vae_config("ltx23")}
        conv_encoder, conv_decoder = video_encoder_factory(conv_config), video_decoder_factory(conv_config)
        _randomize_statistics(conv_encoder.per_channel_statistics)
        stats = conv_encoder.per_channel_statistics.state_dict()
        conv_vae = {f"encoder.{k}": v for k, v in conv_encoder.state_dict().items() if "per_channel" not in k}
        conv_vae.update({f"decoder.{k}": v for k, v in conv_decoder.state_dict().items() if "per_channel" not in k})
        conv_vae.update({f"per_channel_statistics.{k}": v for k, v in stats.items()})
        torch.manual_seed(seed + 2)
        lora = transformer_lora_state_dict(transformer, LORA_RANK)
        torch.manual_seed(seed + 3)
        upsampler, upsampler_meta = upsampler_file_contents(tiny_upsampler_config())
        torch.manual_seed(seed + 4)
        gemma = tiny_gemma4_weights(gemma_config)
    finally:
        torch.random.set_rng_state(state)

    def stored(tensors: Mapping[str, Any]) -> dict[str, Any]:
        return {k: _stored(v) for k, v in tensors.items()}

    transformer, text_path, video_vae = stored(transformer), stored(text_path), stored(video_vae)
    audio_vae, duration = stored(audio_vae), stored(duration)
    versioned = {"model_version": LTX25_MODEL_VERSION}
    source = {"gemma_source_checkpoint": json.dumps({"gemma_version": TINY_GEMMA4_VERSION})}
    (folder / "split").mkdir(parents=True, exist_ok=True)
    single = {**transformer, **text_path, **video_vae, **audio_vae, **duration}
    _save(folder / "distilled.safetensors", single, {"config": json.dumps(config), **versioned, **source})
    section = {"transformer": config["transformer"]}
    connectors = {k: v for k, v in text_path.items() if k.startswith(_TRANSFORMER_PREFIX)}
    split_transformer = {**transformer, **connectors}
    transformer_meta = {"config": json.dumps(section), **versioned, **source}
    _save(folder / SPLIT_FILES["transformer"], split_transformer, transformer_meta)
    packed: dict[str, Any] = {comfy_flat_name(k): v for k, v in gemma.items()}
    packed.update({k: v for k, v in text_path.items() if k.startswith(_PROJECTION_PREFIX)})
    packed["tokenizer_json"] = _byte_tensor(tokenizer_json)
    packed.update({f"hf_asset__{name}": _byte_tensor(data) for name, data in sidecars.items()})
    te_meta = {"format": "pt", "gemma_config": json.dumps(gemma_config), **versioned}
    _save(folder / SPLIT_FILES["text_encoder"], packed, te_meta)
    vae_meta = {"config": json.dumps({"vae": config["vae"]}), **versioned}
    _save(folder / SPLIT_FILES["video_vae"], video_vae, vae_meta)
    audio_meta = {"config": json.dumps({"audio_vae": config["audio_vae"], "vocoder": config["vocoder"]})}
    _save(folder / SPLIT_FILES["audio_vae"], audio_vae, audio_meta)
    widths = {k: config["transformer"][k] for k in ("cross_attention_dim", "audio_cross_attention_dim")}
    head_meta = {"config": json.dumps({"transformer": widths, "duration_head": config["duration_head"]})}
    _save(folder / SPLIT_FILES["duration_head"], duration, head_meta)
    _save(folder / "video_vae_conv.safetensors", stored(conv_vae), {"config": json.dumps(conv_config)})
    _save(folder / "distilled_lora.safetensors", lora, {"format": "pt"})
    _save(folder / "spatial_upsampler_x2.safetensors", upsampler, upsampler_meta)
    _write_gemma4_root(folder, gemma_config, gemma, tokenizer_json, sidecars)


def _write_gemma4_root(
    folder: Path, config: dict[str, Any], weights: Mapping[str, Any], tokenizer_json: bytes, sidecars: dict[str, bytes]
) -> None:
    """The Gemma-4 unified folder (config.json, tokenizer.json, sidecars, model.safetensors), written beside and
    renamed into place."""
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


def ltx25_set_complete(folder: str | Path) -> bool:
    """True when `folder` holds every file of the tiny LTX-2.5 set."""
    f = Path(folder)
    return (
        all((f / name).is_file() for name in FILES_25 if name != "gemma")
        and (f / "gemma" / "model.safetensors").is_file()
    )
