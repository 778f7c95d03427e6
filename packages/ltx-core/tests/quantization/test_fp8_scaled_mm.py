"""fp8-scaled-mm: the FP8ScaledLinear math, loading a pre-quantized checkpoint (made from the golden float32 one),
LoRA fusion by re-quantization, streaming, the error it costs against the unquantized model, and one-line
refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ltx_core.errors import CheckpointError, InputError
from ltx_core.loader import LoraSpec, open_checkpoint, read_lora
from ltx_core.model.transformer.loading import TRANSFORMER_PREFIX, load_transformer
from ltx_core.offload.streaming import build_streaming_transformer, load_resident_transformer, transformer_footprint
from ltx_core.quantization import (
    FP8_DTYPE,
    FP8ScaledLinear,
    Quantization,
    is_scaled_fp8_checkpoint,
    parse_quantization,
    requantize,
)
from ltx_core.quantization import fp8_scaled_mm as scaled_module
from ltx_core.testing.fp8_checkpoints import quantize_weight, write_scaled_fp8_checkpoint
from ltx_core.testing.golden import GoldenCase, component_cases, golden_dir, golden_modality, load_case, relative_error

# Weights rounded to e4m3 (3 mantissa bits) plus inputs quantized with one static range: on the tiny golden models
# the velocities move by 3-6% of their peak (measured); 0.25 leaves room for other fixture sets.
SCALED_OUTPUT_TOL = 0.25
BF16_STEP = 2**-7  # relative spacing of bf16


def _variants() -> list[str]:
    return [p.parent.name for p in component_cases("transformer_lora")]


VARIANTS = _variants()


@pytest.fixture(scope="module", params=VARIANTS)
def quantized(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[GoldenCase, Path, list[str]]:
    """(transformer_lora case, pre-quantized copy of its checkpoint, quantized source stems)."""
    golden = golden_dir()
    case = load_case(golden / "cases" / request.param / "transformer_lora.safetensors")
    path = tmp_path_factory.mktemp("fp8") / "scaled.safetensors"
    stems = write_scaled_fp8_checkpoint(golden / case.params["checkpoint"], path)
    return case, path, stems


def _linear(
    g: torch.Generator,
    bias: bool = True,
    in_features: int = 40,
    out_features: int = 24,
    input_scale: float = 3.0 / 448,
) -> tuple[FP8ScaledLinear, torch.Tensor]:
    weight = torch.randn(out_features, in_features, generator=g)
    q, scale = quantize_weight(weight)
    layer = FP8ScaledLinear(in_features, out_features, bias)
    layer.weight.data, layer.weight_scale.data = q, scale
    layer.input_scale.data = torch.tensor(input_scale)
    if bias:
        layer.bias.data = torch.randn(out_features, generator=g).to(torch.bfloat16)
    x = (torch.randn(2, 5, in_features, generator=g) * 1.5).to(torch.bfloat16)
    return layer, x


def test_scaled_linear_is_the_spec_math() -> None:
    layer, x = _linear(torch.Generator().manual_seed(0))
    s_in, s_w = layer.input_scale, layer.weight_scale
    q = (x * (1 / s_in)).clamp(-448, 448).to(FP8_DTYPE)  # bf16 product, then clamp and cast (spec B.8)
    assert (x * (1 / s_in)).dtype == torch.bfloat16
    expected = ((q.float() @ layer.weight.float().t()) * (s_in * s_w)).to(torch.bfloat16) + layer.bias
    got = layer(x)
    assert got.shape == (2, 5, 24) and got.dtype == torch.bfloat16
    torch.testing.assert_close(got.float(), expected.float(), rtol=BF16_STEP, atol=1e-6)


def test_fallback_matmul_matches_scaled_mm(monkeypatch: pytest.MonkeyPatch) -> None:
    layer, x = _linear(torch.Generator().manual_seed(1), bias=False)
    fast = layer(x)
    assert list(layer.uses_scaled_mm) == [x.device]  # decided on the first call (a layer built by hand)
    layer.uses_scaled_mm[x.device] = False
    torch.testing.assert_close(layer(x).float(), fast.float(), rtol=BF16_STEP, atol=1e-6)


def test_kernel_is_decided_once_at_build_time(
    quantized: tuple[GoldenCase, Path, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loaders decide every FP8ScaledLinear's kernel for the target device; a forward asks nothing again."""
    case, path, _ = quantized
    model = load_resident_transformer(path, dtype=torch.bfloat16, quantization="fp8-scaled-mm")
    layers = [m for m in model.modules() if isinstance(m, FP8ScaledLinear)]
    assert layers and all(list(m.uses_scaled_mm) == [torch.device("cpu")] for m in layers)

    def no_decision(*_: object) -> bool:
        raise AssertionError("kernel decided during a forward")

    monkeypatch.setattr(scaled_module, "scaled_mm_runs", no_decision)
    inputs = tuple(golden_modality(case.inputs, name, torch.bfloat16) for name in ("video", "audio"))
    with torch.no_grad():
        model(*inputs)


