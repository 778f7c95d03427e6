"""Stochastic rounding of LoRA-fused fp8 weights: the e4m3 spacing by hand, and the Triton path run on the CPU
through Triton's interpreter (a subprocess, since TRITON_INTERPRET must be set before Triton is imported)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from ltx_core.loader.lora import fuse_weight
from ltx_core.quantization.stochastic_rounding import fp8_rounding_inputs, stochastic_rounding_available

FP8 = torch.float8_e4m3fn


def test_e4m3_spacing_by_hand() -> None:
    # e4m3: 3 mantissa bits, bias 7 → spacing 2^(e−3) for normals, 2^−9 for subnormals, 32 in [256, 448]
    values = torch.tensor([1.0, 1.5, 2.0, 0.0, 2.0**-8, 2.0**-9, 300.0, -3.0])
    expected = torch.tensor([2.0**-3, 2.0**-3, 2.0**-2, 0.0, 2.0**-9, 2.0**-9, 32.0, 2.0**-2])
    x, ulp = fp8_rounding_inputs(values.to(FP8), torch.zeros(8, dtype=torch.bfloat16))
    assert x.dtype == torch.float16 and torch.equal(x, values.to(FP8).to(torch.float16))
    assert torch.equal(ulp, expected)
    # an fp16 subnormal sum (exponent taken as −14) still gets the e4m3 subnormal spacing
    _, tiny = fp8_rounding_inputs(torch.zeros(1).to(FP8), torch.tensor([2.0**-20], dtype=torch.bfloat16))
    assert float(tiny) == 2.0**-9
    # x is the fp16 sum: Δ is rounded to fp16 first, then added in fp16
    x2, _ = fp8_rounding_inputs(torch.ones(1).to(FP8), torch.tensor([2.0**-12], dtype=torch.bfloat16))
    assert float(x2) == 1.0  # 1 + 2^-12 rounds to 1 in fp16 (10 mantissa bits)


def test_unusable_triton_falls_back_to_deterministic_fusion(monkeypatch: pytest.MonkeyPatch) -> None:
    """Triton importable but no C compiler: the CUDA path is not taken (it would fail at the first launch)."""
    from ltx_core import toolchain

    monkeypatch.setattr(toolchain, "triton_usable", lambda: False)
    assert not stochastic_rounding_available(torch.device("cuda"))
    monkeypatch.setattr(toolchain, "triton_usable", lambda: True)
    assert stochastic_rounding_available(torch.device("cuda"))


def test_cpu_fusion_stays_deterministic() -> None:
    assert not stochastic_rounding_available(torch.device("cpu"))
    w = torch.tensor([1.0, 2.0, -0.5]).to(FP8)
    d = torch.tensor([0.0625, 0.1, 0.02], dtype=torch.bfloat16)
    expected = (d + w.to(torch.bfloat16)).to(FP8)
    assert torch.equal(fuse_weight(w, d, FP8).view(torch.uint8), expected.view(torch.uint8))


_SCRIPT = """
import json, torch
from ltx_core.quantization.stochastic_rounding import stochastic_fp8_fuse, philox_uniform
FP8 = torch.float8_e4m3fn
n = 4096
r = philox_uniform(n, 0, torch.device("cpu"))
out = {"r_min": float(r.min()), "r_max": float(r.max()), "r_mean": float(r.mean())}
# 1.25 + k/8 of the e4m3 step there (0.125): rounds up to 1.375 with probability k/8
for k in (0, 2, 4, 6):
    w = torch.full((n,), 1.25).to(FP8)
    d = torch.full((n,), 0.125 * k / 8, dtype=torch.bfloat16)
    fused = stochastic_fp8_fuse(w, d)
    again = stochastic_fp8_fuse(w, d)
    q = fused.to(FP8).float()
    out[f"k{k}"] = {
        "values": sorted(set(q.tolist())),
        "up": float((q > 1.25).float().mean()),
        "same": bool(torch.equal(fused, again)),
        "other_seed_differs": bool(not torch.equal(q, stochastic_fp8_fuse(w, d, seed=1).to(FP8).float())),
    }
print("RESULT" + json.dumps(out))
"""


@pytest.fixture(scope="module")
def interpreted() -> dict:
    pytest.importorskip("triton")
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    done = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT"))
    return json.loads(line[len("RESULT") :])


def test_uniforms_are_in_unit_interval(interpreted: dict) -> None:
    assert interpreted["r_min"] >= 0.0 and interpreted["r_max"] < 1.0
    assert abs(interpreted["r_mean"] - 0.5) < 0.02  # 4096 draws: σ ≈ 0.0045


@pytest.mark.parametrize("k", [0, 2, 4, 6])
def test_rounds_to_a_neighbour_with_the_right_probability(interpreted: dict, k: int) -> None:
    got = interpreted[f"k{k}"]
    assert set(got["values"]) <= {1.25, 1.375}  # only the two e4m3 neighbours of 1.25 + k/64
    assert abs(got["up"] - k / 8) < 0.04  # 4096 draws: σ ≤ 0.008
    assert got["same"]  # deterministic for a seed
    assert got["other_seed_differs"] == (k != 0)  # a grid value inside a binade never moves


_BITS_SCRIPT = """
import torch
from ltx_core.quantization.stochastic_rounding import stochastic_fp8_fuse
g = torch.Generator().manual_seed(0)
w = torch.randn(3000, generator=g).to(torch.float8_e4m3fn)
d = (torch.randn(3000, generator=g) * 0.05).to(torch.bfloat16)
print("RESULT" + ",".join(str(int(b)) for b in stochastic_fp8_fuse(w, d).view(torch.int16).tolist()))
"""


@pytest.mark.gpu
def test_cuda_kernel_matches_the_interpreter() -> None:
    """The compiled kernel on CUDA draws the same numbers as Triton's interpreter on the CPU (same Philox stream),
    and the CUDA fusion path uses it."""
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    done = subprocess.run([sys.executable, "-c", _BITS_SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT"))
    expected = torch.tensor([int(b) for b in line[len("RESULT") :].split(",")], dtype=torch.int16)
    g = torch.Generator().manual_seed(0)
    w = torch.randn(3000, generator=g).to(FP8)
    d = (torch.randn(3000, generator=g) * 0.05).to(torch.bfloat16)
    assert stochastic_rounding_available(torch.device("cuda"))
    fused = fuse_weight(w.cuda(), d.cuda(), FP8)
    from ltx_core.quantization.stochastic_rounding import stochastic_fp8_fuse

    on_cuda = stochastic_fp8_fuse(w.cuda(), d.cuda())
    assert torch.equal(on_cuda.view(torch.int16).cpu(), expected)
    assert torch.equal(fused.view(torch.uint8).cpu(), on_cuda.to(FP8).view(torch.uint8).cpu())
