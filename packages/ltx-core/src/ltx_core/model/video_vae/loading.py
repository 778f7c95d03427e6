"""Checkpoint ↔ video VAE modules: key maps, factories, loaders, and the inverse (module → official keys).

Encoder and decoder each take `vae.<side>.*` (prefix stripped) plus the shared `vae.per_channel_statistics.*`
buffers; the statistics rows no module uses (`channel`, `mean-of-stds`, `mean-of-stds_over_std-of-means`) are
excluded so a strict load does not report them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ltx_core.loader import Checkpoint, KeyMap, load_model, open_checkpoint
from ltx_core.loader.safetensors_file import PrefixedCheckpoint
from ltx_core.model.video_vae.config import VideoDecoderConfig, VideoEncoderConfig
from ltx_core.model.video_vae.decoder import VideoDecoder
from ltx_core.model.video_vae.diffusion.config import DiffusionDecoderConfig, is_diffusion_vae
from ltx_core.model.video_vae.diffusion.loading import load_diffusion_video_decoder
from ltx_core.model.video_vae.diffusion.model import DiffusionVideoDecoder
from ltx_core.model.video_vae.encoder import VideoEncoder
from ltx_core.model.video_vae.layers import PerChannelStatistics
from ltx_core.model.video_vae.memory_efficient import MemoryEfficientVideoDecoder

STATS_PREFIX = "vae.per_channel_statistics."
UNUSED_STATISTICS = ("channel", "mean-of-stds", "mean-of-stds_over_std-of-means")
_UNUSED = tuple(STATS_PREFIX + name for name in UNUSED_STATISTICS)
# `mean-of-stds` is a prefix of `mean-of-stds_over_std-of-means`; exclusion is by prefix, which is what we want,
# but `mean-of-means` / `std-of-means` must not be caught: none of the names above is a prefix of those.


def _vae_map(side: str) -> KeyMap:
    return KeyMap(
        name=f"video_{side}",
        prefixes=(f"vae.{side}.", STATS_PREFIX),
        exclude=_UNUSED,
        replacements=((f"vae.{side}.", ""), (STATS_PREFIX, "per_channel_statistics.")),
    )


VIDEO_ENCODER_KEY_MAP = _vae_map("encoder")
VIDEO_DECODER_KEY_MAP = _vae_map("decoder")
PER_CHANNEL_STATISTICS_KEY_MAP = KeyMap(
    name="video_latent_statistics", prefixes=(STATS_PREFIX,), exclude=_UNUSED, replacements=((STATS_PREFIX, ""),)
)


VAE_PREFIX = "vae."
BARE_PREFIXES = ("encoder.", "decoder.", "per_channel_statistics.")  # a split video-VAE file's other key form


def open_video_vae(checkpoint: str | Path | Checkpoint) -> Checkpoint:
    """The video VAE's checkpoint with its keys under `vae.`: a split video-VAE file may store them bare (delta
    E.2: `encoder.*`, `decoder.*`, `per_channel_statistics.*`), read then as if prefixed."""
    ckpt = open_checkpoint(checkpoint)
    keys = ckpt.keys()
    if not any(k.startswith(VAE_PREFIX) for k in keys) and any(k.startswith(BARE_PREFIXES) for k in keys):
        return PrefixedCheckpoint(ckpt, VAE_PREFIX)
    return ckpt


def video_encoder_factory(config: dict[str, Any], source: Path | str = "<config>") -> VideoEncoder:
    """Build a (randomly initialised) encoder from a full checkpoint config dict."""
    return VideoEncoder(VideoEncoderConfig.from_config(config, source))


def video_decoder_class(memory_efficient: bool) -> type[VideoDecoder]:
    """The decoder the loader builds: the official pipelines' default memory-efficient path, or the standard one."""
    return MemoryEfficientVideoDecoder if memory_efficient else VideoDecoder


def video_decoder_factory(
    config: dict[str, Any], source: Path | str = "<config>", *, memory_efficient: bool = True
) -> VideoDecoder | DiffusionVideoDecoder:
    """The file's decoder, randomly initialised: the diffusion decoder for an LTX-2.5 `CausalDiffusionVAE`."""
    if is_diffusion_vae(config):
        return DiffusionVideoDecoder(DiffusionDecoderConfig.from_config(config, source))
    return video_decoder_class(memory_efficient)(VideoDecoderConfig.from_config(config, source))