def test_kernel_decision_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not scaled_module.scaled_mm_runs(torch.device("meta"), 64, 64)
    monkeypatch.setattr(scaled_module, "_cuda_has_fp8_mm", lambda device: True)  # an sm 8.9+ card, simulated
    cuda = torch.device("cuda", 0)
    assert scaled_module.scaled_mm_runs(cuda, 64, 32)
    assert not scaled_module.scaled_mm_runs(cuda, 40, 32) and not scaled_module.scaled_mm_runs(cuda, 64, 24)


@pytest.mark.gpu
@pytest.mark.parametrize("shape", [(64, 32), (40, 24)], ids=["scaled-mm", "fallback-shape"])
def test_scaled_linear_on_cuda_matches_the_cpu_math(shape: tuple[int, int]) -> None:
    # 1/input_scale = 64 is exact in bf16: `x * input_scale.reciprocal()` rounds the 0-d float32 factor to bf16
    # on CUDA (a CUDA 0-d tensor is cast to the common dtype) but keeps it float32 on the CPU (a CPU scalar), so
    # with 3/448 about 2 % of the fp8 inputs would land one fp8 step apart and this would not test the matmul.
    layer, x = _linear(torch.Generator().manual_seed(3), True, *shape, input_scale=1 / 64)
    expected = layer(x)
    got = layer.to("cuda")(x.to("cuda"))
    torch.testing.assert_close(got.cpu().float(), expected.float(), rtol=2 * BF16_STEP, atol=1e-2)


def test_requantize_maps_the_peak_to_448() -> None:
    g = torch.Generator().manual_seed(2)
    q, scale = quantize_weight(torch.randn(8, 8, generator=g))
    delta = torch.randn(8, 8, generator=g).to(torch.bfloat16) * 0.1
    q2, scale2 = requantize(q, scale, delta)
    fused = q.float() * scale + delta.float()
    assert q2.dtype == FP8_DTYPE and scale2.dtype == torch.float32 and scale2.dim() == 0
    assert float(q2.float().abs().max()) == 448.0
    torch.testing.assert_close(scale2, fused.abs().max() / 448)
    assert torch.equal(q2.view(torch.uint8), (fused * (448 / fused.abs().max())).to(FP8_DTYPE).view(torch.uint8))


def test_loads_the_quantized_linears_as_stored(quantized: tuple[GoldenCase, Path, list[str]]) -> None:
    _, path, stems = quantized
    assert is_scaled_fp8_checkpoint(open_checkpoint(path))
    model = load_resident_transformer(path, quantization="fp8-scaled-mm")
    swapped = {n for n, m in model.named_modules() if isinstance(m, FP8ScaledLinear)}
    assert swapped == {s.removeprefix(TRANSFORMER_PREFIX) for s in stems}
    source = open_checkpoint(path)
    for name in sorted(swapped)[:4]:
        layer = model.get_submodule(name)
        stored = source.files[0].read(f"{TRANSFORMER_PREFIX}{name}.weight")
        assert layer.weight.dtype == FP8_DTYPE and torch.equal(layer.weight.view(torch.uint8), stored.view(torch.uint8))
        assert layer.weight_scale.dtype == torch.float32 and layer.input_scale.dtype == torch.float32
    # a bf16 build dtype casts everything else but never the fp8 weights or their scales
    bf16 = load_resident_transformer(path, dtype=torch.bfloat16, quantization="fp8-scaled-mm")
    kinds = {(n.rsplit(".", 1)[-1], p.dtype) for n, p in bf16.named_parameters() if "to_q" in n}
    assert kinds == {
        ("weight", FP8_DTYPE),
        ("weight_scale", torch.float32),
        ("input_scale", torch.float32),
        ("bias", torch.bfloat16),
    }
    footprint = transformer_footprint(path, dtype=torch.bfloat16, quantization="fp8-scaled-mm")
    assert footprint.total == sum(p.numel() * p.element_size() for p in bf16.parameters()) + sum(
        b.numel() * b.element_size() for b in bf16.buffers()
    )


