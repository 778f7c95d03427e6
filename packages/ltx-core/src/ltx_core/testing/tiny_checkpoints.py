"""Tiny random-weight checkpoints in the official single-file layout, and the real configurations.

The tiny files go through exactly the loaders and code paths a real 19B / 22B checkpoint takes; only the sizes
differ. Latent widths are the real ones (128 video channels, 8 x 16 audio) so that every pipeline runs unchanged.
`make_tiny_checkpoints(out)` writes, per version (`ltx2/`, `ltx23/`; `ltx25/` on request: its own file list, see
its section at the end of this module; the Gemma-4 folder from `tiny_gemma4`):

    dev.safetensors, distilled.safetensors   full single-file checkpoints (transformer, text connectors and
                                             projection, video VAE, audio VAE, vocoder) with official metadata
    distilled_lora.safetensors               LoRA for every Linear in the transformer blocks
    ic_lora.safetensors                      the same layout plus the IC-LoRA metadata (reference_downscale_factor)
    spatial_upsampler_x2.safetensors         latent upsampler with its flat config
    gemma/                                   a tiny Gemma 3 root folder (config, tokenizer, safetensors shards)
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
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

VERSIONS = ("ltx2", "ltx23")  # what `make_tiny_checkpoints` writes by default (and the test session's `tiny_sets`)
WRITABLE_VERSIONS = (*VERSIONS, "ltx25")  # ltx25: the LTX-2.5 set (single file + split files, below)


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


# --- the writer ---------------------------------------------------------------------------------------------------

LORA_RANK = 4
IC_LORA_DOWNSCALE_FACTOR = 2
LTX23_MODEL_VERSION = "2.3.0"
FILES = (
    "dev.safetensors",
    "distilled.safetensors",
    "distilled_lora.safetensors",
    "ic_lora.safetensors",
    "spatial_upsampler_x2.safetensors",
    "gemma",
)


def make_tiny_checkpoints(
    out_dir: str | Path, versions: Sequence[str] = VERSIONS, seed: int = 0, *, overwrite: bool = False
) -> dict[str, Path]:
    """Write the tiny checkpoint set of each version into `out_dir/<version>/`; returns {version: folder}.

    Deterministic for a given seed (the global RNG state is saved and restored). Every file is written to a
    temporary name first, so an interrupted run never leaves a truncated checkpoint that a later run would reuse;
    a folder that already holds the complete set is kept unless `overwrite`.
    """
    out = Path(out_dir)
    folders = {}
    for version in versions:
        if version not in WRITABLE_VERSIONS:
            raise ValueError(f"unknown version {version!r}; choose from {WRITABLE_VERSIONS}")
        folder = out / version
        folders[version] = folder
        version_seed = seed + 1000 * WRITABLE_VERSIONS.index(version)  # same weights however asked
        if version == "ltx25":
            _write_ltx25(folder, version_seed, overwrite)
            continue
        if not overwrite and tiny_set_complete(folder):
            continue
        folder.mkdir(parents=True, exist_ok=True)
        _write_version(folder, version, version_seed)
    return folders


def _write_ltx25(folder: Path, seed: int, overwrite: bool) -> None:
    if overwrite or not ltx25_set_complete(folder):
        folder.mkdir(parents=True, exist_ok=True)
        write_ltx25_set(folder, seed)


def tiny_set_complete(folder: str | Path) -> bool:
    """True when `folder` holds every file of a tiny set (the Gemma root counts when its index is written)."""
    f = Path(folder)
    return (
        all((f / name).is_file() for name in FILES if name != "gemma")
        and (f / "gemma" / "model.safetensors.index.json").is_file()
    )


def _write_version(folder: Path, version: str, seed: int) -> None:
    import torch

    from ltx_core.testing.tiny_gemma import make_tiny_gemma_root

    config = tiny_config(version)
    metadata = {"config": json.dumps(config)}
    if version == "ltx23":
        metadata["model_version"] = LTX23_MODEL_VERSION
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        dev = full_checkpoint_state_dict(config)
        torch.manual_seed(seed + 1)
        distilled = full_checkpoint_state_dict(config)
        torch.manual_seed(seed + 2)
        lora = transformer_lora_state_dict(dev, LORA_RANK)
        torch.manual_seed(seed + 3)
        ic_lora = transformer_lora_state_dict(dev, LORA_RANK)
        torch.manual_seed(seed + 4)
        upsampler, upsampler_meta = upsampler_file_contents(tiny_upsampler_config())
    finally:
        torch.random.set_rng_state(state)
    _save(folder / "dev.safetensors", dev, metadata)
    _save(folder / "distilled.safetensors", distilled, metadata)
    _save(folder / "distilled_lora.safetensors", lora, {"format": "pt"})
    ic_meta = {"format": "pt", "reference_downscale_factor": str(IC_LORA_DOWNSCALE_FACTOR)}
    _save(folder / "ic_lora.safetensors", ic_lora, ic_meta)
    _save(folder / "spatial_upsampler_x2.safetensors", upsampler, upsampler_meta)
    gemma_tmp = folder / ".gemma.partial"
    shutil.rmtree(gemma_tmp, ignore_errors=True)
    layers = tiny_num_hidden_states(dev, config) - 1
    make_tiny_gemma_root(gemma_tmp, hidden_size=config["transformer"]["caption_channels"], num_layers=layers, seed=seed)
    shutil.rmtree(folder / "gemma", ignore_errors=True)
    os.replace(gemma_tmp, folder / "gemma")


def tiny_num_hidden_states(state: Mapping[str, Any], config: dict[str, Any]) -> int:
    """L (Gemma hidden states the text projection takes) from the projection weight's input width (README 3.3)."""
    key = next(
        k
        for k in (
            "text_embedding_projection.aggregate_embed.weight",
            "text_embedding_projection.video_aggregate_embed.weight",
        )
        if k in state
    )
    return int(state[key].shape[1]) // int(config["transformer"]["caption_channels"])


