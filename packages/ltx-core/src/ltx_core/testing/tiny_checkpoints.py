"""Tiny random-weight checkpoints in the official single-file layout, and the real configurations.

The tiny files go through exactly the loaders and code paths a real 19B / 22B checkpoint takes; only the sizes
differ. Latent widths are the real ones (128 video channels, 8 x 16 audio) so that every pipeline runs unchanged.
`make_tiny_checkpoints(out)` writes, per version (`ltx2/`, `ltx23/`):

    dev.safetensors, distilled.safetensors   full single-file checkpoints (transformer, text connectors and
                                             projection, video VAE, audio VAE, vocoder) with official metadata
    distilled_lora.safetensors               LoRA for every Linear in the transformer blocks
    ic_lora.safetensors                      the same layout plus the IC-LoRA metadata (reference_downscale_factor)
    spatial_upsampler_x2.safetensors         latent upsampler with its flat config
    gemma/                                   a tiny Gemma 3 root folder (config, tokenizer, safetensors shards)
"""

from __future__ import annotations

import copy
from typing import Any

# Values every official transformer config carries (checked by the configurator).
_FIXED_TRANSFORMER: dict[str, Any] = {
    "dropout": 0.0,
    "attention_bias": True,
    "num_vector_embeds": None,
    "activation_fn": "gelu-approximate",
    "num_embeds_ada_norm": 1000,
    "use_linear_projection": False,
    "only_cross_attention": False,
    "cross_attention_norm": True,
    "double_self_attention": False,
    "upcast_attention": False,
    "standardization_norm": "rms_norm",
    "norm_elementwise_affine": False,
    "qk_norm": "rms_norm",
    "positional_embedding_type": "rope",
    "use_audio_video_cross_attention": True,
    "share_ff": False,
    "av_cross_ada_norm": True,
    "use_middle_indices_grid": True,
}

_SHARED_TRANSFORMER: dict[str, Any] = {
    "in_channels": 128,
    "out_channels": 128,
    "audio_in_channels": 128,
    "audio_out_channels": 128,
    "norm_eps": 1e-06,
    "attention_type": "default",
    "positional_embedding_theta": 10000.0,
    "positional_embedding_max_pos": [20, 2048, 2048],
    "audio_positional_embedding_max_pos": [20],
    "timestep_scale_multiplier": 1000,
    "av_ca_timestep_scale_multiplier": 1000.0,
    "rope_type": "split",
    "frequencies_precision": "float64",
    "connector_positional_embedding_max_pos": [4096],
    "causal_temporal_positioning": False,
    "use_embeddings_connector": True,
}

_LTX23_FLAGS: dict[str, Any] = {
    "apply_gated_attention": True,
    "cross_attention_adaln": True,
    "caption_proj_before_connector": True,
    "caption_projection_first_linear": False,
    "caption_proj_input_norm": False,
    "caption_projection_second_linear": False,
    "connector_apply_gated_attention": True,
    "text_encoder_norm_type": "per_token_rms",
}

VERSIONS = ("ltx2", "ltx23")


def real_transformer_config(version: str, num_layers: int = 48) -> dict[str, Any]:
    """The published 19B (`ltx2`) / 22B (`ltx23`) transformer section, optionally with fewer blocks."""
    cfg = {
        **_FIXED_TRANSFORMER,
        **_SHARED_TRANSFORMER,
        "num_layers": num_layers,
        "num_attention_heads": 32,
        "attention_head_dim": 128,
        "cross_attention_dim": 4096,
        "audio_num_attention_heads": 32,
        "audio_attention_head_dim": 64,
        "audio_cross_attention_dim": 2048,
        "caption_channels": 3840,
    }
    if version == "ltx2":
        cfg |= {"connector_num_layers": 2, "connector_num_attention_heads": 30, "connector_attention_head_dim": 128}
    else:
        cfg |= _LTX23_FLAGS | {
            "connector_num_layers": 8,
            "connector_num_attention_heads": 32,
            "connector_attention_head_dim": 128,
            "audio_connector_num_attention_heads": 32,
            "audio_connector_attention_head_dim": 64,
        }
    return cfg


def tiny_transformer_config(version: str) -> dict[str, Any]:
    cfg = {
        **_FIXED_TRANSFORMER,
        **_SHARED_TRANSFORMER,
        "num_layers": 2,
        "num_attention_heads": 2,
        "attention_head_dim": 16,
        "cross_attention_dim": 32,
        "audio_num_attention_heads": 2,
        "audio_attention_head_dim": 8,
        "audio_cross_attention_dim": 16,
        "caption_channels": 24,
        "connector_num_layers": 2,
        "connector_num_attention_heads": 2,
    }
    if version == "ltx2":
        cfg["connector_attention_head_dim"] = 12
    else:
        cfg |= _LTX23_FLAGS | {
            "connector_attention_head_dim": 16,
            "audio_connector_num_attention_heads": 2,
            "audio_connector_attention_head_dim": 8,
        }
    return cfg


