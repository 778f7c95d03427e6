"""Video VAE decoder: normalised latent → pixels (nominally [−1, 1], not clamped).

`forward` is the standard path (official `VideoDecoder.forward`). `MemoryEfficientVideoDecoder`
(`memory_efficient.py`) subclasses it with the path the official pipelines install by default: same modules, same
checkpoint keys, same function; the loader picks one of the two.
"""

from __future__ import annotations

import torch
from torch import nn

from ltx_core.errors import ConfigError
from ltx_core.model.video_vae.config import BlockSpec, VideoDecoderConfig
from ltx_core.model.video_vae.layers import (
    CausalConv3d,
    CombinedTimestepEmbedder,
    DepthToSpaceUpsample,
    PerChannelStatistics,
    ResnetBlock3D,
    UNetMidBlock3D,
    make_norm,
)
from ltx_core.model.video_vae.ops import unpatchify

_STRIDES = {"compress_time": (2, 1, 1), "compress_space": (1, 2, 2), "compress_all": (2, 2, 2)}

DECODE_NOISE_SCALE = 0.025
DECODE_TIMESTEP = 0.05


def _build_block(spec: BlockSpec, width: int, cfg: VideoDecoderConfig) -> tuple[nn.Module, int]:
    mode = cfg.spatial_padding_mode
    if spec.name == "res_x":
        block = UNetMidBlock3D(
            width,
            spec.num_layers,
            norm_layer=cfg.norm_layer,
            inject_noise=spec.inject_noise,
            timestep_conditioning=cfg.timestep_conditioning,
            spatial_padding_mode=mode,
        )
        return block, width
    if spec.name == "res_x_y":
        out = width // spec.multiplier_or(2)
        block = ResnetBlock3D(
            width, out, norm_layer=cfg.norm_layer, inject_noise=spec.inject_noise, spatial_padding_mode=mode
        )
        return block, out
    stride = _STRIDES[spec.name]
    factor = stride[0] * stride[1] * stride[2]
    reduction = spec.multiplier_or(1)
    residual = spec.residual if spec.name == "compress_all" else False
    if (factor * width) % reduction or width % reduction or (residual and (factor % reduction or width % factor)):
        raise ConfigError(
            f"decoder block {spec.name} cannot map {width} channels with reduction {reduction}"
            + (f" and a residual over stride {stride}" if residual else "")
        )
    block = DepthToSpaceUpsample(
        width, stride, residual=residual, reduction=reduction, spatial_padding_mode=cfg.spatial_padding_mode
    )
    return block, width // reduction


class VideoDecoder(nn.Module):
    def __init__(self, config: VideoDecoderConfig) -> None:
        super().__init__()
        self.config = config
        cfg = config
        width = 8 * cfg.base_channels
        self.per_channel_statistics = PerChannelStatistics(cfg.latent_channels)
        self.conv_in = CausalConv3d(cfg.latent_channels, width, 3, spatial_padding_mode=cfg.spatial_padding_mode)
        blocks = []
        for spec in reversed(cfg.blocks):
            block, width = _build_block(spec, width, cfg)
            blocks.append(block)
        self.up_blocks = nn.ModuleList(blocks)
        self.conv_norm_out = make_norm(cfg.norm_layer, width)
        self.conv_act = nn.SiLU()
        self.conv_out = CausalConv3d(
            width, cfg.out_channels * cfg.patch_size**2, 3, spatial_padding_mode=cfg.spatial_padding_mode
        )
        if cfg.timestep_conditioning:
            self.timestep_scale_multiplier = nn.Parameter(torch.tensor(1000.0))
            self.last_time_embedder = CombinedTimestepEmbedder(2 * width)
            self.last_scale_shift_table = nn.Parameter(torch.randn(2, width).div_(width**0.5))

    # --- shared steps -------------------------------------------------------------------------------------------

    def prepare(
        self, latent: torch.Tensor, timestep: torch.Tensor | None, generator: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Cast to the weights dtype, add decode noise (conditioned decoders only), un-normalise.

        Returns the un-normalised latent and the scaled timestep (None when not conditioned).
        """
        z = latent.to(self.conv_in.conv.weight.dtype)
        if self.config.timestep_conditioning:
            noise = torch.randn(z.size(), generator=generator, dtype=z.dtype, device=z.device)
            z = noise * DECODE_NOISE_SCALE + (1.0 - DECODE_NOISE_SCALE) * z
        z = self.per_channel_statistics.un_normalize(z)
        if not self.config.timestep_conditioning:
            return z, None
        if timestep is None:
            timestep = torch.full((z.shape[0],), DECODE_TIMESTEP, dtype=z.dtype, device=z.device)
        scaled = timestep.to(device=z.device) * self.timestep_scale_multiplier.to(z.dtype)
        return z, scaled

    def last_modulation(self, z: torch.Tensor, scaled_t: torch.Tensor | None) -> torch.Tensor:
        if scaled_t is None:
            return z
        b, c = z.shape[:2]
        emb = self.last_time_embedder(scaled_t.flatten(), hidden_dtype=z.dtype).reshape(b, 2, c, 1, 1, 1)
        table = self.last_scale_shift_table.to(device=z.device, dtype=z.dtype)[None, :, :, None, None, None]
        shift, scale = (table + emb).unbind(dim=1)
        return z * (1 + scale) + shift

    # --- forward ------------------------------------------------------------------------------------------------

    def forward(
        self,
        latent: torch.Tensor,
        timestep: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """(B, C_lat, F', H', W') → (B, C_out, 8(F'−1)+1, 32H', 32W') in the input dtype.

        `MemoryEfficientVideoDecoder.forward` returns the weights dtype instead (as official).
        """
        causal = self.config.causal
        z, scaled_t = self.prepare(latent, timestep, generator)
        z = self.conv_in(z, causal)
        for block in self.up_blocks:
            if isinstance(block, UNetMidBlock3D):
                z = block(z, causal, scaled_t, generator)
            elif isinstance(block, ResnetBlock3D):
                z = block(z, causal, None, generator)
            else:
                z = block(z, causal)
        z = self.conv_norm_out(z)
        z = self.last_modulation(z, scaled_t)
        z = self.conv_act(z)
        z = self.conv_out(z, causal)
        return unpatchify(z, self.config.patch_size).to(latent.dtype)
