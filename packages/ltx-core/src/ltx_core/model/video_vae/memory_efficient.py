"""Memory-efficient decoder forward (the official pipelines' default decode path).

Same function as the standard forward, with fewer full-size temporaries: each `res_x` stage works in one padded
workspace `(B, C, F+2, H, W)` where the residual branch is computed in place, and the non-causal 3×3×3 convs run
chunked in time on that workspace (chunk sizes as the official op, so the convolution sees the same shapes).
It returns the weights dtype (the official op does not cast back to the input dtype).

On CPU, oneDNN copies (reorders) a conv's whole weight on every call: 432 MiB for the LTX-2.3 1024→4096
upsampler, more than the activations of a 49×256×384 decode. So CPU convs with large weights run in output-channel
groups (bitwise the same result); this is what lets tiled decoding cut the CPU peak.
"""

from __future__ import annotations

import torch
import torch.nn.functional as fn
from torch import nn

from ltx_core.model.video_vae.decoder import VideoDecoder
from ltx_core.model.video_vae.layers import (
    CausalConv3d,
    DepthToSpaceUpsample,
    PixelNorm,
    ResnetBlock3D,
    UNetMidBlock3D,
    _spatial_noise,
)
from ltx_core.model.video_vae.ops import pixel_norm_, replicate_pad_time, unpatchify

_MAX_CHUNK = 16
_INT32_MAX = 2**31 - 1
CPU_WEIGHT_GROUP_BYTES = 8 * 2**20  # largest weight slice one CPU conv call may reorder (oneDNN copies it)


