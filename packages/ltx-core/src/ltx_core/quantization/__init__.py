"""Weight quantization policies for the transformer (spec B.8): fp8-cast (store fp8, compute in the input dtype) and
fp8-scaled-mm (pre-quantized fp8 checkpoints, computed with fp8 matmuls)."""

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
from ltx_core.quantization.fp8_scaled_mm import (
    FP8ScaledLinear,
    check_quantization_fits,
    fuse_scaled_loras,
    is_scaled_fp8_checkpoint,
    keeps_stored_dtype,
    prepare_fp8_scaled_linears,
    quantization_for,
    requantize,
    scaled_fp8_stems,
    use_fp8_scaled_linears,
)
from ltx_core.quantization.policy import Quantization, parse_quantization

__all__ = [
    "FP8_CAST_KEY_MAP",
    "FP8_CAST_SUFFIXES",
    "FP8_DTYPE",
    "FP8ScaledLinear",
    "Quantization",
    "UpcastLinear",
    "check_fp8_cast_checkpoint",
    "check_fp8_cast_device",
    "check_quantization_fits",
    "fuse_scaled_loras",
    "is_fp8_cast_key",
    "is_scaled_fp8_checkpoint",
    "keeps_stored_dtype",
    "parse_quantization",
    "prepare_fp8_scaled_linears",
    "quantization_for",
    "requantize",
    "round_trip_fp8",
    "scaled_fp8_stems",
    "use_fp8_scaled_linears",
    "use_upcast_linears",
]
