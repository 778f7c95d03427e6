"""The released LTX-2 (19B) / LTX-2.3 (22B) configurations, and random-weight checkpoints of that size.

For benchmarks and memory tests that need real shapes but not real weights. `write_random_checkpoint` streams the
file tensor by tensor (in row chunks for the big ones): the shapes come from modules built on the meta device, so
no component is ever materialised and peak RAM stays at one chunk, whatever the model size.

The VAE / audio VAE / vocoder / upsampler sections follow the spec's "effective configuration of the released
checkpoints" (video_vae_and_upsampler.md 1.3 and 6.1, audio_vae_and_vocoder.md 2); the literal released headers may
carry extra keys the loaders ignore.
"""

from __future__ import annotations

import copy
import json
import struct
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ltx_core.testing.safetensors_writer import write_streamed_safetensors
from ltx_core.testing.tiny_checkpoints import (
    LTX23_MODEL_VERSION,
    VERSIONS,
    real_transformer_config,
    tiny_audio_vae_config,
)

GEMMA_HIDDEN_STATES = 49  # Gemma 3 12B: the embeddings + 48 layers feed the text projection (spec A.6)
TEXT_SEQUENCE_LENGTH = 1024  # the pipelines tokenize every prompt to this length (spec A.4)
_CHUNK_ELEMENTS = 1 << 24  # random values are drawn and written in pieces of about this many elements


def _check_version(version: str) -> None:
    if version not in VERSIONS:
        raise ValueError(f"unknown version {version!r}; choose from {VERSIONS}")


def real_vae_config(version: str) -> dict[str, Any]:
    """The released video VAE section. LTX-2 has no `spatial_padding_mode` key (encoder zeros, decoder reflect)."""
    _check_version(version)
    cfg: dict[str, Any] = {
        "dims": 3,
        "in_channels": 3,
        "out_channels": 3,
        "latent_channels": 128,
        "patch_size": 4,
        "norm_layer": "pixel_norm",
        "latent_log_var": "uniform",
        "causal_decoder": False,
        "timestep_conditioning": False,
        "decoder_base_channels": 128,
    }
    if version == "ltx2":
        cfg["encoder_blocks"] = [
            ["res_x", {"num_layers": 4}],
            ["compress_space_res", {"multiplier": 2}],
            ["res_x", {"num_layers": 6}],
            ["compress_time_res", {"multiplier": 2}],
            ["res_x", {"num_layers": 6}],
            ["compress_all_res", {"multiplier": 2}],
            ["res_x", {"num_layers": 2}],
            ["compress_all_res", {"multiplier": 2}],
            ["res_x", {"num_layers": 2}],
        ]
        res = ["res_x", {"num_layers": 5, "inject_noise": False}]
        up = ["compress_all", {"residual": True, "multiplier": 2}]
        cfg["decoder_blocks"] = [res, up, res, up, res, up, res]
    else:
        cfg["encoder_blocks"] = [
            ["res_x", {"num_layers": 4}],
            ["compress_space_res", {"multiplier": 2}],
            ["res_x", {"num_layers": 6}],
            ["compress_time_res", {"multiplier": 2}],
            ["res_x", {"num_layers": 4}],
            ["compress_all_res", {"multiplier": 2}],
            ["res_x", {"num_layers": 2}],
            ["compress_all_res", {"multiplier": 1}],
            ["res_x", {"num_layers": 2}],
        ]
        cfg["decoder_blocks"] = [
            ["res_x", {"num_layers": 4}],
            ["compress_space", {"multiplier": 2}],
            ["res_x", {"num_layers": 6}],
            ["compress_time", {"multiplier": 2}],
            ["res_x", {"num_layers": 4}],
            ["compress_all", {"multiplier": 1}],
            ["res_x", {"num_layers": 2}],
            ["compress_all", {"multiplier": 2}],
            ["res_x", {"num_layers": 2}],
        ]
        cfg["spatial_padding_mode"] = "zeros"
    return copy.deepcopy(cfg)


