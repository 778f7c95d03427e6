"""fp8-cast: which weights are stored in fp8, exact upcast semantics (= a model with fp8 round-tripped weights),
LoRA fusion order, refusals, and the error it costs against the golden float32 outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from ltx_core.errors import CheckpointError, InputError
from ltx_core.loader import LoraSpec, open_checkpoint, read_lora
from ltx_core.loader.lora import lora_fuse_device
from ltx_core.model.transformer.loading import load_transformer
from ltx_core.offload.streaming import build_streaming_transformer, load_resident_transformer
from ltx_core.quantization import (
    FP8_DTYPE,
    Quantization,
    UpcastLinear,
    check_fp8_cast_device,
    is_fp8_cast_key,
    parse_quantization,
    round_trip_fp8,
)
from ltx_core.quantization.stochastic_rounding import stochastic_fp8_fuse, stochastic_rounding_available
from ltx_core.testing.golden import GoldenCase, component_cases, golden_modality, load_case, relative_error

# e4m3 keeps 3 mantissa bits: each weight moves by at most 2^-4 of itself; through the tiny models the outputs move
# by a few percent of their peak (measured ≤ ~5e-2); 0.25 leaves room for other fixture sets.
FP8_OUTPUT_TOL = 0.25


def _variants() -> list[str]:
    return [p.parent.name for p in component_cases("transformer_lora")]


VARIANTS = _variants()


def _case(golden: Path, variant: str, name: str = "transformer_forward") -> tuple[GoldenCase, Path]:
    case = load_case(golden / "cases" / variant / f"{name}.safetensors")
    return case, golden / case.params["checkpoint"]


def _run(model: torch.nn.Module, case: GoldenCase, dtype: torch.dtype | None = None) -> tuple[torch.Tensor, ...]:
    with torch.no_grad():
        return model(golden_modality(case.inputs, "video", dtype), golden_modality(case.inputs, "audio", dtype))


@pytest.mark.parametrize("variant", VARIANTS)
def test_exactly_the_block_linears_are_fp8(golden: Path, variant: str) -> None:
    _, ckpt = _case(golden, variant)
    model = load_resident_transformer(ckpt, quantization="fp8-cast")
    state = model.state_dict()
    fp8 = {k for k, v in state.items() if v.dtype == FP8_DTYPE}
    assert fp8 == {k for k in state if is_fp8_cast_key(k)}
    assert fp8, "nothing was down-cast"
    assert any(k.endswith("attn1.to_q.bias") for k in fp8) and any(k.endswith("audio_ff.net.2.weight") for k in fp8)
    assert not any("to_gate_logits" in k or not k.startswith("transformer_blocks.") for k in fp8)
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert linears and all(isinstance(m, UpcastLinear) for m in linears)


@pytest.mark.parametrize("dtype", [None, torch.bfloat16])
@pytest.mark.parametrize("variant", VARIANTS)
def test_equals_round_tripped_weights(golden: Path, variant: str, dtype: torch.dtype | None) -> None:
    """Upcast at compute is exact: the fp8 model computes what a model with fp8-rounded weights computes."""
    case, ckpt = _case(golden, variant)
    quantized = load_resident_transformer(ckpt, dtype=dtype, quantization="fp8-cast")
    reference = load_transformer(ckpt, dtype=dtype)
    with torch.no_grad():
        for name, p in reference.named_parameters():
            if is_fp8_cast_key(name):
                p.copy_(round_trip_fp8(p))
    got, ref = _run(quantized, case, dtype), _run(reference, case, dtype)
    for g, r in zip(got, ref, strict=True):
        assert torch.equal(g, r)


@pytest.mark.parametrize("variant", VARIANTS)
def test_error_against_float32_golden(golden: Path, variant: str) -> None:
    case, ckpt = _case(golden, variant)
    got = _run(load_resident_transformer(ckpt, quantization="fp8-cast"), case)
    for name, g in zip(("video_velocity", "audio_velocity"), got, strict=True):
        err = relative_error(g, case.outputs[name])
        print(f"{variant} fp8-cast {name}: relative error {err:.3g}")
        assert 0 < err <= FP8_OUTPUT_TOL


@pytest.mark.parametrize("variant", VARIANTS)
def test_lora_fused_after_downcast(golden: Path, variant: str) -> None:
    """Official order for fp8 weights: W' = fp8(bf16((B·s)@A in bf16) + bf16(fp8(W))), computed on the fusion
    device; where that is CUDA with Triton, the sum is rounded stochastically instead (as official)."""
    case, ckpt = _case(golden, variant, "transformer_lora")
    strength = float(case.params.get("strength", 0.8))
    lora_path = golden / case.params["lora"]
    fused = load_resident_transformer(ckpt, loras=[LoraSpec(lora_path, strength)], quantization="fp8-cast")
    plain = load_resident_transformer(ckpt, quantization="fp8-cast").state_dict()
    pairs = read_lora(lora_path).pairs
    checked = 0
    for name, w in fused.state_dict().items():
        stem = name.removesuffix(".weight")
        if not (is_fp8_cast_key(name) and name.endswith(".weight") and stem in pairs):
            continue
        device = lora_fuse_device()
        a, b = (t.to(device=device, dtype=torch.bfloat16) for t in pairs[stem])
        delta, base = (b * strength) @ a, plain[name].to(device)
        if stochastic_rounding_available(device):
            expected = stochastic_fp8_fuse(base, delta).to(FP8_DTYPE).cpu()
        else:
            expected = (delta + base.to(torch.bfloat16)).to(FP8_DTYPE).cpu()
        assert w.dtype == FP8_DTYPE
        assert torch.equal(w.view(torch.uint8), expected.view(torch.uint8)), name
        checked += 1
    assert checked


@pytest.mark.parametrize("mode", ["cpu", "disk"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_fp8_streaming_equals_resident(golden: Path, variant: str, mode: str) -> None:
    case, ckpt = _case(golden, variant, "transformer_lora")
    loras = [LoraSpec(golden / case.params["lora"], float(case.params.get("strength", 0.8)))]
    bf16 = torch.bfloat16
    ref = _run(load_resident_transformer(ckpt, dtype=bf16, loras=loras, quantization="fp8-cast"), case, bf16)
    with build_streaming_transformer(
        ckpt, mode, "cpu", dtype=bf16, loras=loras, quantization="fp8-cast", device_slots=1
    ) as model:
        got = _run(model, case, bf16)
    for g, r in zip(got, ref, strict=True):
        assert torch.equal(g, r)


def test_refuses_fp8_checkpoint(golden: Path, tmp_path: Path) -> None:
    _, ckpt = _case(golden, VARIANTS[0])
    src = open_checkpoint(ckpt)
    tensors = dict(src.files[0].iter_tensors())
    victim = next(k for k in tensors if ".transformer_blocks." in k and k.endswith("attn1.to_q.weight"))
    tensors[victim] = tensors[victim].to(FP8_DTYPE)
    path = tmp_path / "fp8.safetensors"
    save_file(tensors, str(path), metadata={"config": json.dumps(src.config)})
    with pytest.raises(CheckpointError, match="needs a bf16/fp32 checkpoint"):
        load_resident_transformer(path, quantization="fp8-cast")
    with pytest.raises(CheckpointError, match="needs a bf16/fp32 checkpoint"):
        build_streaming_transformer(path, "disk", "cpu", quantization="fp8-cast")


def test_parse_quantization() -> None:
    assert parse_quantization(None) is Quantization.NONE
    assert parse_quantization("FP8-Cast") is Quantization.FP8_CAST
    assert parse_quantization("fp8-scaled-mm") is Quantization.FP8_SCALED_MM
    with pytest.raises(InputError, match="valid: none, fp8-cast, fp8-scaled-mm"):
        parse_quantization("int4")


def test_device_checks() -> None:
    check_fp8_cast_device("cpu")
    with pytest.raises(InputError, match="MPS"):
        check_fp8_cast_device("mps")


def test_upcast_linear_is_exact() -> None:
    g = torch.Generator().manual_seed(0)
    lin = torch.nn.Linear(8, 4)
    x = torch.randn(3, 8, generator=g, dtype=torch.bfloat16)
    w8, b8 = lin.weight.detach().to(FP8_DTYPE), lin.bias.detach().to(FP8_DTYPE)
    up = UpcastLinear(8, 4)
    up.weight, up.bias = torch.nn.Parameter(w8, requires_grad=False), torch.nn.Parameter(b8, requires_grad=False)
    expected = torch.nn.functional.linear(x, w8.to(torch.bfloat16), b8.to(torch.bfloat16))
    assert torch.equal(up(x), expected)
