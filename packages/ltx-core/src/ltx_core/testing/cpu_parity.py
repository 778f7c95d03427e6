"""How strictly a bf16 end-to-end result on this CPU can be held to a golden recording made on another.

bf16 matmuls on the CPU take different kernels on different instruction sets (AVX2, AVX-512, AVX-512-BF16/AMX,
NEON/SVE), and the kernels round differently; a denoising loop then amplifies a one-ulp difference into many. The
golden recordings say which kernels made them (`cpu_capability` and `isa_caps` in a case's params; the 1.1.3 set in
`e2e/` says nothing, the AVX2 re-recording `e2e_avx2/` says AVX2; the 1.2.0 re-recordings in `e2e_120/` say nothing
but were measured to be AVX2 recordings, `MEASURED_KERNELS`). So:

- `apply_recording_caps` caps PyTorch (ATen) and oneDNN to the AVX2 kernels on an x86-64 CPU that has them, before
  torch computes anything (the test suite's root conftest calls it; an explicit setting in the environment wins).
  Checked on an AVX-512 (AVX-512-BF16, no AMX) host: capped, every tensor of the distilled cases is bitwise the
  AVX2 recording; uncapped, the later tensors miss by a bf16 step or more.
- `parity_for(case)` is strict when this process runs the recording's kernels (same reported capability, and oneDNN
  capped alike or not capped at all), tolerant otherwise (aarch64, an x86-64 CPU without AVX2, a recording of unknown
  kernels, or caps the user set to something else). The tests keep their bitwise / one-bf16-step bounds when strict;
  when tolerant they compare each recorded denoiser call from its recorded inputs (teacher forcing: errors cannot
  compound) within a few bf16 steps and the free-running outputs within measured cross-CPU bounds.
- `recording_for(root, name)` picks, for one case name, the recording made with this process's kernels when the
  fixture set has one (`e2e_avx2/NAME` under the AVX2 caps), else the one in `e2e/`.
"""

from __future__ import annotations

import os
import platform
from collections.abc import MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

# The variables that select PyTorch's and oneDNN's kernels (read once, when torch first computes), and the values
# that select the AVX2 ones, which every AVX2 recording names in its `isa_caps`.
ATEN_VARIABLE = "ATEN_CPU_CAPABILITY"
ONEDNN_VARIABLE = "ONEDNN_MAX_CPU_ISA"
AVX2_CAPS = {ATEN_VARIABLE: "avx2", ONEDNN_VARIABLE: "AVX2"}


def _x86_with_avx2() -> bool:
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        with open("/proc/cpuinfo") as f:
            return any(line.startswith("flags") and " avx2" in line for line in f)
    except OSError:  # not Linux: ATen itself falls back when the CPU lacks AVX2, and the capability check then fails
        return True


def apply_recording_caps(environ: MutableMapping[str, str] = os.environ) -> dict[str, str]:
    """Set the AVX2 caps in `environ` where the CPU has AVX2 and the variable is unset; returns what was set. Must
    run before torch computes anything (ATen reads its variable at the first operation, oneDNN at its first
    kernel); child processes inherit it."""
    if not _x86_with_avx2():
        return {}
    applied = {}
    for name, value in AVX2_CAPS.items():
        if name not in environ:
            environ[name] = value
            applied[name] = value
    return applied


def host_capability() -> str:
    """The instruction set PyTorch's CPU kernels use in this process (after any cap), e.g. "AVX2", "AVX512"."""
    return torch.backends.cpu.get_cpu_capability()


@dataclass(frozen=True)
class Parity:
    """Strict (this process runs the recording's kernels) or tolerant, and why."""

    strict: bool
    host: str
    recording: str | None
    onednn_cap: str | None = None

    @property
    def mode(self) -> str:
        return "strict" if self.strict else "tolerant"

    def describe(self) -> str:
        rec = self.recording or "not recorded"
        dnn = f", oneDNN capped to {self.onednn_cap}" if self.onednn_cap else ""
        why = "same kernels" if self.strict else "other kernels: teacher-forced calls and measured cross-CPU bounds"
        return f"{self.mode} (host CPU capability {self.host}{dnn}; recording {rec}; {why})"


