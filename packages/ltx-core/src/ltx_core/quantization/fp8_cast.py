"""fp8-cast (spec B.8): the block Linears of a bf16 transformer are stored as float8_e4m3fn (no scale) and every
Linear upcasts its weight and bias to the input's dtype before the matmul.

Halves the transformer's weight memory at the cost of rounding those weights to fp8 once at load; the compute is
exactly `F.linear(x, fp8(W).to(x.dtype), fp8(b).to(x.dtype))`, i.e. a model whose weights were round-tripped
through fp8. Down-casting happens through a key-map op (evaluated on the renamed key), so it composes with every
loader (resident, cpu and disk streaming).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ltx_core.errors import CheckpointError, InputError
from ltx_core.loader.key_map import KeyMap
from ltx_core.loader.safetensors_file import Checkpoint

FP8_DTYPE = torch.float8_e4m3fn
BLOCKS_PREFIX = "transformer_blocks."
# The official TRANSFORMER_LINEAR_DOWNCAST_MAP: attention q/k/v/out and both feed-forward Linears of every block,
# weights and biases. Not covered: to_gate_logits, norms, tables, everything outside the blocks.
FP8_CAST_SUFFIXES: tuple[str, ...] = tuple(
    f"{stem}.{kind}"
    for stem in (".to_q", ".to_k", ".to_v", ".to_out.0", "ff.net.0.proj", "ff.net.2")
    for kind in ("weight", "bias")
)
# Stored dtypes fp8-cast accepts (a pre-quantized fp8 file needs fp8-scaled-mm instead).
_CASTABLE = (torch.bfloat16, torch.float32, torch.float16)


def is_fp8_cast_key(name: str) -> bool:
    """True for a renamed transformer key that fp8-cast stores in fp8."""
    return name.startswith(BLOCKS_PREFIX) and name.endswith(FP8_CAST_SUFFIXES)


def _to_fp8(_key: str, tensor: torch.Tensor) -> torch.Tensor:
    return tensor.to(FP8_DTYPE)


FP8_CAST_KEY_MAP = KeyMap(
    name="fp8_cast",
    ops=tuple((BLOCKS_PREFIX, suffix, _to_fp8) for suffix in FP8_CAST_SUFFIXES),
)


def round_trip_fp8(tensor: torch.Tensor) -> torch.Tensor:
    """The value a weight takes under fp8-cast, in its original dtype (for reference models in tests)."""
    return tensor.to(FP8_DTYPE).to(tensor.dtype)


class UpcastLinear(nn.Linear):
    """nn.Linear whose stored weight/bias may be fp8: both are converted to the input's dtype (exact upcast)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = self.bias.to(x.dtype) if self.bias is not None else None
        return F.linear(x, self.weight.to(x.dtype), bias)


def use_upcast_linears(model: nn.Module) -> nn.Module:
    """Give every nn.Linear of `model` the upcasting forward, in place (parameter names and tensors unchanged)."""
    for module in model.modules():
        if type(module) is nn.Linear:
            module.__class__ = UpcastLinear
    return model


def check_fp8_cast_device(device: torch.device | str, quantization: str = "fp8-cast") -> None:
    """Refuse devices that cannot hold fp8 tensors (e.g. Apple MPS) before anything is loaded."""
    dev = torch.device(device)
    if dev.type == "mps":
        raise InputError(f"quantization {quantization!r} is not supported on Apple MPS (no float8 tensors)")
    try:
        probe = torch.ones(2, dtype=torch.bfloat16, device=dev).to(FP8_DTYPE)
        ok = bool(torch.equal(probe.to(torch.bfloat16), torch.ones(2, dtype=torch.bfloat16, device=dev)))
    except (RuntimeError, TypeError, NotImplementedError):
        ok = False
    if not ok:
        raise InputError(f"quantization {quantization!r} is not supported on device {dev} (float8 conversion fails)")


def check_fp8_cast_checkpoint(checkpoint: Checkpoint, selected: dict[str, str]) -> None:
    """fp8-cast down-casts bf16/fp32 weights; a checkpoint whose block Linears are stored in another dtype (already
    fp8, or integer) cannot take it. `selected` maps renamed key → source key (KeyMap.select)."""
    targets = [(name, src) for name, src in selected.items() if is_fp8_cast_key(name)]
    if not targets:
        raise CheckpointError(f"{checkpoint.path}: no transformer block Linear weights found for fp8-cast")
    for name, src in targets:
        dtype = checkpoint.info(src).dtype
        if dtype not in _CASTABLE:
            raise CheckpointError(
                f"{checkpoint.path}: fp8-cast needs a bf16/fp32 checkpoint but {name} is stored as {dtype}; "
                "use the bf16 checkpoint, or quantization 'fp8-scaled-mm' for a pre-quantized fp8 file"
            )