TINY_NUM_HIDDEN_STATES = 4  # embeddings + 3 Gemma layers, as the golden tiny checkpoints


def full_checkpoint_state_dict(config: dict[str, Any], num_hidden_states: int = TINY_NUM_HIDDEN_STATES) -> dict:
    """Random-init every component of a single-file checkpoint for `config`, under the official keys, in bf16."""
    import torch

    from ltx_core.model.audio_vae.loading import (
        audio_decoder_from_config,
        audio_encoder_from_config,
        audio_vae_checkpoint_state_dict,
        vocoder_checkpoint_state_dict,
        vocoder_from_config,
    )
    from ltx_core.model.transformer import build_transformer, transformer_checkpoint_state_dict
    from ltx_core.model.video_vae import (
        video_decoder_factory,
        video_encoder_factory,
        video_vae_checkpoint_state_dict,
    )
    from ltx_core.text_encoders.gemma import build_text_path, text_path_checkpoint_state_dict

    state: dict[str, torch.Tensor] = {}
    state.update(transformer_checkpoint_state_dict(build_transformer(config)))
    state.update(text_path_checkpoint_state_dict(build_text_path(config, num_hidden_states)))
    encoder, decoder = video_encoder_factory(config), video_decoder_factory(config)
    _randomize_statistics(encoder.per_channel_statistics)
    decoder.per_channel_statistics.load_state_dict(encoder.per_channel_statistics.state_dict())
    state.update(video_vae_checkpoint_state_dict(encoder, decoder, with_unused_statistics=True))
    audio_encoder, audio_decoder = audio_encoder_from_config(config), audio_decoder_from_config(config)
    _randomize_statistics(audio_encoder.per_channel_statistics)
    state.update(audio_vae_checkpoint_state_dict(audio_encoder, audio_decoder))
    state.update(vocoder_checkpoint_state_dict(vocoder_from_config(config)))
    return {k: _stored(v) for k, v in state.items()}


def _randomize_statistics(stats: Any) -> None:
    """Plausible latent statistics (std in [0.5, 1.5], mean in [-0.2, 0.2]) instead of the init's ones/zeros."""
    import torch

    with torch.no_grad():
        for name, buffer in stats.named_buffers():
            if "std" in name:
                buffer.copy_(0.5 + torch.rand_like(buffer))
            elif "mean" in name:
                buffer.copy_(0.4 * torch.rand_like(buffer) - 0.2)