def parity(recording: str | None, isa_caps: dict[str, str] | None = None) -> Parity:
    """The parity mode against a recording made with `recording` kernels (and oneDNN capped as in `isa_caps`)."""
    host = host_capability()
    onednn = os.environ.get(ONEDNN_VARIABLE)
    wanted = (isa_caps or {}).get(ONEDNN_VARIABLE)
    same_onednn = onednn is None or wanted is None or onednn.upper() == wanted.upper()
    strict = recording is not None and recording.upper() == host.upper() and same_onednn
    return Parity(strict, host, recording, onednn)


def reference_kernels() -> Parity:
    """Whether this process runs the AVX2 kernels the suite caps to (those every recording that names its kernels was
    made with): float32 results that are bitwise there (schedules, filter banks) may differ by an ulp elsewhere."""
    return parity(AVX2_CAPS[ATEN_VARIABLE].upper(), AVX2_CAPS)


# Recording folders whose cases do not name their kernels, with the kernels they were measured to match. `e2e_120/`
# (the official 1.2.0 re-recordings of the LTX-2.3 cases, one thread, CPU not stated): every tensor of its twelve
# cases is bitwise this stack's under the AVX2 caps, and uncapped (AVX-512 kernels, same AMD EPYC host) the later
# tensors miss by bf16 steps, as they do against `e2e_avx2/` (docs/parity.md). `e2e/` stays unknown: it matches
# neither exactly.
MEASURED_KERNELS = {"e2e_120": AVX2_CAPS}


def recording_kernels(case: Any) -> tuple[str | None, dict[str, str] | None]:
    """(capability, caps) a golden case was recorded with: what its params say, else what was measured for its
    folder (`MEASURED_KERNELS`), else (None, None): unknown."""
    if case.params.get("cpu_capability") is not None:
        return case.params["cpu_capability"], case.params.get("isa_caps")
    caps = MEASURED_KERNELS.get(Path(case.path).parent.name)
    return (caps[ATEN_VARIABLE].upper(), caps) if caps else (None, None)


def parity_for(case: Any) -> Parity:
    """The parity mode for a golden case (`ltx_core.testing.golden.GoldenCase`)."""
    return parity(*recording_kernels(case))


def recording_for(root: Path, name: str) -> Path:
    """The recording of case `name` (a file name of the 1.1.3 end-to-end set) to compare with on this process:
    `e2e_<capability>/name` when the set holds one made with this process's kernels, else `e2e/name`."""
    matching = root / f"e2e_{host_capability().lower()}" / name
    return matching if matching.exists() else root / "e2e" / name


def e2e_case_names(root: Path) -> list[str]:
    """The file names of the 1.1.3 end-to-end cases (not the weight files they name) in `e2e/` and in the
    re-recording made with this process's kernels, if any."""
    folders = (root / "e2e", root / f"e2e_{host_capability().lower()}")
    return sorted({p.name for f in folders for p in f.glob("*.safetensors") if not p.stem.endswith("_tiny")})


BF16_STEP = 2.0**-7  # one bf16 step relative to the value's binade


