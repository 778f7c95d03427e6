"""The LTX-2.5 diffusion video decoder ("CausalDiffusionVAE", spec §4): latent → pixels without convolutions.

Stages 1–3 upsample the latent deterministically with neighbourhood-attention blocks; stage 4 and a short Euler
loop over 4×4-patchified pixels (stage 5, starting from noise, conditioned on the stage-4 context) run per tile.
An untiled decode is one tile covering everything. The call signature is the conv decoder's
(`decoder(latent, timestep, generator)`), so `decode_video` / `tiled_decode` take either decoder.

Two pathways, both official and both selectable (`DecodeMode`): "chunked" (the pipelines' default: the stage-5
attention runs in 4 W slabs, which changes the result at the W borders) and "combined" (full-volume attention).
Attention itself is exact neighbourhood attention by any backend (`attention.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ltx_core.errors import InputError
from ltx_core.model.video_vae.diffusion.attention import BACKENDS, Backend
from ltx_core.model.video_vae.diffusion.config import DiffusionDecoderConfig, ceil_div
from ltx_core.model.video_vae.diffusion.layers import (
    DeferredContext,
    DiffusionBlock,
    NABlock,
    PixelShuffleUpsample,
    RMSNorm,
    SharedAdaLN,
    TimestepEmbedder,
)
from ltx_core.model.video_vae.layers import PerChannelStatistics


@dataclass(frozen=True)
class DecodeMode:
    """Which official pathway to reproduce: `w_slabs` > 1 cuts the stage-5 attention into W slabs (§5.4)."""

    name: str
    w_slabs: int


CHUNKED = DecodeMode("chunked", 4)  # official CHUNKED_EAGER / CHUNKED_COMPILE (the pipelines' default)
COMBINED = DecodeMode("combined", 1)  # official COMBINED_COMPILE / hand-made combined-eager
MODES = {m.name: m for m in (CHUNKED, COMBINED)}


@dataclass(frozen=True)
class Padding:
    """What `pad_latent` added, in latent units (time: trailing; H/W: before, after)."""

    time: int
    height: tuple[int, int]
    width: tuple[int, int]


@dataclass(frozen=True)
class TileBox:
    """A tile on the stage-4 grid (content extent; the ghost frames go with trailing tiles)."""

    t: tuple[int, int]
    h: tuple[int, int]
    w: tuple[int, int]


def patchify(x: torch.Tensor, p: int) -> torch.Tensor:
    """(B, C, F, H, W) → channels-last tokens (B, F, H/p, W/p, C·p²), channel c·p² + r·p + q (r: W offset).

    Made channels-first and viewed channels-last, as official: a bf16 Linear on the CPU rounds a strided input
    differently from a contiguous one (bias added after the product, not inside it), so the layout is part of the
    result. Likewise `features` feeds `conv_in` a channels-last view of the channels-first latent."""
    b, c, f, h, w = x.shape
    x = x.view(b, c, f, h // p, p, w // p, p).permute(0, 1, 6, 4, 2, 3, 5).reshape(b, c * p * p, f, h // p, w // p)
    return x.permute(0, 2, 3, 4, 1)


def unpatchify(y: torch.Tensor, p: int) -> torch.Tensor:
    """Inverse of `patchify`: (B, F, h, w, C·p²) → (B, C, F, h·p, w·p)."""
    b, f, h, w, cpp = y.shape
    y = y.view(b, f, h, w, cpp // (p * p), p, p)
    return y.permute(0, 4, 1, 2, 6, 3, 5).reshape(b, cpp // (p * p), f, h * p, w * p)


def fit_canvas(x: torch.Tensor, shape: tuple[int, int, int]) -> torch.Tensor:
    """Crop or pad (time: repeat last; H/W: edge, extra at the end) x (B, C, F, H, W) to (F, H, W)."""
    x = x[:, :, : shape[0], : shape[1], : shape[2]]
    need = [n - s for n, s in zip(shape, x.shape[2:], strict=True)]
    if any(need):
        hb, wb = need[1] // 2, need[2] // 2
        x = F.pad(x, (wb, need[2] - wb, hb, need[1] - hb, 0, need[0]), mode="replicate")
    return x


class DiffusionVideoDecoder(nn.Module):
    def __init__(self, config: DiffusionDecoderConfig, mode: DecodeMode = CHUNKED, attention: Backend = "auto") -> None:
        super().__init__()
        if attention not in BACKENDS:
            raise ValueError(f"attention backend {attention!r} is unknown; use one of {', '.join(BACKENDS)}")
        self.config, self.mode, self.attention = config, mode, attention
        cfg = config
        c, hd = cfg.stage_channels, cfg.head_dim
        c5 = cfg.diffusion_channels
        self.per_channel_statistics = PerChannelStatistics(cfg.latent_channels)
        self.conv_in = nn.Linear(cfg.latent_channels, c[0])
        self.det_stages = nn.ModuleList(
            nn.ModuleList(NABlock(c[i], hd, cfg.stage_kernels[i]) for _ in range(cfg.stage_depths[i])) for i in range(4)
        )
        self.upsamples = nn.ModuleList(
            PixelShuffleUpsample(c[i], up.stride, up.reduction) for i, up in enumerate(cfg.upsamples)
        )
        self.t_embedder = TimestepEmbedder(cfg.t_emb_dim)
        patch_channels = cfg.out_channels * cfg.patch_size**2
        self.conv_in_x_t = nn.Linear(patch_channels, c5)
        self.shared_adaln = SharedAdaLN(cfg.t_emb_dim, c5)
        self.diff_blocks = nn.ModuleList(
            DiffusionBlock(c5, cfg.context_channels, hd, cfg.stage5_kernel) for _ in range(cfg.diffusion_depth)
        )
        self.norm_out = RMSNorm(c5)
        self.conv_out = nn.Linear(c5, patch_channels)

    # --- geometry ---------------------------------------------------------------------------------------------

    def pad_latent(self, latent: torch.Tensor) -> tuple[torch.Tensor, Padding]:
        """Raise the latent to the stage floors (§4.2): time repeats the last frame, H/W replicate the edges."""
        mins = self.config.min_latent_shape()
        need = [max(0, m - n) for m, n in zip(mins, latent.shape[2:], strict=True)]
        pads = Padding(need[0], (need[1] // 2, need[1] - need[1] // 2), (need[2] // 2, need[2] - need[2] // 2))
        if any(need):
            latent = F.pad(latent, (*pads.width, *pads.height, 0, pads.time), mode="replicate")
        return latent, pads

    def s4_shape(self, latent_shape: tuple[int, ...]) -> tuple[int, int, int]:
        """Stage-4 grid of a (padded) latent's content, ghost frames excluded (§4.4)."""
        t, h, w = latent_shape[2:]
        for up in self.config.upsamples[:3]:
            st, sh, sw = up.stride
            t, h, w = t * st - (1 if st == 2 else 0), h * sh, w * sw
        return t, h, w

    def pixel_interval(self, axis: int, start: int, end: int) -> tuple[int, int]:
        """Pixel (frame / row / column) interval of a stage-4 interval (§6.3 step 3)."""
        scale = self.config.s4_to_pixel[axis]
        if axis == 0 and scale == 2:
            return (0 if start == 0 else 2 * start - 1), 2 * end - 1
        return scale * start, scale * end

    # --- stages -----------------------------------------------------------------------------------------------

    def features(self, latent: torch.Tensor) -> torch.Tensor:
        """Stages 1–3 on the padded latent plus its ghost frames → channels-last stage-4 grid (§4.3, §4.4)."""
        ghost = self.config.ghost_frames
        z = torch.cat([latent, latent[:, :, -1:].expand(-1, -1, ghost, -1, -1)], dim=2) if ghost else latent
        z = self.per_channel_statistics.un_normalize(z)
        x = self.conv_in(z.permute(0, 2, 3, 4, 1))
        for stage in range(3):
            for block in self.det_stages[stage]:
                x = block(x, self.attention)
            x = self.upsamples[stage](x, drop_leading_frame=True)
        return x

    def _kept_frames(self, frames: int, scale: int, floor: int) -> int:
        """Frames of a trailing tile left after dropping its ghost frames (`scale` per ghost frame), at least `floor`
        (the stage-5 kernel), never more than there are (§4.5)."""
        return min(frames, max(max(frames - self.config.ghost_frames * scale, 1), floor))

    def context(self, feat: torch.Tensor, origin: bool, trailing: bool) -> torch.Tensor | DeferredContext:
        """Stage 4 on one tile's features → the stage-5 context (§4.5), ghost frames cropped from trailing tiles.
        Chunked: cropped at stage-4 resolution and handed to the blocks, which upsample it per W piece."""
        cfg = self.config
        for block in self.det_stages[3]:
            feat = block(feat, self.attention)
        strides, k5_t, s3 = cfg.cumulative_strides(), cfg.stage5_kernel[0], cfg.upsamples[3].stride[0]
        if self.mode.w_slabs > 1:
            if trailing:
                feat = feat[:, : self._kept_frames(feat.shape[1], strides[3][0], ceil_div(k5_t, s3))]
            return DeferredContext(feat, self.upsamples[3], origin, self.mode.w_slabs)
        ctx = self.upsamples[3](feat, drop_leading_frame=origin)
        return ctx[:, : self._kept_frames(ctx.shape[1], strides[4][0], k5_t)] if trailing else ctx

    def canvas(self, box: TileBox, s4_frames: int, feature_frames: int) -> tuple[int, int, int]:
        """A tile's stage-5 pixel canvas (frames, rows, columns) (§6.4), from the tile alone (stage 4 preserves
        shapes): what its context and noise measure. `feature_frames`: the stage-4 grid's frames incl. ghost."""
        cfg = self.config
        origin, trailing = box.t[0] == 0, box.t[1] == s4_frames
        frames = (feature_frames if trailing else box.t[1]) - box.t[0]
        strides, k5_t, s3 = cfg.cumulative_strides(), cfg.stage5_kernel[0], cfg.upsamples[3].stride
        drop = 1 if origin and s3[0] == 2 else 0
        if self.mode.w_slabs > 1:
            if trailing:
                frames = self._kept_frames(frames, strides[3][0], ceil_div(k5_t, s3[0]))
            frames = frames * s3[0] - drop
        else:
            frames = frames * s3[0] - drop
            if trailing:
                frames = self._kept_frames(frames, strides[4][0], k5_t)
        p = cfg.patch_size
        return frames, (box.h[1] - box.h[0]) * s3[1] * p, (box.w[1] - box.w[0]) * s3[2] * p

    def step(self, x_t: torch.Tensor, context: torch.Tensor | DeferredContext, t: torch.Tensor) -> torch.Tensor:
        """One stage-5 model call (§4.6): (B, 3, F, H, W) at time t [B] → model output of the same shape."""
        cfg = self.config
        x = self.conv_in_x_t(patchify(x_t, cfg.patch_size))
        t_emb = self.t_embedder(t * cfg.timestep_scale_multiplier, x.dtype)
        chunks = self.shared_adaln(t_emb)
        for block in self.diff_blocks:
            x = block(x, context, chunks, self.attention, self.mode.w_slabs)
        return unpatchify(self.conv_out(self.norm_out(x)), cfg.patch_size)

    def sample(self, x_t: torch.Tensor, context: torch.Tensor | DeferredContext) -> torch.Tensor:
        """The Euler loop (§4.7): float32 updates, the model's x0 returned directly on an x0 model's last step."""
        cfg = self.config
        n = cfg.num_steps
        ts = torch.linspace(1.0, 1.0 / n, n)
        b, dtype = x_t.shape[0], x_t.dtype
        for i in range(n):
            t = ts[i].to(x_t.device).expand(b)
            out = self.step(x_t, context, t)
            if cfg.model_output_type == "x0":
                if i == n - 1:
                    return out
                v = (x_t.float() - out.float()) / float(ts[i])
            else:
                v = out.float()
            dt = (ts[i] - ts[i + 1]) if i < n - 1 else ts[i]
            x_t = (x_t.float() - dt.to(x_t.device) * v).to(dtype)
        return x_t

    def draws_per_tile(self) -> bool:
        """The bundled one-step x0 variant draws its noise per tile; the others draw once, at the work shape."""
        return self.config.model_output_type == "x0" and self.config.num_steps == 1

    def tile_start(
        self,
        batch: int,
        feature_frames: int,
        box: TileBox,
        s4_frames: int,
        noise: torch.Tensor | None,
        generator: torch.Generator | None,
        dtype: torch.dtype,
        device: torch.device,
    ) -> torch.Tensor:
        """A tile's starting x_t (§6.4): its crop of the work-shape draw `noise`, or (None: the one-step x0 variant)
        a fresh draw of its canvas from `generator`, in `dtype`."""
        canvas = self.canvas(box, s4_frames, feature_frames)
        if noise is None:
            return _draw((batch, self.config.out_channels, *canvas), dtype, generator, device)
        px = [self.pixel_interval(a, *iv) for a, iv in enumerate((box.t, box.h, box.w))]
        return fit_canvas(noise[:, :, slice(*px[0]), slice(*px[1]), slice(*px[2])], canvas)

    def decode_tile(
        self,
        feat: torch.Tensor,
        box: TileBox,
        s4_frames: int,
        noise: torch.Tensor | None,
        generator: torch.Generator | None,
        noise_dtype: torch.dtype,
        *,
        start: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Stage 4 + the Euler loop for one tile → its pixels, cropped to the tile's pixel interval (§6.4).

        `noise`: the work-shape draw (cropped here), or None for a per-tile draw from `generator`; `start`: the
        tile's x_t already drawn (`tile_start`), which replaces both."""
        origin, trailing = box.t[0] == 0, box.t[1] == s4_frames
        end = feat.shape[1] if trailing else box.t[1]
        if start is None:
            start = self.tile_start(
                feat.shape[0], feat.shape[1], box, s4_frames, noise, generator, noise_dtype, feat.device
            )
        ctx = self.context(feat[:, box.t[0] : end, slice(*box.h), slice(*box.w)], origin, trailing)
        out = self.sample(start.to(device=feat.device, dtype=feat.dtype), ctx)
        px = [self.pixel_interval(a, *iv) for a, iv in enumerate((box.t, box.h, box.w))]
        return out[:, :, : px[0][1] - px[0][0], : px[1][1] - px[1][0], : px[2][1] - px[2][0]]

    # --- the call -----------------------------------------------------------------------------------------------

    def check_latent(self, latent: torch.Tensor) -> None:
        channels = self.config.latent_channels
        if latent.dim() != 5 or latent.shape[1] != channels:
            raise InputError(
                f"latent shape {tuple(latent.shape)} is invalid; expected (batch, {channels}, frames, h, w)"
            )

    def prepare(self, latent: torch.Tensor) -> tuple[torch.Tensor, Padding, torch.Tensor]:
        """Padded latent (weights dtype), what was padded, and the stage-4 features."""
        self.check_latent(latent)
        weight = self.conv_in.weight
        padded, pads = self.pad_latent(latent.to(device=weight.device, dtype=weight.dtype))
        return padded, pads, self.features(padded)

    def work_noise(
        self,
        batch: int,
        s4: tuple[int, int, int],
        dtype: torch.dtype,
        generator: torch.Generator | None,
        device: torch.device,
    ) -> torch.Tensor | None:
        """The one draw at the padded work pixel shape, or None for the per-tile drawing variant (§4.7)."""
        if self.draws_per_tile():
            return None
        shape = (batch, self.config.out_channels, *(self.pixel_interval(a, 0, n)[1] for a, n in enumerate(s4)))
        return _draw(shape, dtype, generator, device)

    def forward(
        self,
        latent: torch.Tensor,
        timestep: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        *,
        noise: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """(B, C_lat, L, h, w) normalised latent → (B, 3, 8(L−1)+1, 32h, 32w) pixels in the latent dtype, not
        clamped. `timestep` is the conv decoder's argument and must be None here. `noise` replaces the draw at the
        padded work shape (or the untiled per-tile draw) from `generator`."""
        if timestep is not None:
            raise InputError("the diffusion video decoder takes no decode timestep; pass None")
        with torch.no_grad():
            padded, pads, feat = self.prepare(latent)
            s4 = self.s4_shape(tuple(padded.shape))
            if noise is None:
                noise = self.work_noise(latent.shape[0], s4, latent.dtype, generator, feat.device)
            box = TileBox((0, s4[0]), (0, s4[1]), (0, s4[2]))
            pixels = self.decode_tile(feat, box, s4[0], noise, generator, latent.dtype)
            return crop_to_content(pixels, latent.shape, pads, 0).to(latent.dtype)


def _draw(
    shape: tuple[int, ...], dtype: torch.dtype, generator: torch.Generator | None, device: torch.device
) -> torch.Tensor:
    """torch.randn on the generator's device (else `device`), in `dtype`: the official draw."""
    where = generator.device if generator is not None else device
    return torch.randn(shape, dtype=dtype, generator=generator, device=where)


def crop_to_content(pixels: torch.Tensor, latent_shape: tuple[int, ...], pads: Padding, frame0: int) -> torch.Tensor:
    """Drop work frames past the content (from absolute frame `frame0` on) and the H/W padding (§4.8)."""
    frames = 8 * (latent_shape[2] - 1) + 1
    keep = max(0, min(pixels.shape[2], frames - frame0))
    h, w = 32 * latent_shape[3], 32 * latent_shape[4]
    return pixels[:, :, :keep].narrow(3, 32 * pads.height[0], h).narrow(4, 32 * pads.width[0], w)
