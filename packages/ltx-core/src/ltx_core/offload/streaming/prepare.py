"""One tensor from file to its in-memory form, the same way in every mode (resident, cpu, disk).

Order: cast floats to the build dtype (never pre-quantized fp8 weights or their scales) → key-map ops (fp8-cast
down-cast) → LoRA fusion (`fuse_loras_in_place`). For non-fp8 weights this
is exactly what `ltx_core.loader.load_model` computes (Δ by the numerics' rule, W' = Δ + W); for fp8-cast weights it
is the official order (the weight is rounded to fp8 first, then W' = fp8(bf16(Δ) + bf16(W_fp8))).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ltx_core.loader.key_map import KeyMap
from ltx_core.loader.lora import LoraWeights, delta_dtype_for, fuse_weight, lora_delta
from ltx_core.numerics import DEFAULT_NUMERICS, Numerics
from ltx_core.quantization.fp8_scaled_mm import fuse_scaled_loras, keeps_stored_dtype

_WEIGHT = ".weight"


@dataclass(frozen=True)
class TensorRecipe:
    """The cast and ops applied to every tensor of a component; LoRAs are fused separately (see `fuse_loras`), by
    the rule of `numerics`, which travels here because every streamed tensor passes through its recipe."""

    key_map: KeyMap
    dtype: torch.dtype | None = None
    numerics: Numerics = DEFAULT_NUMERICS

    def convert(self, name: str, tensor: torch.Tensor) -> torch.Tensor:
        """Cast and key-map ops for the tensor called `name` (renamed key)."""
        if (
            self.dtype is not None
            and tensor.is_floating_point()
            and tensor.dtype != self.dtype
            and not keeps_stored_dtype(name, tensor.dtype)
        ):
            tensor = tensor.to(self.dtype)
        return self.key_map.apply_ops(name, tensor)


def fuse_loras(
    name: str,
    tensor: torch.Tensor,
    loras: Sequence[tuple[LoraWeights, float]],
    device: torch.device,
    numerics: Numerics = DEFAULT_NUMERICS,
) -> torch.Tensor | None:
    """The LoRA-fused version of weight `name` computed on `device` (same dtype), or None when no LoRA touches it."""
    if not loras or not name.endswith(_WEIGHT):
        return None
    delta = lora_delta(loras, name[: -len(_WEIGHT)], delta_dtype_for(tensor.dtype, numerics), device)
    if delta is None:
        return None
    return fuse_weight(tensor.to(device), delta, tensor.dtype)


def fuse_loras_in_place(
    tensors: dict[str, torch.Tensor],
    loras: Sequence[tuple[LoraWeights, float]],
    device: torch.device,
    prefix: str = "",
    numerics: Numerics = DEFAULT_NUMERICS,
) -> None:
    """Fuse LoRAs into `tensors` in place, computed on `device`; keys are renamed keys without `prefix` (one block's
    views, or a component's state with no prefix). Tensor by tensor (`fuse_loras`), except pre-quantized fp8 weights,
    which are re-quantized together with their `.weight_scale`. Every loading mode fuses through here."""
    if not loras:
        return
    scaled = {name[: -len("_scale")] for name in tensors if name.endswith(".weight_scale")}
    for name, tensor in tensors.items():
        if name not in scaled:
            fused = fuse_loras(prefix + name, tensor, loras, device, numerics)
            if fused is not None:
                tensor.copy_(fused)
    if scaled:
        named = {prefix + name: tensor for name, tensor in tensors.items()}
        fuse_scaled_loras(named, [prefix + n[: -len(".weight")] for n in sorted(scaled)], loras, device)