def out_channel_groups(conv: nn.Conv3d, device: torch.device) -> list[tuple[int, int]]:
    """Output-channel ranges to convolve separately: one range except on CPU for weights over the group budget."""
    out = conv.out_channels
    weight = conv.weight
    size = weight.numel() * weight.element_size()
    if device.type != "cpu" or conv.groups != 1 or size <= CPU_WEIGHT_GROUP_BYTES:
        return [(0, out)]
    step = max(1, out * CPU_WEIGHT_GROUP_BYTES // size)
    step = step - step % 64 if step >= 64 else step  # whole SIMD blocks of output channels
    return [(o, min(o + step, out)) for o in range(0, out, step)]


def conv3d(conv: nn.Conv3d, x: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """`conv(x)`, written into `out` when given (which must not alias `x`), by output-channel groups on CPU."""
    groups = out_channel_groups(conv, x.device)
    if len(groups) == 1 and out is None:
        return conv(x)
    padding = conv.padding
    if conv.padding_mode != "zeros":
        x = fn.pad(x, [p for p in reversed(padding) for _ in range(2)], mode=conv.padding_mode)
        padding = (0, 0, 0)
    if out is None:
        b, _, t, h, w = x.shape
        ot, oh, ow = (
            (size + 2 * p - d * (k - 1) - 1) // s + 1
            for size, p, d, k, s in zip((t, h, w), padding, conv.dilation, conv.kernel_size, conv.stride, strict=True)
        )
        out = x.new_empty(b, conv.out_channels, ot, oh, ow)
    bias = conv.bias
    for o0, o1 in groups:
        y = fn.conv3d(x, conv.weight[o0:o1], None if bias is None else bias[o0:o1], conv.stride, padding, conv.dilation)
        out[:, o0:o1].copy_(y)
        del y
    return out


def time_chunks(padded_frames: int) -> list[tuple[int, int]]:
    """(a, e) pairs: convolve padded frames [a, e+1) into padded output slots [a+1, e).

    One chunk when T ≤ 16; otherwise the first size s from 16 down to 3 with T mod s == 0 or ≥ 3.
    """
    t = padded_frames
    if t <= _MAX_CHUNK:
        return [(0, t - 1)]
    for s in range(_MAX_CHUNK, 2, -1):
        if t % s == 0 or t % s >= 3:
            break
    else:  # pragma: no cover - every t > 16 finds a size
        raise ValueError(f"no valid temporal chunk size for {t} padded frames")
    n = -(-t // s)
    return [(0, s)] + [(i * s - 1, min((i + 1) * s, t - 1)) for i in range(1, n)]


def conv_time_chunked(conv: nn.Conv3d, ws: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """Valid-in-time conv of the padded workspace `ws` (T frames) → T−2 frames.

    With `out=None` the result overwrites frames 1..T−2 of `ws` (in place); the one boundary frame each chunk
    still needs as input is saved before it is overwritten and swapped back in while that chunk runs.
    """
    t = ws.shape[2]
    in_place = out is None
    dst = ws[:, :, 1 : t - 1] if in_place else out
    clone = ws.numel() > _INT32_MAX
    saved = None
    for a, e in time_chunks(t):
        written = None
        if saved is not None:
            written = ws[:, :, a].clone()
            ws[:, :, a].copy_(saved)
        src = ws[:, :, a : e + 1]
        src = src.clone() if clone else src
        if not in_place:
            conv3d(conv, src, dst[:, :, a : e - 1])
            continue
        y = conv3d(conv, src)
        if written is not None:
            ws[:, :, a].copy_(written)
        saved = ws[:, :, e - 1].clone()
        dst[:, :, a : e - 1].copy_(y)
        del y
    return dst


def padded_workspace(x: torch.Tensor, causal: bool) -> torch.Tensor:
    """(B, C, F+2, H, W) copy of x with replicate time padding (2 leading copies when causal, else 1 + 1)."""
    b, c, f, h, w = x.shape
    ws = x.new_empty(b, c, f + 2, h, w)
    if causal:
        ws[:, :, 2:].copy_(x)
        ws[:, :, :2].copy_(x[:, :, :1].expand(-1, -1, 2, -1, -1))
    else:
        ws[:, :, 1 : f + 1].copy_(x)
        refresh_padding(ws)
    return ws


def refresh_padding(ws: torch.Tensor) -> None:
    f = ws.shape[2] - 2
    ws[:, :, 0].copy_(ws[:, :, 1])
    ws[:, :, f + 1].copy_(ws[:, :, f])


def conv_new(conv: CausalConv3d, ws: torch.Tensor) -> torch.Tensor:
    """Conv of a padded workspace into a fresh tensor."""
    b, _, t, h, w = ws.shape
    out = ws.new_empty(b, conv.conv.out_channels, t - 2, h, w)
    return conv_time_chunked(conv.conv, ws, out)


def _norm_(norm: nn.Module, x: torch.Tensor) -> None:
    if isinstance(norm, PixelNorm):
        pixel_norm_(x, norm.eps)
    else:
        x.copy_(norm(x))


def _conv_in_place(conv: CausalConv3d, ws: torch.Tensor, inner: torch.Tensor, causal: bool) -> None:
    if causal:
        inner.copy_(conv3d(conv.conv, replicate_pad_time(inner, *conv.time_pad(True))))
        return
    refresh_padding(ws)
    conv_time_chunked(conv.conv, ws)


def res_stage(
    block: UNetMidBlock3D,
    z: torch.Tensor,
    scaled_t: torch.Tensor | None,
    causal: bool,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """All res blocks of a `res_x` stage; `z` is updated in place and returned."""
    emb = block.embed(z, scaled_t)
    f = z.shape[2]
    ws = padded_workspace(z, causal=False)
    inner = ws[:, :, 1 : f + 1]
    for i, rb in enumerate(block.res_blocks):
        rb: ResnetBlock3D
        if i:
            inner.copy_(z)
        _norm_(rb.norm1, inner)
        if rb.timestep_conditioning:
            shift1, scale1, shift2, scale2 = rb.modulation(inner, emb)
            inner.mul_(1 + scale1).add_(shift1)
        fn.silu(inner, inplace=True)
        _conv_in_place(rb.conv1, ws, inner, causal)
        if rb.inject_noise:
            inner.add_(_spatial_noise(inner, rb.per_channel_scale1, generator))
        _norm_(rb.norm2, inner)
        if rb.timestep_conditioning:
            inner.mul_(1 + scale2).add_(shift2)
        fn.silu(inner, inplace=True)
        _conv_in_place(rb.conv2, ws, inner, causal)
        if rb.inject_noise:
            inner.add_(_spatial_noise(inner, rb.per_channel_scale2, generator))
        z.add_(inner)
    return z


@torch.no_grad()  # inference only: the in-place workspace would defeat autograd (use forward_standard to train)
def decode_memory_efficient(
    decoder: VideoDecoder,
    latent: torch.Tensor,
    timestep: torch.Tensor | None,
    generator: torch.Generator | None,
) -> torch.Tensor:
    causal = decoder.config.causal
    z, scaled_t = decoder.prepare(latent, timestep, generator)
    z = decoder.conv_in(z, causal)
    params = list(decoder.up_blocks.parameters())
    if params:
        z = z.to(params[0].dtype)
    for block in decoder.up_blocks:
        if isinstance(block, UNetMidBlock3D):
            z = res_stage(block, z, scaled_t, causal, generator)
        elif isinstance(block, DepthToSpaceUpsample):
            x_in = block.shortcut(z) if block.residual else None
            ws = padded_workspace(z, causal)
            del z
            y = block.finish(conv_new(block.conv, ws))
            del ws
            z = y if x_in is None else y.add_(x_in)
            del x_in, y
        else:
            z = block(z, causal, None, generator)
    if isinstance(decoder.conv_norm_out, PixelNorm):
        pixel_norm_(z, decoder.conv_norm_out.eps)
    else:
        z = decoder.conv_norm_out(z)
    z = decoder.last_modulation(z, scaled_t)
    fn.silu(z, inplace=True)
    ws = padded_workspace(z, causal)
    del z
    out = conv_new(decoder.conv_out, ws)
    del ws
    return unpatchify(out, decoder.config.patch_size)


class MemoryEfficientVideoDecoder(VideoDecoder):
    """`VideoDecoder` (same modules, same checkpoint keys) whose `forward` is `decode_memory_efficient`."""

    def forward(
        self,
        latent: torch.Tensor,
        timestep: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """(B, C_lat, F', H', W') → (B, C_out, 8(F'−1)+1, 32H', 32W') in the weights dtype (as official)."""
        return decode_memory_efficient(self, latent, timestep, generator)
