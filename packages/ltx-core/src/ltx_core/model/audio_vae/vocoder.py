"""Mel → waveform generators (spec §8, §9.2, §9.7).

`Vocoder` is one generator: HiFi-GAN v1 style with LeakyReLU `ResBlock1`s (LTX-2, 24 kHz, tanh) or BigVGAN-v2
style with anti-aliased SnakeBeta `AMPBlock1`s (both LTX-2.3 generators). Input is a stereo log-mel
(B, 2, T, 64) folded to 128 channels; output (B, 2, T · prod(upsample_rates)).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from ltx_core.errors import InputError
from ltx_core.model.audio_vae.alias_free import Activation1d, Snake, SnakeBeta
from ltx_core.model.audio_vae.vocoder_config import STEREO_CHANNELS, VOCODER_IN_CHANNELS, GeneratorConfig

LRELU_SLOPE = 0.1


def same_padding(kernel_size: int, dilation: int = 1) -> int:
    return (kernel_size * dilation - dilation) // 2


class ResBlock1(nn.Module):
    """HiFi-GAN v1 residual block: three (LeakyReLU, dilated conv, LeakyReLU, conv) branches in sequence."""

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, dilation=d, padding=same_padding(kernel_size, d))
            for d in dilations
        )
        self.convs2 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, dilation=1, padding=same_padding(kernel_size)) for _ in dilations
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c1, c2 in zip(self.convs1, self.convs2, strict=True):
            t = c2(F.leaky_relu(c1(F.leaky_relu(x, LRELU_SLOPE)), LRELU_SLOPE))
            x = t + x
        return x


def _activation(kind: str, channels: int) -> nn.Module:
    return SnakeBeta(channels) if kind == "snakebeta" else Snake(channels)


class AMPBlock1(nn.Module):
    """BigVGAN-v2 residual block: anti-aliased Snake(Beta) around each dilated conv."""

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...], activation: str) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, dilation=d, padding=same_padding(kernel_size, d))
            for d in dilations
        )
        self.convs2 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, dilation=1, padding=same_padding(kernel_size)) for _ in dilations
        )
        self.acts1 = nn.ModuleList(Activation1d(_activation(activation, channels)) for _ in dilations)
        self.acts2 = nn.ModuleList(Activation1d(_activation(activation, channels)) for _ in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c1, c2, a1, a2 in zip(self.convs1, self.convs2, self.acts1, self.acts2, strict=True):
            x = x + c2(a2(c1(a1(x))))
        return x


class Vocoder(nn.Module):
    """One mel → waveform generator; `cfg.resblock` picks HiFi-GAN ("1") or BigVGAN-v2 ("AMP1") blocks."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.amp = cfg.resblock == "AMP1"
        self.num_kernels = len(cfg.resblock_kernel_sizes)
        self.output_sampling_rate = cfg.output_sampling_rate
        width = cfg.upsample_initial_channel
        self.conv_pre = nn.Conv1d(VOCODER_IN_CHANNELS, width, 7, padding=3)
        # Channels halve at each stage, floored (official): 48 over 5 stages gives 24, 12, 6, 3, 1.
        widths = [width, *(cfg.stage_channels(i) for i in range(len(cfg.upsample_rates)))]
        self.ups = nn.ModuleList(
            nn.ConvTranspose1d(widths[i], widths[i + 1], k, stride=u, padding=(k - u) // 2)
            for i, (u, k) in enumerate(zip(cfg.upsample_rates, cfg.upsample_kernel_sizes, strict=True))
        )
        self.resblocks = nn.ModuleList()
        for ch in widths[1:]:
            for k, d in zip(cfg.resblock_kernel_sizes, cfg.resblock_dilation_sizes, strict=True):
                block = AMPBlock1(ch, k, d, cfg.activation) if self.amp else ResBlock1(ch, k, d)
                self.resblocks.append(block)
        final_ch = widths[-1]
        # BigVGAN's post activation is always SnakeBeta; HiFi-GAN's is a parameter-free LeakyReLU(0.01).
        self.act_post = Activation1d(SnakeBeta(final_ch)) if self.amp else None
        self.conv_post = nn.Conv1d(final_ch, STEREO_CHANNELS, 7, padding=3, bias=cfg.use_bias_at_final)

    @property
    def hop(self) -> int:
        return self.cfg.hop

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """(B, 2, T, mels) log-mel → (B, 2, T·hop) waveform, computed in the weights' dtype."""
        mels = self.conv_pre.in_channels // STEREO_CHANNELS
        if mel.ndim != 4 or mel.shape[1] != STEREO_CHANNELS or mel.shape[3] != mels:
            raise InputError(f"vocoder input must be a stereo log-mel (B, 2, T, {mels}), got {tuple(mel.shape)}")
        x = rearrange(mel, "b s t m -> b (s m) t").to(self.conv_pre.weight.dtype)
        x = self.conv_pre(x)
        for i, up in enumerate(self.ups):
            if not self.amp:
                x = F.leaky_relu(x, LRELU_SLOPE)
            x = up(x)
            blocks = self.resblocks[i * self.num_kernels : (i + 1) * self.num_kernels]
            x = torch.stack([block(x) for block in blocks], dim=0).mean(dim=0)
        x = self.act_post(x) if self.act_post is not None else F.leaky_relu(x)
        x = self.conv_post(x)
        if self.cfg.apply_final_activation:
            x = torch.tanh(x) if self.cfg.use_tanh_at_final else torch.clamp(x, -1.0, 1.0)
        return x