def real_audio_vae_config() -> dict[str, Any]:
    """The released audio VAE section (identical architecture in both releases). The tiny set uses the same section
    with a shallower encoder/decoder, so the real one is that section with the released depth."""
    cfg = tiny_audio_vae_config()
    cfg["model"]["params"]["ddconfig"] |= {"ch_mult": [1, 2, 4], "num_res_blocks": 2}
    return cfg


def real_vocoder_config(version: str) -> dict[str, Any]:
    """LTX-2: the flat HiFi-GAN-style section (24 kHz); LTX-2.3: BigVGAN-v2 generator + bandwidth extension."""
    _check_version(version)
    resblocks = {"resblock_kernel_sizes": [3, 7, 11], "resblock_dilation_sizes": [[1, 3, 5]] * 3, "stereo": True}
    if version == "ltx2":
        return {
            "upsample_initial_channel": 1024,
            "upsample_rates": [6, 5, 2, 2, 2],
            "upsample_kernel_sizes": [16, 15, 8, 4, 4],
            **resblocks,
            "resblock": "1",
            "output_sampling_rate": 24000,
        }
    amp = {
        **resblocks,
        "resblock": "AMP1",
        "activation": "snakebeta",
        "use_tanh_at_final": False,
        "use_bias_at_final": False,
    }
    return {
        "vocoder": {
            "upsample_initial_channel": 1536,
            "upsample_rates": [5, 2, 2, 2, 2, 2],
            "upsample_kernel_sizes": [11, 4, 4, 4, 4, 4],
            **amp,
        },
        "bwe": {
            "upsample_initial_channel": 512,
            "upsample_rates": [6, 5, 2, 2, 2],
            "upsample_kernel_sizes": [12, 11, 4, 4, 4],
            **amp,
            "input_sampling_rate": 16000,
            "output_sampling_rate": 48000,
            "hop_length": 80,
            "n_fft": 512,
            "win_size": 512,
            "num_mels": 64,
        },
    }


def real_config(version: str, num_layers: int = 48) -> dict[str, Any]:
    """The full metadata `config` of a released single-file checkpoint (optionally with fewer transformer blocks)."""
    _check_version(version)
    return {
        "transformer": real_transformer_config(version, num_layers=num_layers),
        "vae": real_vae_config(version),
        "audio_vae": real_audio_vae_config(),
        "vocoder": real_vocoder_config(version),
    }


def real_upsampler_config(version: str) -> dict[str, Any]:
    """The x2 spatial latent upsampler (`ltx-2-spatial-upscaler-x2-1.0` / `ltx-2.3-spatial-upscaler-x2-1.1`).

    For 2.3 the plain (non-rational) x2 variant is used: reports differ on how the file stores it, and both
    variants compute the same function with the same weight count."""
    _check_version(version)
    return {
        "in_channels": 128,
        "mid_channels": 1024,
        "num_blocks_per_stage": 4,
        "dims": 3,
        "spatial_upsample": True,
        "temporal_upsample": False,
        "spatial_scale": 2.0,
        "rational_resampler": False,
        "_class_name": "LatentUpsampler",
    }


def real_metadata(version: str, config: Mapping[str, Any]) -> dict[str, str]:
    """Safetensors metadata of a single-file checkpoint (`config` JSON, and `model_version` for 2.3)."""
    _check_version(version)
    meta = {"config": json.dumps(config)}
    if version == "ltx23":
        meta["model_version"] = LTX23_MODEL_VERSION
    return meta


# --- tensor layouts from meta-device modules ---------------------------------------------------------------------