def transformer_lora_state_dict(checkpoint_state: Mapping[str, Any], rank: int) -> dict:
    """A rank-`rank` LoRA for every Linear weight of the transformer blocks (official trainer key layout)."""
    import torch

    prefix = "model.diffusion_model."
    out = {}
    for key in sorted(checkpoint_state):
        tensor = checkpoint_state[key]
        if not (key.startswith(prefix + "transformer_blocks.") and key.endswith(".weight") and tensor.dim() == 2):
            continue
        stem = "diffusion_model." + key[len(prefix) : -len(".weight")]
        fan_out, fan_in = tensor.shape
        out[stem + ".lora_A.weight"] = (torch.randn(rank, fan_in) / fan_in**0.5).to(torch.bfloat16)
        out[stem + ".lora_B.weight"] = (0.02 * torch.randn(fan_out, rank)).to(torch.bfloat16)
    return out


def upsampler_file_contents(config: dict[str, Any]) -> tuple[dict, dict[str, str]]:
    from ltx_core.model.upsampler import upsampler_checkpoint_state_dict, upsampler_factory, upsampler_metadata

    model = upsampler_factory(config)
    return {k: _stored(v) for k, v in upsampler_checkpoint_state_dict(model).items()}, upsampler_metadata(model)


def _stored(tensor: Any) -> Any:
    """Released files are bf16: floating tensors are rounded to bf16, others kept."""
    import torch

    t = tensor.detach().contiguous()
    return t.to(torch.bfloat16) if t.is_floating_point() else t.clone()


def _save(path: Path, tensors: Mapping[str, Any], metadata: dict[str, str]) -> None:
    from safetensors.torch import save_file

    tmp = path.with_name(f".{path.name}.partial")
    save_file(dict(tensors), str(tmp), metadata=metadata)
    os.chmod(tmp, 0o644)  # readable like any downloaded checkpoint (the writer may create it private)
    os.replace(tmp, path)


# --- LTX-2.5 diffusion video decoder (spec diffusion_video_decoder.md) ------------------------------------------
# Kept apart from the sets above: any tiny checkpoint's video VAE can be swapped for a `CausalDiffusionVAE` (a nested
# conv encoder, the diffusion decoder in the released layout: fused qkv, `t_embedder.mlp.{0,2}`, per-block gates).

TINY_DIFFUSION_DECODER: dict[str, Any] = {  # the decoder sizes of the official tiny LTX-2.5 files
    "in_channels": 128,
    "out_channels": 3,
    "patch_size": 4,
    "head_dim": 16,
    "t_emb_dim": 32,
    "stage_channels": [128, 64, 32, 32, 16],
    "stage_depths": [1, 1, 1, 1, 2],
    "stage_kernels": [[3, 3, 3]] * 5,
    "upsamples": [[[1, 2, 2], 2], [[2, 1, 1], 2], [[2, 2, 2], 1], [[2, 2, 2], 2]],
    "stage5_kernel": [3, 5, 5],
    "stage5_channels": 32,
    "default_num_inference_steps": 2,
    "timestep_scale_multiplier": 1.0,
}


def tiny_diffusion_vae_config(model_output_type: str = "v", steps: int = 2) -> dict[str, Any]:
    """A `vae` config section naming the diffusion decoder: the tiny LTX-2.3 conv encoder nested in `encoder` (its
    `blocks`, `out_channels` = the latent width), the tiny diffusion decoder in `decoder`."""
    conv = tiny_vae_config("ltx23")
    encoder = {k: conv[k] for k in ("in_channels", "patch_size", "dims", "norm_layer", "latent_log_var")}
    encoder.update(out_channels=conv["latent_channels"], spatial_padding_mode="zeros", blocks=conv["encoder_blocks"])
    decoder = {**copy.deepcopy(TINY_DIFFUSION_DECODER), "default_num_inference_steps": steps}
    return {
        "_class_name": "CausalDiffusionVAE",
        "latent_channels": conv["latent_channels"],
        "model_output_type": model_output_type,
        "encoder": encoder,
        "decoder": decoder,
    }