def test_error_against_the_bf16_model(quantized: tuple[GoldenCase, Path, list[str]]) -> None:
    case, path, _ = quantized
    model = load_resident_transformer(path, dtype=torch.bfloat16, quantization="fp8-scaled-mm")
    plain = load_transformer(golden_dir() / case.params["checkpoint"], dtype=torch.bfloat16)
    with torch.no_grad():
        got = model(
            golden_modality(case.inputs, "video", torch.bfloat16), golden_modality(case.inputs, "audio", torch.bfloat16)
        )
        ref = plain(
            golden_modality(case.inputs, "video", torch.bfloat16), golden_modality(case.inputs, "audio", torch.bfloat16)
        )
    for name, g, r in zip(("video", "audio"), got, ref, strict=True):
        err = relative_error(g.float(), r.float())
        print(f"fp8-scaled-mm {name} velocity vs bf16: relative error {err:.3g}")
        assert 0 < err <= SCALED_OUTPUT_TOL


def test_lora_is_fused_by_requantizing(quantized: tuple[GoldenCase, Path, list[str]]) -> None:
    case, path, _ = quantized
    strength = float(case.params.get("strength", 0.8))
    lora_path = golden_dir() / case.params["lora"]
    fused = load_resident_transformer(path, loras=[LoraSpec(lora_path, strength)], quantization="fp8-scaled-mm")
    plain = load_resident_transformer(path, quantization="fp8-scaled-mm")
    pairs = read_lora(lora_path).pairs
    checked = 0
    for name, module in fused.named_modules():
        if not isinstance(module, FP8ScaledLinear) or name not in pairs:
            continue
        a, b = (t.to(torch.bfloat16) for t in pairs[name])
        base = plain.get_submodule(name)
        q, scale = requantize(base.weight, base.weight_scale, (b * strength) @ a)
        assert torch.equal(module.weight.view(torch.uint8), q.view(torch.uint8)), name
        assert torch.equal(module.weight_scale, scale), name
        assert torch.equal(module.input_scale, base.input_scale)
        checked += 1
    assert checked


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)], ids=["cpu", "cuda"])
@pytest.mark.parametrize("with_lora", [False, True], ids=["base", "lora"])
@pytest.mark.parametrize("mode", ["cpu", "disk"])
def test_streaming_equals_resident(
    quantized: tuple[GoldenCase, Path, list[str]], mode: str, with_lora: bool, device: str
) -> None:
    """Blocks streamed from RAM or the file, LoRAs fused into each block (re-quantized with its scale): bitwise the
    resident model."""
    case, path, _ = quantized
    loras = [LoraSpec(golden_dir() / case.params["lora"], float(case.params.get("strength", 0.8)))] if with_lora else []
    bf16 = torch.bfloat16
    inputs = tuple(golden_modality(case.inputs, name, torch.bfloat16, device) for name in ("video", "audio"))
    resident = load_resident_transformer(path, dtype=bf16, device=device, loras=loras, quantization="fp8-scaled-mm")
    with torch.no_grad():
        ref = resident(*inputs)
        with build_streaming_transformer(
            path, mode, device, dtype=bf16, loras=loras, quantization="fp8-scaled-mm", device_slots=1
        ) as streamed:
            got = streamed(*inputs)
    for g, r in zip(got, ref, strict=True):
        assert torch.equal(g, r)


def test_refusals(quantized: tuple[GoldenCase, Path, list[str]]) -> None:
    case, path, _ = quantized
    with pytest.raises(CheckpointError, match="pre-quantized fp8 checkpoint; load it with quantization 'fp8-sc"):
        load_transformer(path)
    with pytest.raises(CheckpointError, match="needs quantization 'fp8-scaled-mm', not 'fp8-cast'"):
        load_resident_transformer(path, quantization="fp8-cast")
    with pytest.raises(CheckpointError, match="needs quantization 'fp8-scaled-mm', not 'none'"):
        build_streaming_transformer(path, "cpu", "cpu")
    with pytest.raises(CheckpointError, match="needs a pre-quantized fp8 checkpoint"):
        load_resident_transformer(golden_dir() / case.params["checkpoint"], quantization="fp8-scaled-mm")
    with pytest.raises(InputError, match="MPS"):
        load_resident_transformer(path, device="mps", quantization="fp8-scaled-mm")


def test_parse_quantization_accepts_scaled_mm() -> None:
    assert parse_quantization("fp8-scaled-mm") is Quantization.FP8_SCALED_MM
