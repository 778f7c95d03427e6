"""Audio VAE encoder: stereo log-mel (B, 2, T, F) → normalised latent means (B, z, ⌈T/4⌉, F/4) (spec §5)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ltx_core.model.audio_vae.blocks import (
    CausalConv2d,
    Downsample,
    PerChannelStatistics,
    ResnetBlock,
    make_attention,
    make_norm,
)
from ltx_core.model.audio_vae.config import AudioVAEConfig


class _Level(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.block = nn.ModuleList()
        self.attn = nn.ModuleList()
        self.downsample: nn.Module | None = None


class _Mid(nn.Module):
    def __init__(self, channels: int, cfg: AudioVAEConfig) -> None:
        super().__init__()
        self.block_1 = ResnetBlock(channels, channels, cfg)
        self.attn_1 = make_attention(channels, cfg) if cfg.mid_block_add_attention else nn.Identity()
        self.block_2 = ResnetBlock(channels, channels, cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block_2(self.attn_1(self.block_1(x)))


class AudioEncoder(nn.Module):
    """Causal 2-D conv encoder; returns the normalised means (the log-variance half is dropped, no sampling)."""

    def __init__(self, cfg: AudioVAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c, mult = cfg.ch, cfg.ch_mult
        in_mult = (1, *mult)
        self.per_channel_statistics = PerChannelStatistics(c)
        self.conv_in = CausalConv2d(cfg.in_channels, c, 3, cfg.causality_axis)
        self.down = nn.ModuleList()
        res = cfg.resolution
        for level, m in enumerate(mult):
            stage = _Level()
            block_in = c * in_mult[level]
            for _ in range(cfg.num_res_blocks):
                stage.block.append(ResnetBlock(block_in, c * m, cfg))
                block_in = c * m
                if res in cfg.attn_resolutions:
                    stage.attn.append(make_attention(block_in, cfg))
            if level != len(mult) - 1:
                stage.downsample = Downsample(block_in, cfg)
                res //= 2
            self.down.append(stage)
        top = c * mult[-1]
        self.mid = _Mid(top, cfg)
        self.norm_out = make_norm(top, cfg.norm_type)
        z_out = 2 * cfg.z_channels if cfg.double_z else cfg.z_channels
        self.conv_out = CausalConv2d(top, z_out, 3, cfg.causality_axis)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """`mel` (B, in_channels, T, F) log-mel; it is cast to the weights' dtype (bf16 in the pipelines)."""
        h = self.conv_in(mel.to(self.conv_in.conv.weight.dtype))
        for stage in self.down:
            for i, block in enumerate(stage.block):
                h = block(h)
                if len(stage.attn) > 0:
                    h = stage.attn[i](h)
            if stage.downsample is not None:
                h = stage.downsample(h)
        h = self.mid(h)
        h = self.conv_out(F.silu(self.norm_out(h)))
        means = h[:, : self.cfg.z_channels]
        return self.per_channel_statistics.normalize(means)
