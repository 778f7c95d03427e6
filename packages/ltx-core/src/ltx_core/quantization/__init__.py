"""Weight quantization policies for the transformer (spec B.8): fp8-cast (store fp8, compute in the input dtype)."""

from ltx_core.quantization.fp8_cast import (
    FP8_CAST_KEY_MAP,
    FP8_CAST_SUFFIXES,
    FP8_DTYPE,
    UpcastLinear,
    check_fp8_cast_checkpoint,
    check_fp8_cast_device,
    is_fp8_cast_key,
    round_trip_fp8,
    use_upcast_linears,
)
from ltx_core.quantization.policy import Quantization, parse_quantization

__all__ = [
    "FP8_CAST_KEY_MAP",
    "FP8_CAST_SUFFIXES",
    "FP8_DTYPE",
    "Quantization",
    "UpcastLinear",
    "check_fp8_cast_checkpoint",
    "check_fp8_cast_device",
    "is_fp8_cast_key",
    "parse_quantization",
    "round_trip_fp8",
    "use_upcast_linears",
]