@dataclass(frozen=True)
class TensorSpec:
    shape: tuple[int, ...]
    dtype: torch.dtype

    @property
    def numel(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n


def _specs(state: Mapping[str, torch.Tensor]) -> dict[str, TensorSpec]:
    return {k: TensorSpec(tuple(v.shape), v.dtype) for k, v in state.items()}


def checkpoint_tensor_specs(
    config: dict[str, Any], num_hidden_states: int = GEMMA_HIDDEN_STATES
) -> dict[str, TensorSpec]:
    """Official key → shape/dtype of every tensor of a single-file checkpoint for `config` (built on meta)."""
    from ltx_core.model.audio_vae.loading import (
        audio_decoder_from_config,
        audio_encoder_from_config,
        audio_vae_checkpoint_state_dict,
        vocoder_checkpoint_state_dict,
        vocoder_from_config,
    )
    from ltx_core.model.transformer import build_transformer, transformer_checkpoint_state_dict
    from ltx_core.model.video_vae import video_decoder_factory, video_encoder_factory
    from ltx_core.text_encoders.gemma import build_text_path, text_path_checkpoint_state_dict

    specs: dict[str, TensorSpec] = {}
    with torch.device("meta"):
        specs.update(_specs(transformer_checkpoint_state_dict(build_transformer(config))))
        specs.update(_specs(text_path_checkpoint_state_dict(build_text_path(config, num_hidden_states))))
        specs.update(_video_vae_specs(video_encoder_factory(config), video_decoder_factory(config)))
        audio_state = audio_vae_checkpoint_state_dict(
            audio_encoder_from_config(config), audio_decoder_from_config(config)
        )
        specs.update(_specs(audio_state))
        specs.update(_specs(vocoder_checkpoint_state_dict(vocoder_from_config(config))))
    return specs


def _video_vae_specs(encoder: torch.nn.Module, decoder: torch.nn.Module) -> dict[str, TensorSpec]:
    """The layout `video_vae_checkpoint_state_dict` writes (that function compares values, which meta cannot)."""
    stats_prefix = "vae.per_channel_statistics."
    out: dict[str, TensorSpec] = {}
    for side, module in (("encoder", encoder), ("decoder", decoder)):
        for k, v in module.state_dict().items():
            if k.startswith("per_channel_statistics."):
                out[stats_prefix + k[len("per_channel_statistics.") :]] = TensorSpec(tuple(v.shape), v.dtype)
            else:
                out[f"vae.{side}.{k}"] = TensorSpec(tuple(v.shape), v.dtype)
    std = out[stats_prefix + "std-of-means"]
    for name in ("channel", "mean-of-stds", "mean-of-stds_over_std-of-means"):
        out[stats_prefix + name] = std
    return out


def upsampler_tensor_specs(config: dict[str, Any]) -> dict[str, TensorSpec]:
    from ltx_core.model.upsampler import upsampler_checkpoint_state_dict, upsampler_factory

    with torch.device("meta"):
        return _specs(upsampler_checkpoint_state_dict(upsampler_factory(config)))


# --- the writer -----------------------------------------------------------------------------------------------------


def write_random_checkpoint(
    path: str | Path,
    config: dict[str, Any],
    *,
    dtype: torch.dtype = torch.bfloat16,
    layers: int | None = None,
    seed: int = 0,
    num_hidden_states: int = GEMMA_HIDDEN_STATES,
    version: str | None = None,
    device: torch.device | str = "cpu",
) -> int:
    """Write a single-file checkpoint for `config` (`layers` overrides the transformer depth) with random weights
    in `dtype`; returns the bytes of tensor data. `version` adds the release's `model_version` metadata (detected
    from the config when None). `device` is where values are drawn (a GPU draws them much faster)."""
    config = copy.deepcopy(config)
    if layers is not None:
        config["transformer"]["num_layers"] = int(layers)
    if version is None:
        version = "ltx23" if config["transformer"].get("caption_proj_before_connector") else "ltx2"
    specs = checkpoint_tensor_specs(config, num_hidden_states)
    return write_random_safetensors(path, specs, real_metadata(version, config), dtype=dtype, seed=seed, device=device)


def write_random_upsampler(
    path: str | Path,
    config: dict[str, Any],
    *,
    dtype: torch.dtype = torch.bfloat16,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> int:
    """A latent-upsampler file (flat `config` metadata) with random weights; returns the bytes of tensor data."""
    from ltx_core.model.upsampler import upsampler_factory, upsampler_metadata

    with torch.device("meta"):
        metadata = upsampler_metadata(upsampler_factory(config))
    return write_random_safetensors(
        path, upsampler_tensor_specs(config), metadata, dtype=dtype, seed=seed, device=device
    )


def write_random_safetensors(
    path: str | Path,
    specs: Mapping[str, TensorSpec],
    metadata: Mapping[str, str],
    *,
    dtype: torch.dtype = torch.bfloat16,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> int:
    """Stream a safetensors file: header from the specs, then each tensor's values drawn and written in chunks.

    Floating tensors are stored in `dtype`; a tensor's values depend only on (seed, key), not on the file's other
    contents. Written to a temporary name and renamed, so an interrupted run leaves no truncated file."""
    stored = {k: TensorSpec(s.shape, dtype if s.dtype.is_floating_point else s.dtype) for k, s in specs.items()}
    return write_streamed_safetensors(
        path,
        {k: (spec.dtype, tuple(spec.shape)) for k, spec in stored.items()},
        metadata,
        lambda key: random_tensor_chunks(key, stored[key], seed=seed, device=device),
    )


def _itemsize(dtype: torch.dtype) -> int:
    return torch.empty((), dtype=dtype).element_size()


def random_tensor_chunks(
    key: str, spec: TensorSpec, *, seed: int = 0, device: torch.device | str = "cpu"
) -> Iterator[torch.Tensor]:
    """Plausible random values for the tensor `key`, as consecutive row blocks (flattened order) in `spec.dtype`.

    Matrices and kernels: normal with std 1/sqrt(fan_in) (activations keep their scale through 48 blocks); norm
    weights 1, other vectors 0; latent statistics std in [0.5, 1.5], mean in [-0.2, 0.2]; anti-alias filters and
    blur kernels a box filter (sum 1)."""
    leaf = key.rsplit(".", 1)[-1]
    numel = spec.numel
    if not spec.dtype.is_floating_point:
        yield torch.zeros(spec.shape, dtype=spec.dtype)
        return
    if key.endswith("per_channel_statistics.channel"):
        yield torch.arange(numel, dtype=torch.float32).to(spec.dtype)
        return
    gen = torch.Generator(device=device).manual_seed((seed * 1_000_003 + zlib.crc32(key.encode())) % (1 << 63))
    if leaf in ("std-of-means", "mean-of-means"):
        values = torch.rand(spec.shape, generator=gen, device=device)
        yield (0.5 + values if leaf == "std-of-means" else 0.4 * values - 0.2).to(spec.dtype)
        return
    if leaf in ("filter", "kernel") or leaf.startswith("mean-of-stds"):
        fill = 1.0 if leaf.startswith("mean-of-stds") else 1.0 / (spec.shape[-1] if leaf == "filter" else numel)
        yield torch.full(spec.shape, fill, dtype=spec.dtype)
        return
    if len(spec.shape) < 2:
        fill = 1.0 if (leaf == "weight" and "norm" in key) else 0.0
        yield torch.full(spec.shape, fill, dtype=spec.dtype)
        return
    rows, row_size = spec.shape[0], numel // spec.shape[0]
    std = row_size**-0.5
    step = max(1, _CHUNK_ELEMENTS // max(row_size, 1))
    for start in range(0, rows, step):
        n = min(step, rows - start)
        yield (torch.randn((n, row_size), generator=gen, device=device) * std).to(spec.dtype)


def component_bytes(path: str | Path) -> dict[str, int]:
    """Bytes of tensor data per component of a single-file checkpoint (read from the header only)."""
    with open(path, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size))
    out: dict[str, int] = {}
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        name = _component_of(key)
        begin, end = entry["data_offsets"]
        out[name] = out.get(name, 0) + end - begin
    return out


def _component_of(key: str) -> str:
    if key.startswith(("model.diffusion_model.video_embeddings_connector.", "model.diffusion_model.audio_embeddings")):
        return "text path"
    if key.startswith("text_embedding_projection."):
        return "text path"
    if key.startswith("model.diffusion_model."):
        return "transformer"
    for prefix, name in (
        ("vae.encoder.", "video encoder"),
        ("vae.decoder.", "video decoder"),
        ("vae.", "video statistics"),
        ("audio_vae.encoder.", "audio encoder"),
        ("audio_vae.decoder.", "audio decoder"),
        ("audio_vae.", "audio statistics"),
        ("vocoder.", "vocoder"),
    ):
        if key.startswith(prefix):
            return name
    return "other"
