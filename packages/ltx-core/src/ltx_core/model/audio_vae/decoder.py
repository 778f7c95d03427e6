"""Audio VAE decoder: normalised latent (B, z, T, F/4) → log-mel (B, out_ch, 4T − 3, mel_bins) (spec §6)."""

from __future__ import annotations

from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import nn

from ltx_core.model.audio_vae.blocks import (
    CausalConv2d,
    PerChannelStatistics,
    ResnetBlock,
    Upsample,
    make_attention,
    make_norm,
)
from ltx_core.model.audio_vae.config import LATENT_DOWNSAMPLE_FACTOR, AudioVAEConfig
from ltx_core.model.audio_vae.encoder import _Mid


class _Level(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.block = nn.ModuleList()
        self.attn = nn.ModuleList()
        self.upsample: nn.Module | None = None


def decoded_mel_frames(latent_frames: int, causal: bool = True) -> int:
    """Mel frames the decoder produces from `latent_frames` latents: 4·T − 3 when causal (at least 1)."""
    frames = latent_frames * LATENT_DOWNSAMPLE_FACTOR
    return max(frames - (LATENT_DOWNSAMPLE_FACTOR - 1), 1) if causal else frames


class AudioDecoder(nn.Module):
    """Mirror of the encoder with nearest-neighbour upsampling; the output is not squashed (no tanh)."""

    def __init__(self, cfg: AudioVAEConfig) -> None:
        super().__init__()
        # The official decoder always upsamples with a conv and uses vanilla attention.
        cfg = replace(cfg, attn_type="vanilla")
        self.cfg = cfg
        c, mult = cfg.ch, cfg.ch_mult
        levels = len(mult)
        self.per_channel_statistics = PerChannelStatistics(c)
        block_in = c * mult[-1]
        self.conv_in = CausalConv2d(cfg.z_channels, block_in, 3, cfg.causality_axis)
        self.mid = _Mid(block_in, cfg)
        res = cfg.resolution // 2 ** (levels - 1)
        ups: list[_Level] = []
        for level in reversed(range(levels)):
            stage = _Level()
            for _ in range(cfg.num_res_blocks + 1):
                stage.block.append(ResnetBlock(block_in, c * mult[level], cfg))
                block_in = c * mult[level]
                if res in cfg.attn_resolutions:
                    stage.attn.append(make_attention(block_in, cfg))
            if level != 0:
                stage.upsample = Upsample(block_in, cfg)
                res *= 2
            ups.insert(0, stage)
        self.up = nn.ModuleList(ups)
        self.norm_out = make_norm(block_in, cfg.norm_type)
        self.conv_out = CausalConv2d(block_in, cfg.out_ch, 3, cfg.causality_axis)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        """`latent` (B, z, T, F') normalised; cast to the weights' dtype (bf16 in the pipelines)."""
        z = self.per_channel_statistics.un_normalize(latent.to(self.conv_in.conv.weight.dtype))
        frames = decoded_mel_frames(z.shape[2], causal=self.cfg.causality_axis != "none")
        mel_bins = self.cfg.mel_bins or z.shape[3]
        h = self.mid(self.conv_in(z))
        for stage in reversed(self.up):
            for i, block in enumerate(stage.block):
                h = block(h)
                if len(stage.attn) > 0:
                    h = stage.attn[i](h)
            if stage.upsample is not None:
                h = stage.upsample(h)
        h = self.conv_out(F.silu(self.norm_out(h)))
        return _fit(h, self.cfg.out_ch, frames, mel_bins)


def _fit(x: torch.Tensor, channels: int, frames: int, bins: int) -> torch.Tensor:
    """Crop, then zero-pad at the end, to (B, channels, frames, bins) (a no-op for the released config)."""
    x = x[:, :channels, :frames, :bins]
    pad_t, pad_f = frames - x.shape[2], bins - x.shape[3]
    if pad_t > 0 or pad_f > 0:
        x = F.pad(x, (0, max(pad_f, 0), 0, max(pad_t, 0)))
    return x
