"""Transfer curves between scene-linear light and the [0, 1] codes the video VAE works in (spec NP 5.2-5.3, D 15).

ACEScct (the native HDR working space) and ARRI LogC3 EI 800 (the HDR IC-LoRA's). Each maps linear → codes
(`compress`, clamped to [0, 1]) and codes → linear (`decompress`, the codes clamped to [0, 1] first; the linear
result is not clamped here: `spaces.to_linear` clamps after the primaries matrix). All math stays in the input's
float dtype (float32 in the pipelines), elementwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import torch

from ltx_core.hdr.primaries import Primaries

# ACEScct (S-2016-001): the linear segment below X_BREAK, log2 above.
_ACESCCT_X_BREAK = 0.0078125
_ACESCCT_Y_BREAK = 0.155251141552511
_ACESCCT_A = 10.5402377416545
_ACESCCT_B = 0.0729055341958355
_ACESCCT_LOG_OFFSET = 9.72
_ACESCCT_LOG_SCALE = 17.52
_LOG_FLOOR = 1e-12

# ARRI LogC3, EI 800 (spec D 15).
_LOGC3_A = 5.555556
_LOGC3_B = 0.052272
_LOGC3_C = 0.247190
_LOGC3_D = 0.385537
_LOGC3_E = 5.367655
_LOGC3_F = 0.092809
_LOGC3_CUT = 0.010591


class TransferName(StrEnum):
    ACESCCT = "acescct"
    LOGC3 = "logc3"


def _acescct_compress(x: torch.Tensor) -> torch.Tensor:
    x = x.clamp(min=0)
    log = (torch.log2(x.clamp(min=_LOG_FLOOR)) + _ACESCCT_LOG_OFFSET) / _ACESCCT_LOG_SCALE
    return torch.where(x > _ACESCCT_X_BREAK, log, _ACESCCT_A * x + _ACESCCT_B).clamp(0, 1)


def _acescct_decompress(codes: torch.Tensor) -> torch.Tensor:
    c = codes.clamp(0, 1)
    log = torch.pow(2.0, _ACESCCT_LOG_SCALE * c - _ACESCCT_LOG_OFFSET)
    return torch.where(c > _ACESCCT_Y_BREAK, log, (c - _ACESCCT_B) / _ACESCCT_A)


def _logc3_compress(x: torch.Tensor) -> torch.Tensor:
    x = x.clamp(min=0)
    log = _LOGC3_C * torch.log10(_LOGC3_A * x + _LOGC3_B) + _LOGC3_D
    return torch.where(x >= _LOGC3_CUT, log, _LOGC3_E * x + _LOGC3_F).clamp(0, 1)


def _logc3_decompress(codes: torch.Tensor) -> torch.Tensor:
    y = codes.clamp(0, 1)
    cut = _LOGC3_E * _LOGC3_CUT + _LOGC3_F
    log = (torch.pow(10.0, (y - _LOGC3_D) / _LOGC3_C) - _LOGC3_B) / _LOGC3_A
    return torch.where(y >= cut, log, (y - _LOGC3_F) / _LOGC3_E)


@dataclass(frozen=True)
class Transfer:
    """A log transfer: linear light in `working_primaries` ↔ codes in [0, 1]. `compress_ldr` is what an SDR
    (display-referred, already in [0, 1]) signal gets instead of `compress`: a clamp, the codes taken as they are."""

    name: TransferName
    working_primaries: Primaries  # the primaries of the light the codes encode

    def compress(self, linear: torch.Tensor) -> torch.Tensor:
        """Linear (negatives clamped to 0) → codes, clamped to [0, 1]."""
        return _acescct_compress(linear) if self.name is TransferName.ACESCCT else _logc3_compress(linear)

    def decompress(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes (clamped to [0, 1] first) → linear; the linear segment gives small negatives below its zero."""
        return _acescct_decompress(codes) if self.name is TransferName.ACESCCT else _logc3_decompress(codes)

    @staticmethod
    def compress_ldr(values: torch.Tensor) -> torch.Tensor:
        return values.clamp(0, 1)


ACESCCT = Transfer(TransferName.ACESCCT, Primaries.ACESCG)
LOGC3 = Transfer(TransferName.LOGC3, Primaries.REC709)  # the HDR IC-LoRA's working space