@dataclass(frozen=True)
class OtherKernels:
    """What a bf16 result recomputed from recorded inputs with other CPU kernels may differ by (tolerant mode).

    Other kernels round some products and sums the other way: scattered, unbiased differences of a few bf16 steps.
    A real defect, or the official outputs perturbed by 1 % of their scale, is either large somewhere or
    systematic. So, all four must hold:
    - each element within `steps` bf16 steps of the larger of its own magnitude and `floor` × the tensor's peak;
    - the RMS error within `rms` × the RMS of the expected tensor;
    - no scale drift: the error's projection on the expected tensor, |<err, x>| / <x, x>, within `drift`;
    - no shift: |mean(err)| / RMS(x) within `drift`.
    """

    steps: float
    floor: float
    rms: float
    drift: float

    def violations(self, got: torch.Tensor, expected: torch.Tensor) -> list[str]:
        """What does not hold (empty when all four do)."""
        x = expected.double()
        err = got.double() - x
        if not x.numel():
            return []
        peak = x.abs().max().item()
        norm = x.pow(2).mean().sqrt().item() or 1.0
        bound = self.steps * BF16_STEP * x.abs().clamp(min=max(self.floor * peak, 2.0**-126))
        found = []
        if not bool((err.abs() <= bound).all()):
            worst = (err.abs() / bound).max().item() * self.steps
            found.append(f"an element off by {worst:.3g} bf16 steps (> {self.steps:g}, floor {self.floor:g} of peak)")
        rms = err.pow(2).mean().sqrt().item() / norm
        if rms > self.rms:
            found.append(f"relative RMS error {rms:.3g} (> {self.rms:g})")
        scale = abs((err * x).sum().item()) / max((x * x).sum().item(), 1e-300)
        if scale > self.drift:
            found.append(f"scale drift {scale:.3g} (> {self.drift:g})")
        shift = abs(err.mean().item()) / norm
        if shift > self.drift:
            found.append(f"shift {shift:.3g} of the RMS (> {self.drift:g})")
        return found

    def __str__(self) -> str:
        return (
            f"other kernels: {self.steps:g} bf16 steps (floor {self.floor:g}), RMS {self.rms:g}, drift {self.drift:g}"
        )


# Measured on this project's cases (docs/parity.md): the simulated foreign host (ATEN_CPU_CAPABILITY=default,
# ONEDNN_MAX_CPU_ISA=SSE41) against the AVX2 and the original recordings, and an uncapped AVX-512 host against the
# AVX2 ones. A transformer call from its recorded inputs: worst 3.5 steps (floor 1/4), RMS 0.0050, drift 0.0015. A
# VAE or upsampler from its recorded input (upsampler, video decode to frames, video / audio encode): worst 13 steps
# (frames), RMS 0.0085 (upsampler), drift 0.0006. The audio decode to the waveform: the LTX-2.3 vocoder (float32 on
# a bf16 mel) amplifies its input's rounding, worst 40 steps, RMS 0.020, drift 0.0009: a bound that passes that
# passes noise of 1 % of the peak too (its scale and shift drift are still caught); the float32 vocoder itself is
# held to 1e-5 by the component case, and LTX-2's bf16 vocoder (worst 7 steps, RMS 0.0052) to the component bound.
CALL_ON_OTHER_KERNELS = OtherKernels(steps=6, floor=0.25, rms=0.0075, drift=0.004)
COMPONENT_ON_OTHER_KERNELS = OtherKernels(steps=20, floor=0.25, rms=0.0125, drift=0.004)
WAVEFORM_ON_OTHER_KERNELS = OtherKernels(steps=80, floor=0.25, rms=0.04, drift=0.004)


def perturbed(expected: torch.Tensor, seed: int = 0) -> dict[str, torch.Tensor]:
    """The official tensor perturbed by 1 % of its scale, three ways: scaled by 1.01, shifted by 1 % of its peak,
    and with noise of standard deviation 1 % of its peak added. A tolerant bound that passes any of them is blind."""
    x = expected.double()
    peak = x.abs().max().item()
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return {"scaled by 1.01": x * 1.01, "shifted by 1% of peak": x + 0.01 * peak, "1% noise": x + 0.01 * peak * noise}


DRIFTS = ("scaled by 1.01", "shifted by 1% of peak")


def blind_to(
    tolerance: OtherKernels, got: torch.Tensor, expected: torch.Tensor, kinds: tuple[str, ...] | None = None
) -> list[str]:
    """The perturbations of `expected` (`perturbed`; only `kinds` when given) that `got` would still pass as within
    `tolerance` (none for an all-zero tensor, which 1 % of its scale does not change)."""
    if not expected.numel() or not bool(expected.any()):
        return []
    found = perturbed(expected).items()
    return [name for name, p in found if (kinds is None or name in kinds) and not tolerance.violations(got, p)]
