"""Which quantization the user asked for: none, fp8-cast (bf16 checkpoints) or fp8-scaled-mm (pre-quantized fp8)."""

from __future__ import annotations

from enum import Enum

from ltx_core.errors import InputError


class Quantization(Enum):
    NONE = "none"
    FP8_CAST = "fp8-cast"
    FP8_SCALED_MM = "fp8-scaled-mm"


def parse_quantization(value: str | Quantization | None) -> Quantization:
    """CLI/Python value → policy (None means none)."""
    if value is None:
        return Quantization.NONE
    if isinstance(value, Quantization):
        q = value
    else:
        try:
            q = Quantization(str(value).strip().lower())
        except ValueError:
            valid = ", ".join(m.value for m in Quantization)
            raise InputError(f"quantization {value!r} is not known; valid: {valid}") from None
    return q