def tiny_vae_config(version: str) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "dims": 3,
        "in_channels": 3,
        "out_channels": 3,
        "latent_channels": 128,
        "encoder_blocks": [["compress_all_res", {"multiplier": 1}]] * 3,
        "patch_size": 4,
        "norm_layer": "pixel_norm",
        "latent_log_var": "uniform",
        "causal_decoder": False,
        "timestep_conditioning": False,
        "decoder_base_channels": 4,
    }
    if version == "ltx2":
        res = ["res_x", {"num_layers": 1, "inject_noise": False}]
        up = ["compress_all", {"residual": True, "multiplier": 2}]
        cfg["decoder_blocks"] = [res, up, res, up, res, up, res]
    else:
        res = ["res_x", {"num_layers": 1}]
        cfg["decoder_blocks"] = [
            res,
            ["compress_space", {"multiplier": 2}],
            res,
            ["compress_time", {"multiplier": 2}],
            res,
            ["compress_all", {"multiplier": 1}],
            res,
            ["compress_all", {"multiplier": 2}],
            res,
        ]
        cfg["spatial_padding_mode"] = "zeros"
    return copy.deepcopy(cfg)


def tiny_audio_vae_config() -> dict[str, Any]:
    return {
        "model": {
            "params": {
                "ddconfig": {
                    "ch": 128,
                    "ch_mult": [1, 1, 1],
                    "num_res_blocks": 0,
                    "attn_resolutions": [],
                    "resolution": 256,
                    "z_channels": 8,
                    "double_z": True,
                    "in_channels": 2,
                    "out_ch": 2,
                    "dropout": 0.0,
                    "mid_block_add_attention": False,
                    "norm_type": "pixel",
                    "causality_axis": "height",
                    "downsample_time": False,
                },
                "sampling_rate": 16000,
            }
        },
        "preprocessing": {
            "audio": {"sampling_rate": 16000},
            "stft": {"filter_length": 1024, "hop_length": 160, "win_length": 1024, "causal": True},
            "mel": {"n_mel_channels": 64, "mel_fmin": 0, "mel_fmax": 8000},
        },
        "variables": {"mel_bins": 64},
    }


def tiny_vocoder_config(version: str) -> dict[str, Any]:
    if version == "ltx2":
        return {
            "upsample_initial_channel": 32,
            "upsample_rates": [6, 5, 2, 2, 2],
            "upsample_kernel_sizes": [16, 15, 8, 4, 4],
            "resblock_kernel_sizes": [3, 5],
            "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5]],
            "resblock": "1",
            "stereo": True,
            "output_sampling_rate": 24000,
        }
    amp = {
        "resblock_kernel_sizes": [3, 5],
        "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5]],
        "resblock": "AMP1",
        "stereo": True,
        "activation": "snakebeta",
        "use_tanh_at_final": False,
        "use_bias_at_final": False,
    }
    return {
        "vocoder": {
            "upsample_initial_channel": 32,
            "upsample_rates": [5, 4, 4, 2],
            "upsample_kernel_sizes": [11, 8, 8, 4],
            **amp,
        },
        "bwe": {
            "upsample_initial_channel": 32,
            "upsample_rates": [6, 5, 2, 2, 2],
            "upsample_kernel_sizes": [12, 11, 4, 4, 4],
            **amp,
            "input_sampling_rate": 16000,
            "output_sampling_rate": 48000,
            "hop_length": 80,
            "n_fft": 256,
            "win_size": 256,
            "num_mels": 64,
        },
    }


def tiny_config(version: str) -> dict[str, Any]:
    """The full metadata `config` of a tiny single-file checkpoint."""
    if version not in VERSIONS:
        raise ValueError(f"unknown version {version!r}; choose from {VERSIONS}")
    return {
        "transformer": tiny_transformer_config(version),
        "vae": tiny_vae_config(version),
        "audio_vae": tiny_audio_vae_config(),
        "vocoder": tiny_vocoder_config(version),
    }


def tiny_upsampler_config() -> dict[str, Any]:
    return {
        "in_channels": 128,
        "mid_channels": 32,
        "num_blocks_per_stage": 1,
        "dims": 3,
        "spatial_upsample": True,
        "temporal_upsample": False,
        "spatial_scale": 2.0,
        "rational_resampler": False,
        "_class_name": "LatentUpsampler",
    }