def diffusion_video_vae_state_dict(config: dict[str, Any]) -> dict:
    """Random `vae.*` tensors for a config whose VAE is a `CausalDiffusionVAE`, in the released layout (the
    decoder's static gates stored beside the weights they fold into), bf16."""
    import torch

    from ltx_core.model.video_vae import DiffusionVideoDecoder, video_decoder_factory, video_encoder_factory
    from ltx_core.model.video_vae.diffusion.loading import diffusion_decoder_checkpoint_state_dict

    encoder, decoder = video_encoder_factory(config), video_decoder_factory(config)
    if not isinstance(decoder, DiffusionVideoDecoder):
        raise ValueError("the config's vae section does not name the diffusion decoder")
    _randomize_statistics(encoder.per_channel_statistics)
    decoder.per_channel_statistics.load_state_dict(encoder.per_channel_statistics.state_dict())
    c5 = decoder.config.diffusion_channels
    with torch.no_grad():
        for block in decoder.diff_blocks:
            block.scale_shift_table.normal_(0.0, 0.1)
    gates = {
        f"diff_blocks.{n}.{gate}": 0.5 + torch.rand(c5)
        for n in range(decoder.config.diffusion_depth)
        for gate in ("gate_msa", "gate_mlp", "gate_ctx")
    }
    state = {f"vae.encoder.{k}": v for k, v in encoder.state_dict().items() if not k.startswith("per_channel")}
    state.update(diffusion_decoder_checkpoint_state_dict(decoder, gates))
    for name in ("channel", "mean-of-stds", "mean-of-stds_over_std-of-means"):  # rows released files carry
        state[f"vae.per_channel_statistics.{name}"] = torch.rand(decoder.config.latent_channels)
    return {k: _stored(v) for k, v in state.items()}


def with_diffusion_video_vae(
    config: dict[str, Any], state: Mapping[str, Any], seed: int = 0, **vae: Any
) -> tuple[dict[str, Any], dict]:
    """A checkpoint's (config, tensors) with its video VAE replaced by a tiny `CausalDiffusionVAE` (`vae`: the
    arguments of `tiny_diffusion_vae_config`), deterministic for `seed`."""
    import torch

    config = {**copy.deepcopy(config), "vae": tiny_diffusion_vae_config(**vae)}
    rng = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        replaced = diffusion_video_vae_state_dict(config)
    finally:
        torch.random.set_rng_state(rng)
    kept = {k: v for k, v in state.items() if not k.startswith("vae.")}
    return config, {**kept, **replaced}


def write_diffusion_vae_checkpoint(source: str | Path, out: str | Path, seed: int = 0, **vae: Any) -> Path:
    """A copy of the single-file checkpoint `source` whose video VAE is a tiny `CausalDiffusionVAE` (written
    atomically; its other metadata kept), so every pipeline and the CLI decode through the diffusion decoder."""
    from ltx_core.loader import open_checkpoint

    ckpt = open_checkpoint(source)
    state = {key: tensor for key, tensor in ckpt.iter_tensors(list(ckpt.keys()), device="cpu")}
    config, state = with_diffusion_video_vae(ckpt.config, state, seed, **vae)
    metadata = {k: v for k, v in ckpt.metadata.items() if k != "config"}
    metadata["config"] = json.dumps(config)
    out = Path(out)
    _save(out, state, metadata)
    return out


