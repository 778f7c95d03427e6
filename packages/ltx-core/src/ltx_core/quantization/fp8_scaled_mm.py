"""fp8-scaled-mm (spec B.8): run a pre-quantized fp8 checkpoint as stored.

Such a checkpoint stores some Linears as an fp8 e4m3 `weight` with a per-tensor float32 `weight_scale` and a static
per-tensor `input_scale`. Those Linears become `FP8ScaledLinear`: the input is quantized with the static scale and
multiplied in fp8 by `torch._scaled_mm` (float32 accumulation, both scales applied, bf16 out), as the official
PyTorch path does. Where `_scaled_mm` cannot run (CUDA before sm 8.9, shapes that are not multiples of 16 on CUDA,
backends without the kernel) the same math runs as a float32 matmul of the fp8 values. LoRAs are fused by
dequantizing, adding Δ and re-quantizing with a fresh scale.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence

import torch
from torch import nn

from ltx_core.errors import CheckpointError
from ltx_core.loader.lora import LoraWeights, lora_delta
from ltx_core.loader.safetensors_file import Checkpoint
from ltx_core.quantization.policy import Quantization, parse_quantization

FP8_DTYPE = torch.float8_e4m3fn
FP8_MAX = 448.0  # largest finite float8_e4m3fn
SCALE_SUFFIXES = (".weight_scale", ".input_scale")
_FP8_DTYPES = (torch.float8_e4m3fn, torch.float8_e5m2)


def keeps_stored_dtype(name: str, stored: torch.dtype) -> bool:
    """fp8 tensors and their scales are never cast to the build dtype (that would undo the quantization)."""
    return stored in _FP8_DTYPES or name.endswith(SCALE_SUFFIXES)


def scaled_fp8_stems(checkpoint: Checkpoint, selected: dict[str, str]) -> list[str]:
    """Renamed stems `P` of the pre-quantized Linears: `P.weight` stored as fp8 e4m3 with a `P.weight_scale`.
    `selected` maps renamed key → source key (KeyMap.select)."""
    return sorted(
        name[: -len(".weight_scale")]
        for name in selected
        if name.endswith(".weight_scale")
        and name[: -len("_scale")] in selected
        and checkpoint.info(selected[name[: -len("_scale")]]).dtype == FP8_DTYPE
    )


def is_scaled_fp8_checkpoint(checkpoint: Checkpoint) -> bool:
    """True when the file holds at least one pre-quantized fp8 Linear (read from the header only)."""
    return bool(scaled_fp8_stems(checkpoint, {key: key for key in checkpoint.keys()}))


def check_quantization_fits(quantization: Quantization, pre_quantized: bool, source: object) -> None:
    """A pre-quantized fp8 checkpoint runs only with fp8-scaled-mm, and fp8-scaled-mm only runs one: one line."""
    if pre_quantized and quantization is not Quantization.FP8_SCALED_MM:
        raise CheckpointError(
            f"{source}: a pre-quantized fp8 checkpoint needs quantization 'fp8-scaled-mm', not {quantization.value!r}"
        )
    if not pre_quantized and quantization is Quantization.FP8_SCALED_MM:
        raise CheckpointError(
            f"{source}: quantization 'fp8-scaled-mm' needs a pre-quantized fp8 checkpoint (fp8 weights with "
            "'.weight_scale' tensors) but this one has none; use 'fp8-cast' for a bf16 checkpoint"
        )


def quantization_for(requested: str | Quantization | None, checkpoint: Checkpoint) -> Quantization:
    """The policy to run `checkpoint` with: as requested, except that none on a pre-quantized file becomes
    fp8-scaled-mm (the only way it runs; the official CLI makes the user say so). A misfit is a one-line error."""
    quantization = parse_quantization(requested)
    pre_quantized = is_scaled_fp8_checkpoint(checkpoint)
    if pre_quantized and quantization is Quantization.NONE:
        return Quantization.FP8_SCALED_MM
    check_quantization_fits(quantization, pre_quantized, checkpoint.path)
    return quantization


class FP8ScaledLinear(nn.Module):
    """A Linear stored as fp8 with per-tensor weight and (static) input scales; computes in fp8 with `_scaled_mm`.

    Whether `_scaled_mm` runs is decided once per device (`decide_kernel`, called by the loaders at build time), not
    on each of the ~800 calls per forward: no capability query nor try/except in the hot path (a graph break under
    compile). A layer used on a device it was not prepared for decides on its first call there."""

    def __init__(
        self, in_features: int, out_features: int, bias: bool, device: torch.device | str | None = None
    ) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.empty(out_features, in_features, dtype=FP8_DTYPE, device=device), False)
        self.weight_scale = nn.Parameter(torch.empty((), dtype=torch.float32, device=device), False)
        self.input_scale = nn.Parameter(torch.empty((), dtype=torch.float32, device=device), False)
        self.bias = nn.Parameter(torch.empty(out_features, device=device), False) if bias else None
        self.uses_scaled_mm: dict[torch.device, bool] = {}  # compute device → run `torch._scaled_mm` there

    def decide_kernel(self, device: torch.device | str) -> bool:
        """Decide (and remember) whether this layer runs `torch._scaled_mm` on `device`."""
        dev = _indexed(torch.device(device))
        use = self.uses_scaled_mm[dev] = scaled_mm_runs(dev, self.in_features, self.out_features)
        return use

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        use = self.uses_scaled_mm.get(x.device)
        if use is None:
            use = self.decide_kernel(x.device)
        # x (bf16) times a 0-d float32 tensor stays bf16: rounded before the clamp and the fp8 cast, as official.
        q = (x * self.input_scale.reciprocal()).clamp(-FP8_MAX, FP8_MAX).to(FP8_DTYPE)
        q = q.reshape(-1, x.shape[-1]).contiguous()  # _scaled_mm needs a row-major left operand (a no-op as a rule)
        y = scaled_matmul(q, self.weight, self.input_scale, self.weight_scale, x.dtype, use)
        if self.bias is not None:
            y = y + self.bias.to(y.dtype)
        return y.reshape(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


def scaled_matmul(
    q: torch.Tensor,
    weight: torch.Tensor,
    scale_a: torch.Tensor,
    scale_b: torch.Tensor,
    out_dtype: torch.dtype,
    use_scaled_mm: bool,
) -> torch.Tensor:
    """(q · scale_a) @ (weight · scale_b)ᵀ with fp8 operands: `torch._scaled_mm` (fast accumulation) when
    `use_scaled_mm` (see `scaled_mm_runs`), else the same product as a float32 matmul rounded once to `out_dtype`."""
    if use_scaled_mm:
        return torch._scaled_mm(
            q, weight.t(), scale_a=scale_a, scale_b=scale_b, out_dtype=out_dtype, use_fast_accum=True
        )
    product = q.to(torch.float32) @ weight.to(torch.float32).t()
    return (product * (scale_a.to(torch.float32) * scale_b.to(torch.float32))).to(out_dtype)


def scaled_mm_runs(device: torch.device, in_features: int, out_features: int) -> bool:
    """CUDA: fp8 tensor cores (sm 8.9+) and the 16-multiple shapes cuBLASLt needs; meta: no; other backends:
    whether their `_scaled_mm` kernel exists (probed once per device)."""
    if device.type == "cuda":
        return in_features % 16 == 0 and out_features % 16 == 0 and _cuda_has_fp8_mm(device)
    if device.type == "meta":
        return False
    return _backend_has_scaled_mm(device)


def prepare_fp8_scaled_linears(model: nn.Module, device: torch.device | str) -> None:
    """Decide the kernel of every `FP8ScaledLinear` of `model` for `device`, once, at build time."""
    for module in model.modules():
        if isinstance(module, FP8ScaledLinear):
            module.decide_kernel(device)


def _indexed(device: torch.device) -> torch.device:
    """cuda → cuda:<current>, the device tensors report (decisions are keyed by it)."""
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", torch.cuda.current_device())
    return device


@functools.cache
def _cuda_has_fp8_mm(device: torch.device) -> bool:
    return torch.cuda.get_device_capability(device) >= (8, 9)


@functools.cache
def _backend_has_scaled_mm(device: torch.device) -> bool:
    try:
        q = torch.zeros(16, 16, device=device).to(FP8_DTYPE)
        one = torch.ones((), dtype=torch.float32, device=device)
        torch._scaled_mm(q, q.t(), scale_a=one, scale_b=one, out_dtype=torch.bfloat16, use_fast_accum=True)
    except (RuntimeError, NotImplementedError, TypeError):
        return False
    return True


def use_fp8_scaled_linears(model: nn.Module, stems: Iterable[str]) -> nn.Module:
    """Swap the nn.Linear named by each stem for an `FP8ScaledLinear` of the same shape (on the Linear's device,
    typically meta before loading). A stem that names no Linear is a checkpoint/model mismatch."""
    for stem in stems:
        parent_name, _, leaf = stem.rpartition(".")
        try:
            parent = model.get_submodule(parent_name) if parent_name else model
            linear = getattr(parent, leaf)
        except AttributeError:
            linear = None
        if not isinstance(linear, nn.Linear):
            raise CheckpointError(f"the checkpoint quantizes '{stem}' but the model has no Linear by that name")
        has_bias = linear.bias is not None
        setattr(parent, leaf, FP8ScaledLinear(linear.in_features, linear.out_features, has_bias, linear.weight.device))
    return model


def requantize(weight: torch.Tensor, scale: torch.Tensor, delta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(fp8 weight, new 0-d scale) of W·scale + Δ, re-quantized per tensor with s = 448 / max|W'| (spec B.7)."""
    fused = weight.to(torch.float32) * scale.to(torch.float32) + delta.to(torch.float32)
    s = FP8_MAX / fused.abs().max()
    q = (fused * s).clamp(-FP8_MAX, FP8_MAX).to(FP8_DTYPE)
    return q, s.reciprocal()


def fuse_scaled_loras(
    state: dict[str, torch.Tensor],
    stems: Sequence[str],
    loras: Sequence[tuple[LoraWeights, float]],
    device: torch.device,
) -> None:
    """Fuse LoRAs into the pre-quantized weights of `state` in place (computed on `device`; Δ in bf16, as the
    official fusion uses for fp8 targets); each touched weight gets a fresh scale."""
    for stem in stems:
        delta = lora_delta(loras, stem, torch.bfloat16, device)
        if delta is None:
            continue
        weight, scale = state[f"{stem}.weight"], state[f"{stem}.weight_scale"]
        q, new_scale = requantize(weight.to(device), scale.to(device), delta)
        weight.copy_(q)
        scale.copy_(new_scale)
