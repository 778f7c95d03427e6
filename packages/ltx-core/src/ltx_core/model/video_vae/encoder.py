"""Video VAE encoder: pixels in [−1, 1] → normalised latent means (always causal in time)."""

from __future__ import annotations

import logging

import torch
from torch import nn

from ltx_core.errors import ConfigError
from ltx_core.geometry import TIME_SCALE
from ltx_core.model.video_vae.config import BlockSpec, VideoEncoderConfig
from ltx_core.model.video_vae.layers import (
    CausalConv3d,
    PerChannelStatistics,
    ResnetBlock3D,
    SpaceToDepthDownsample,
    UNetMidBlock3D,
    make_norm,
)
from ltx_core.model.video_vae.ops import patchify

logger = logging.getLogger(__name__)

_STRIDES = {"time": (2, 1, 1), "space": (1, 2, 2), "all": (2, 2, 2)}


def _build_block(spec: BlockSpec, width: int, cfg: VideoEncoderConfig) -> tuple[nn.Module, int]:
    mode = cfg.spatial_padding_mode
    name = spec.name
    if name == "res_x":
        return UNetMidBlock3D(width, spec.num_layers, norm_layer=cfg.norm_layer, spatial_padding_mode=mode), width
    if name == "res_x_y":
        out = width * spec.multiplier_or(2)
        block = ResnetBlock3D(width, out, norm_layer=cfg.norm_layer, spatial_padding_mode=mode)
        return block, out
    if name in ("compress_time", "compress_space", "compress_all"):
        return CausalConv3d(width, width, 3, stride=_STRIDES[name.split("_")[1]], spatial_padding_mode=mode), width
    if name == "compress_all_x_y":
        out = width * spec.multiplier_or(2)
        return CausalConv3d(width, out, 3, stride=(2, 2, 2), spatial_padding_mode=mode), out
    # compress_{all,space,time}_res
    stride = _STRIDES[name.split("_")[1]]
    factor = stride[0] * stride[1] * stride[2]
    out = width * spec.multiplier_or(2)
    if out % factor or (width * factor) % out:
        raise ConfigError(f"encoder block {name} maps {width} → {out} channels; both must fit stride {stride}")
    return SpaceToDepthDownsample(width, out, stride, mode), out


class VideoEncoder(nn.Module):
    def __init__(self, config: VideoEncoderConfig) -> None:
        super().__init__()
        self.config = config
        cfg = config
        width = cfg.latent_channels
        self.per_channel_statistics = PerChannelStatistics(cfg.latent_channels)
        self.conv_in = CausalConv3d(
            cfg.in_channels * cfg.patch_size**2, width, 3, spatial_padding_mode=cfg.spatial_padding_mode
        )
        blocks = []
        for spec in cfg.blocks:
            block, width = _build_block(spec, width, cfg)
            blocks.append(block)
        self.down_blocks = nn.ModuleList(blocks)
        self.conv_norm_out = make_norm(cfg.norm_layer, width)
        self.conv_act = nn.SiLU()
        out = 2 * cfg.latent_channels if cfg.latent_log_var == "per_channel" else cfg.latent_channels + 1
        self.conv_out = CausalConv3d(width, out, 3, spatial_padding_mode=cfg.spatial_padding_mode)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        """(B, C, F, H, W) in the model dtype → (B, C_lat, 1 + (F−1)/8, H/32, W/32), normalised.

        Like the official encoder, trailing frames beyond 1 + 8k are dropped with a warning; `encode_video`
        rejects such clips instead.
        """
        extra = (video.shape[2] - 1) % TIME_SCALE
        if extra:
            logger.warning("dropping the last %d frame(s) to reach 1 + 8k frames", extra)
            video = video[:, :, : video.shape[2] - extra]
        x = patchify(video, self.config.patch_size)
        x = self.conv_in(x, True)
        for block in self.down_blocks:
            x = block(x, True)
        x = self.conv_act(self.conv_norm_out(x))
        x = self.conv_out(x, True)
        # Every supported log-variance layout puts the means in the first C_lat channels; the rest is discarded.
        means = x[:, : self.config.latent_channels]
        return self.per_channel_statistics.normalize(means)