# --- the tiny LTX-2.5 set (version "ltx25": single file + split files) ---------------------------------------------
# A distilled single file and the same weights as split files, a tiny Gemma-4 unified text
# encoder (folder and packed file), a conv-decoder video VAE, an x2 upsampler and a distilled LoRA.
#
# Written by `make_tiny_checkpoints(out, ["ltx25"])` into `out/ltx25/` (`FILES_25`):
#
#     distilled.safetensors          the single file: 2.5 transformer (ff_bias false, keyframe embedding on; the audio
#                                    FFN / prompt AdaLN / connector FFN biases left at their default, true: the flag
#                                    set of the golden T2A file), text connectors and projection, diffusion video VAE,
#                                    audio VAE + BWE vocoder, duration head; metadata `config`, `model_version`
#                                    "2.5.0", `gemma_source_checkpoint`
#     split/transformer.safetensors  `model.diffusion_model.*` (connectors included); `config.transformer`,
#                                    `model_version`, `gemma_source_checkpoint` (delta E.2)
#     split/text_encoder.safetensors the packed Gemma-4 text encoder (Comfy-flat weight names, `gemma_config`,
#                                    `tokenizer_json`, `hf_asset__*`) with the LTX `text_embedding_projection.*`
#     split/video_vae.safetensors    `vae.*` (the diffusion decoder); `config.vae`, `model_version`
#     split/audio_vae.safetensors    `audio_vae.*` + `vocoder.*`; `config.audio_vae`, `config.vocoder`
#     split/duration_head.safetensors `duration_head.*`; `config.transformer` (the two context widths) and
#                                    `config.duration_head`
#     video_vae_conv.safetensors     a conv-decoder video VAE stored with bare keys (`encoder.*`, `decoder.*`,
#                                    `per_channel_statistics.*`) and no `model_version` (delta E.2's UNSURE case)
#     spatial_upsampler_x2.safetensors, distilled_lora.safetensors
#     (+ what DFR and text to audio add beside it: `tiny_extras.write_ltx25_extras`)
#     gemma/                         the tiny Gemma-4 unified folder (HF layout `model.language_model.*`)
#
# Every split file holds exactly the single file's tensors of its slot, so a run from the split files is bitwise the
# run from the single file.

LTX25_MODEL_VERSION = "2.5.0"
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
    return {**tiny_transformer_config("ltx23"), "ff_bias": False, "use_keyframes_abs_pos_embedding": True}


def tiny_duration_head_config() -> dict[str, Any]:
    return {"pooler_hidden_dim": 16, "num_queries": 1, "num_pooler_heads": 2, "mlp_hidden": 16}


def tiny_config_25() -> dict[str, Any]:
    """The full metadata `config` of the tiny LTX-2.5 single file."""
    return {
        "transformer": tiny_transformer_config_25(),
        "vae": tiny_diffusion_vae_config(),
        "audio_vae": tiny_audio_vae_config(),
        "vocoder": tiny_vocoder_config("ltx23"),
        "duration_head": tiny_duration_head_config(),
    }


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
    from ltx_core.testing.tiny_gemma4 import (
        TINY_GEMMA4_VERSION,
        byte_tensor,
        comfy_flat_name,
        gemma4_sidecars,
        tiny_gemma4_config,
        tiny_gemma4_weights,
        write_gemma4_root,
    )
    from ltx_core.text_encoders.gemma import build_text_path, text_path_checkpoint_state_dict

    config = tiny_config_25()
    sidecars = gemma4_sidecars()
    vocab_size = int(sidecars.pop("vocab_size"))
    tokenizer_json = sidecars.pop("tokenizer.json")
    caption = config["transformer"]["caption_channels"]
    gemma_config = tiny_gemma4_config(caption, TINY_NUM_HIDDEN_STATES - 1, vocab_size)
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        transformer = transformer_checkpoint_state_dict(build_transformer(config))
        text_path = text_path_checkpoint_state_dict(build_text_path(config, TINY_NUM_HIDDEN_STATES))
        video_vae = diffusion_video_vae_state_dict(config)  # the released layout: fused qkv, gates
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
    packed["tokenizer_json"] = byte_tensor(tokenizer_json)
    packed.update({f"hf_asset__{name}": byte_tensor(data) for name, data in sidecars.items()})
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
    write_gemma4_root(folder, gemma_config, gemma, tokenizer_json, sidecars)


def ltx25_set_complete(folder: str | Path) -> bool:
    """True when `folder` holds every file of the tiny LTX-2.5 set."""
    f = Path(folder)
    return (
        all((f / name).is_file() for name in FILES_25 if name != "gemma")
        and (f / "gemma" / "model.safetensors").is_file()
    )