def load_video_encoder(
    checkpoint: str | Path | Checkpoint, *, dtype: torch.dtype | None = None, device: torch.device | str = "cpu"
) -> VideoEncoder:
    ckpt = open_video_vae(checkpoint)
    cfg = VideoEncoderConfig.from_config(ckpt.config, ckpt.path)
    model = load_model(
        lambda: VideoEncoder(cfg),
        ckpt,
        VIDEO_ENCODER_KEY_MAP,
        component="video VAE encoder",
        dtype=dtype,
        device=device,
    )
    assert isinstance(model, VideoEncoder)
    return model


def load_video_decoder(
    checkpoint: str | Path | Checkpoint,
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str = "cpu",
    memory_efficient: bool = True,
) -> VideoDecoder | DiffusionVideoDecoder:
    """The file's video decoder: the LTX-2.5 diffusion decoder when `vae._class_name` names one (its chunked
    pathway, the pipelines' default), else the conv decoder (`memory_efficient=True`: the official pipelines'
    default decode path, same function, less memory). Both decode through `decode_video`."""
    ckpt = open_video_vae(checkpoint)
    if is_diffusion_vae(ckpt.config):
        return load_diffusion_video_decoder(ckpt, dtype=dtype, device=device)
    cfg = VideoDecoderConfig.from_config(ckpt.config, ckpt.path)
    model = load_model(
        lambda: video_decoder_class(memory_efficient)(cfg),
        ckpt,
        VIDEO_DECODER_KEY_MAP,
        component="video VAE decoder",
        dtype=dtype,
        device=device,
    )
    assert isinstance(model, VideoDecoder)
    return model


def load_per_channel_statistics(
    checkpoint: str | Path | Checkpoint, *, dtype: torch.dtype | None = None, device: torch.device | str = "cpu"
) -> PerChannelStatistics:
    """Only the latent statistics (what the upsampling step needs), without building the encoder."""
    ckpt = open_video_vae(checkpoint)
    channels = VideoEncoderConfig.from_config(ckpt.config, ckpt.path).latent_channels
    model = load_model(
        lambda: PerChannelStatistics(channels),
        ckpt,
        PER_CHANNEL_STATISTICS_KEY_MAP,
        component="video latent statistics",
        dtype=dtype,
        device=device,
    )
    assert isinstance(model, PerChannelStatistics)
    return model


def video_vae_checkpoint_state_dict(
    encoder: VideoEncoder, decoder: VideoDecoder, *, with_unused_statistics: bool = True
) -> dict[str, torch.Tensor]:
    """Official checkpoint keys for both halves. The statistics are shared, taken from the encoder (the decoder's
    must be equal). `with_unused_statistics` adds the three rows released files carry but no module reads, so a
    generated file has the released layout."""
    enc_stats, dec_stats = encoder.per_channel_statistics, decoder.per_channel_statistics
    if not (torch.equal(enc_stats.std, dec_stats.std) and torch.equal(enc_stats.mean, dec_stats.mean)):
        raise ValueError("encoder and decoder per-channel statistics differ; the checkpoint stores one copy")
    out: dict[str, torch.Tensor] = {}
    for side, module in (("encoder", encoder), ("decoder", decoder)):
        for k, v in module.state_dict().items():
            if not k.startswith("per_channel_statistics."):
                out[f"vae.{side}.{k}"] = v
    for k, v in enc_stats.state_dict().items():
        out[STATS_PREFIX + k] = v
    if with_unused_statistics:
        std, mean_of_stds = enc_stats.std, torch.ones_like(enc_stats.std)
        out[STATS_PREFIX + "channel"] = torch.arange(std.numel(), dtype=std.dtype)
        out[STATS_PREFIX + "mean-of-stds"] = mean_of_stds
        out[STATS_PREFIX + "mean-of-stds_over_std-of-means"] = mean_of_stds / std
    return out
