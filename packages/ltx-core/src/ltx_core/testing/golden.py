"""Access to golden fixture cases (official outputs on tiny checkpoints) and error reporting for parity tests.

The fixture folder is `$LTX_GOLDEN_DIR` when set, else the copy under `tests/golden` in the repository. Sizes are
never hard-coded in tests: they come from the checkpoint metadata or the case tensors.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ltx_core.loader.safetensors_file import SafetensorsFile

_REPO_GOLDEN = Path(__file__).resolve().parents[5] / "tests" / "golden"


def golden_dir() -> Path:
    env = os.environ.get("LTX_GOLDEN_DIR")
    return Path(env) if env else _REPO_GOLDEN


@dataclass
class GoldenCase:
    path: Path
    inputs: dict[str, torch.Tensor]
    outputs: dict[str, torch.Tensor]
    params: dict[str, Any]

    @property
    def name(self) -> str:
        return self.path.stem


def load_case(path: str | Path) -> GoldenCase:
    f = SafetensorsFile(path)
    tensors = dict(f.iter_tensors())
    inputs = {k[3:]: v for k, v in tensors.items() if k.startswith("in.")}
    outputs = {k[4:]: v for k, v in tensors.items() if k.startswith("out.")}
    params = json.loads(f.metadata.get("case", "{}"))
    return GoldenCase(Path(path), inputs, outputs, params)


def golden_modality(
    inputs: dict[str, torch.Tensor],
    prefix: str,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> Any:
    """The transformer `Modality` of a golden case's `<prefix>_*` inputs (latent and context cast to `dtype` when
    given; every tensor moved to `device` when given)."""
    from ltx_core.model.transformer import Modality

    def put(t: torch.Tensor, cast: bool = False) -> torch.Tensor:
        return t.to(device=device, dtype=dtype if cast else None)

    mask = inputs.get("context_mask")
    return Modality(
        latent=put(inputs[f"{prefix}_latent"], cast=True),
        sigma=put(inputs[f"{prefix}_sigma"]),
        timesteps=put(inputs[f"{prefix}_timesteps"]),
        positions=put(inputs[f"{prefix}_positions"]),
        context=put(inputs[f"{prefix}_context"], cast=True),
        context_mask=None if mask is None else put(mask),
    )


def relative_error(got: torch.Tensor, expected: torch.Tensor) -> float:
    """max |got − expected| / max |expected| (the issue's parity measure), computed in float64."""
    got64, exp64 = got.detach().double().cpu(), expected.detach().double().cpu()
    if got64.shape != exp64.shape:
        raise AssertionError(f"shape {tuple(got64.shape)} != expected {tuple(exp64.shape)}")
    scale = exp64.abs().max().item()
    err = (got64 - exp64).abs().max().item() if exp64.numel() else 0.0
    return err / scale if scale > 0 else err


# README 7.13: the LTX-2.3 vocoder computes in float32, and its waveform moves by up to this much (absolute) with the
# summation order alone (thread count, CPU generation: MKL / oneDNN kernels), every latent before it being identical.
LTX23_WAVEFORM_SPREAD = 0.004


def report(label: str, got: torch.Tensor, expected: torch.Tensor, tol: float) -> float:
    """Print the worst error for the test log and assert it is within `tol`."""
    err = relative_error(got, expected)
    abs_err = (got.detach().double().cpu() - expected.detach().double().cpu()).abs().max().item()
    print(f"[parity] {label}: max rel err {err:.3e} (max abs {abs_err:.3e}, tol {tol:.0e})")
    assert err <= tol, f"{label}: max relative error {err:.3e} > {tol:.0e}"
    return err
