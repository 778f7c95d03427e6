"""Stochastic rounding of LoRA-fused fp8 weights (spec B.7), as the official fusion does on CUDA when Triton is
installed: x = fp16(W_fp8) + fp16(Δ), then bf16(x + r·ULP) with r = rand(seed, i) − 0.5 per flat element index i
(Triton's Philox uniform, seed 0) and ULP the fp8 e4m3 spacing at x; the later cast to fp8 (round to nearest) then
rounds up with probability equal to x's distance from the grid point below, so no rounding bias accumulates.

Only the random numbers need Triton (`tl.rand`, so the stream is the official one); the rest is plain torch. On the
CPU, or without a usable Triton (`ltx_core.toolchain`: Triton also needs a C compiler and the Python headers to
launch a kernel), fusion stays deterministic (`bf16(Δ) + bf16(W)` then fp8), as the official code does there.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any

import torch

from ltx_core import toolchain

E4M3_EXPONENT_BIAS = 7
E4M3_MANTISSA_BITS = 3
FP16_EXPONENT_BIAS = 15
_BLOCK = 1024


def fp8_rounding_inputs(weight: torch.Tensor, delta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, ulp): x = fp16(W) + fp16(Δ) in fp16, and the float32 e4m3 spacing at x (0 where x == 0).

    From x's fp16 exponent e (−14 for subnormals): E = clamp(e + 7, 0, 15); ULP = 2^(E − 10) if E > 0 else 2^−9."""
    x = weight.to(torch.float16) + delta.to(torch.float16)
    bits = x.view(torch.int16).to(torch.int32)
    e = ((bits >> 10) & 0x1F) - FP16_EXPONENT_BIAS
    e = torch.where(e == -FP16_EXPONENT_BIAS, torch.full_like(e, 1 - FP16_EXPONENT_BIAS), e)
    big_e = (e + E4M3_EXPONENT_BIAS).clamp(0, 2 * E4M3_EXPONENT_BIAS + 1)
    ulp_exp = torch.where(
        big_e > 0,
        big_e - E4M3_EXPONENT_BIAS - E4M3_MANTISSA_BITS,
        torch.full_like(big_e, 1 - E4M3_EXPONENT_BIAS - E4M3_MANTISSA_BITS),
    )
    ulp = torch.exp2(ulp_exp.to(torch.float32))
    return x, torch.where(x == 0, torch.zeros_like(ulp), ulp)


def stochastic_fp8_fuse(weight: torch.Tensor, delta: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """bf16(x + (rand(seed, i) − 0.5)·ULP) for x = fp16(W) + fp16(Δ); cast it to fp8 to finish the fusion.
    Needs Triton (CUDA tensors, or any tensors under TRITON_INTERPRET=1)."""
    x, ulp = fp8_rounding_inputs(weight, delta)
    r = philox_uniform(x.numel(), seed, x.device).reshape(x.shape) - 0.5
    return (x.to(torch.float32) + r * ulp).to(torch.bfloat16)


def stochastic_rounding_available(device: torch.device) -> bool:
    """The official condition for the stochastic path (a CUDA device and Triton importable), and Triton able to
    build its launcher here (a C compiler and the Python headers): else fusion stays deterministic rather than
    failing at the first kernel launch."""
    return device.type == "cuda" and toolchain.triton_usable()


def philox_uniform(n: int, seed: int, device: torch.device) -> torch.Tensor:
    """Triton's `tl.rand(seed, i)` for i = 0..n−1 (float32 in [0, 1))."""
    out = torch.empty(n, dtype=torch.float32, device=device)
    if n:
        # Triton launches on the current CUDA device; make it `out`'s (cuda:1 while cuda:0 is current)
        on_device = torch.cuda.device(out.device) if out.device.type == "cuda" else contextlib.nullcontext()
        with on_device:
            _uniform_kernel()[(triton_cdiv(n, _BLOCK),)](out, n, seed, BLOCK=_BLOCK)
    return out


def triton_cdiv(a: int, b: int) -> int:
    return -(-a // b)


@functools.cache
def _uniform_kernel() -> Any:
    import triton
    import triton.language as tl

    @triton.jit
    def uniform(out_ptr, n, seed, BLOCK: tl.constexpr):  # noqa: ANN001, ANN202 - a Triton kernel
        offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        tl.store(out_ptr + offsets, tl.rand(seed, offsets), mask=offsets < n)

    return uniform
