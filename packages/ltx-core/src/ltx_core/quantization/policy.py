"""Which quantization the user asked for; fp8-scaled-mm (pre-quantized fp8 checkpoints) is not implemented yet."""

from __future__ import annotations

from enum import Enum

from ltx_core.errors import InputError


class Quantization(Enum):
    NONE = "none"
    FP8_CAST = "fp8-cast"
    FP8_SCALED_MM = "fp8-scaled-mm"


def parse_quantization(value: str | Quantization | None) -> Quantization:
    """CLI/Python value → policy; fp8-scaled-mm is refused with a clear message rather than silently ignored."""
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
    if q is Quantization.FP8_SCALED_MM:
        raise InputError(
            "quantization 'fp8-scaled-mm' (pre-quantized fp8 checkpoints) is not supported yet; "
            "use a bf16 checkpoint with 'fp8-cast'"
        )
    return q
