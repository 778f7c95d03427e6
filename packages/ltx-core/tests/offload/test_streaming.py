"""Block streaming (cpu and disk modes) against the resident model: bitwise identical outputs on the golden tiny
checkpoints, with and without a LoRA, in the stored dtype and in bf16, with one or two device slots; plus the
golden outputs themselves, teardown and the RAM check."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ltx_core.errors import InputError
from ltx_core.loader import LoraSpec
from ltx_core.model.transformer import ModelType, X0Model
from ltx_core.model.transformer.loading import load_transformer
from ltx_core.offload.streaming import (
    BlockStreamingWrapper,
    build_streaming_transformer,
    load_resident_transformer,
    transformer_footprint,
)
from ltx_core.testing.golden import (
    GoldenCase,
    cases_120,
    component_cases,
    golden_dir,
    golden_modality,
    load_case,
    report,
)
from ltx_core.testing.transformer_cases import run_case

TOL = 1e-5


def _variants() -> list[str]:
    return [p.parent.name for p in component_cases("transformer_lora")]


VARIANTS = _variants()


def _setup(golden: Path, variant: str, with_lora: bool) -> tuple[GoldenCase, Path, list[LoraSpec]]:
    name = "transformer_lora" if with_lora else "transformer_forward"
    case = load_case(golden / "cases" / variant / f"{name}.safetensors")
    loras = [LoraSpec(golden / case.params["lora"], float(case.params.get("strength", 0.8)))] if with_lora else []
    return case, golden / case.params["checkpoint"], loras


def _run(model: torch.nn.Module, case: GoldenCase, dtype: torch.dtype | None = None) -> list[torch.Tensor]:
    video, audio = golden_modality(case.inputs, "video", dtype), golden_modality(case.inputs, "audio", dtype)
    with torch.no_grad():
        v, a = model(video, audio)
        xv, xa = X0Model(model)(video, audio)
    return [v, a, xv, xa]


def _assert_identical(got: list[torch.Tensor], ref: list[torch.Tensor], label: str) -> None:
    for i, (g, r) in enumerate(zip(got, ref, strict=True)):
        assert g.dtype == r.dtype, f"{label}[{i}]: dtype {g.dtype} != {r.dtype}"
        assert torch.equal(g, r), f"{label}[{i}]: max diff {(g.double() - r.double()).abs().max().item():.3g}"


@pytest.mark.parametrize("mode", ["cpu", "disk"])
@pytest.mark.parametrize(
    ("with_lora", "slots"), [(False, 1), (False, 2), (True, 1)], ids=["base-1", "base-2", "lora-1"]
)
@pytest.mark.parametrize("variant", VARIANTS)
def test_streaming_bitwise_equals_resident(golden: Path, variant: str, with_lora: bool, slots: int, mode: str) -> None:
    case, ckpt, loras = _setup(golden, variant, with_lora)
    ref = _run(load_transformer(ckpt, loras=loras, numerics=case.numerics), case)
    streamed = build_streaming_transformer(ckpt, mode, "cpu", loras=loras, device_slots=slots, numerics=case.numerics)
    with streamed as model:
        assert isinstance(model, BlockStreamingWrapper)
        first = _run(model, case)  # two forwards (velocity and x0): blocks are re-fetched after eviction
        second = _run(model, case)
        layers = model.config.num_layers
        if slots < layers:  # every block uploaded once per forward; with two or more slots the last block's
            # pre-hook also prefetches the next forward's first block, once (it stays cached for that forward)
            assert model.uploads == 4 * layers + (1 if slots >= 2 else 0)
    _assert_identical(first, ref, f"{variant}/{mode}")
    _assert_identical(second, ref, f"{variant}/{mode} (again)")
    for name, got in zip(("video_velocity", "audio_velocity", "video_x0", "audio_x0"), first, strict=True):
        if name in case.outputs:
            report(f"{variant}/{case.name}[{mode}].{name}", got, case.outputs[name], TOL)


@pytest.mark.parametrize("mode", ["cpu", "disk"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_streaming_bf16_with_lora(golden: Path, variant: str, mode: str) -> None:
    """bf16 compute (what the pipelines run) with a LoRA fused in bf16: still bitwise the resident result."""
    case, ckpt, loras = _setup(golden, variant, True)
    ref = _run(load_transformer(ckpt, dtype=torch.bfloat16, loras=loras), case, torch.bfloat16)
    with build_streaming_transformer(ckpt, mode, "cpu", dtype=torch.bfloat16, loras=loras, device_slots=1) as model:
        got = _run(model, case, torch.bfloat16)
    assert ref[0].dtype == torch.bfloat16
    _assert_identical(got, ref, f"{variant}/{mode}/bf16")


LTX25_CASES = [p for p in cases_120("transformer_keyframes") if p.parent.name.startswith("ltx25")]


@pytest.mark.parametrize("mode", ["cpu", "disk"])
@pytest.mark.parametrize("path", LTX25_CASES, ids=[p.parent.name for p in LTX25_CASES])
def test_streaming_ltx25_bitwise_equals_resident(path: Path, mode: str) -> None:
    """The LTX-2.5 transformer (flags read from each file: no FFN biases, the keyframe embedding on the masked
    tokens) streams like the others: bitwise the resident forward on the keyframes case."""
    case = load_case(path)
    ckpt = case.file(case.params["checkpoint"])
    ref = run_case(load_transformer(ckpt, numerics=case.numerics), case)
    with build_streaming_transformer(ckpt, mode, "cpu", device_slots=1, numerics=case.numerics) as model:
        got = run_case(model, case)
    assert ref.keys() == got.keys()
    for name in ref:
        assert torch.equal(got[name], ref[name]), f"{path.parent.name}/{mode}.{name}"
        report(f"{path.parent.name}/{case.name}[{mode}].{name}", got[name], case.outputs[name], TOL)


@pytest.mark.parametrize("variant", VARIANTS)
def test_streaming_video_only(golden: Path, variant: str) -> None:
    case, ckpt, _ = _setup(golden, variant, False)
    video = golden_modality(case.inputs, "video")
    resident = load_transformer(ckpt, model_type=ModelType.VIDEO_ONLY)
    with torch.no_grad():
        ref, none = resident(video, None)
        assert none is None
        with build_streaming_transformer(ckpt, "disk", "cpu", model_type=ModelType.VIDEO_ONLY, device_slots=1) as m:
            got, _ = m(video, None)
    assert torch.equal(got, ref)


@pytest.mark.parametrize("variant", VARIANTS)
def test_resident_loader_matches_load_transformer(golden: Path, variant: str) -> None:
    _, ckpt, loras = _setup(golden, variant, True)
    a = load_resident_transformer(ckpt, loras=loras).state_dict()
    b = load_transformer(ckpt, loras=loras).state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_close_frees_and_refuses_reuse(golden: Path) -> None:
    case, ckpt, _ = _setup(golden, VARIANTS[0], False)
    model = build_streaming_transformer(ckpt, "cpu", "cpu", device_slots=1)
    assert model.host_bytes > 0 and model.device_pool_bytes > 0
    _run(model, case)
    model.close()
    assert model.closed
    assert model.host_bytes == 0 and model.device_pool_bytes == 0
    assert all(p.is_meta for p in model.parameters())
    with pytest.raises(RuntimeError, match="closed"):
        _run(model, case)
    model.close()  # idempotent


def test_block_parameters_are_placeholders_between_calls(golden: Path) -> None:
    """Outside its forward a block holds only meta placeholders: it can never run on another block's weights."""
    case, ckpt, _ = _setup(golden, VARIANTS[0], False)
    with build_streaming_transformer(ckpt, "disk", "cpu") as model:
        assert model.to("cpu") is model and model.eval() is model  # what the pipelines call on every model
        X0Model(model).to("cpu").eval()
        with pytest.raises(RuntimeError, match="cannot be moved"):
            model.to(torch.bfloat16)
        _run(model, case)
        blocks = model.model.transformer_blocks
        assert all(p.is_meta for p in blocks.parameters())
        others = [p for n, p in model.model.named_parameters() if not n.startswith("transformer_blocks.")]
        assert others and not any(p.is_meta for p in others)


def test_cpu_mode_refuses_when_ram_is_short(golden: Path) -> None:
    _, ckpt, _ = _setup(golden, VARIANTS[0], False)
    fp = transformer_footprint(ckpt)
    with pytest.raises(InputError, match="use offload 'disk'"):
        build_streaming_transformer(ckpt, "cpu", "cpu", ram_available=fp.block_bytes, ram_reserve_bytes=1)
    with build_streaming_transformer(ckpt, "cpu", "cpu", ram_available=2 * fp.block_bytes + 10**6, ram_reserve_bytes=1):
        pass


@pytest.mark.parametrize("mode", ["cpu", "disk"])
def test_weight_of_another_shape_is_refused_before_streaming(golden: Path, tmp_path: Path, mode: str) -> None:
    """The streamed path checks stored shapes against the config as the resident loader does (one line)."""
    from safetensors.torch import save_file

    from ltx_core.errors import CheckpointError
    from ltx_core.loader import SafetensorsFile

    _, ckpt, _ = _setup(golden, VARIANTS[0], False)
    source = SafetensorsFile(ckpt)
    tensors = dict(source.iter_tensors())
    key = next(k for k in sorted(tensors) if k.endswith("proj_out.weight"))
    tensors[key] = tensors[key][:, :-1].contiguous()
    bad = tmp_path / "reshaped.safetensors"
    save_file(tensors, str(bad), metadata=source.metadata)
    with pytest.raises(CheckpointError, match=r"1 transformer weight\(s\) have another shape"):
        build_streaming_transformer(bad, mode, "cpu")


def test_streaming_mode_must_stream(golden: Path) -> None:
    _, ckpt, _ = _setup(golden, VARIANTS[0], False)
    with pytest.raises(InputError, match="'cpu' or 'disk'"):
        build_streaming_transformer(ckpt, "none", "cpu")
    with pytest.raises(InputError, match="not known"):
        build_streaming_transformer(ckpt, "gpu", "cpu")


@pytest.mark.parametrize("quantization", [None, "fp8-cast"])
@pytest.mark.parametrize("dtype", [None, torch.bfloat16])
@pytest.mark.parametrize("variant", VARIANTS)
def test_footprint_matches_loaded_bytes(
    golden: Path, variant: str, dtype: torch.dtype | None, quantization: str | None
) -> None:
    _, ckpt, _ = _setup(golden, variant, False)
    fp = transformer_footprint(ckpt, dtype=dtype, quantization=quantization)
    model = load_resident_transformer(ckpt, dtype=dtype, quantization=quantization)
    sizes = {n: p.numel() * p.element_size() for n, p in model.state_dict().items()}
    blocks = sum(v for n, v in sizes.items() if n.startswith("transformer_blocks."))
    assert fp.block_bytes == blocks
    assert fp.other_bytes == sum(sizes.values()) - blocks
    assert fp.largest_block * model.config.num_layers >= fp.block_bytes


def test_variants_found() -> None:
    if not golden_dir().exists():
        pytest.skip("no golden fixtures")
    assert VARIANTS, "no transformer_lora cases under the golden dir"


@pytest.mark.gpu
@pytest.mark.parametrize("slots", [1, 2])
@pytest.mark.parametrize("mode", ["cpu", "disk"])
@pytest.mark.parametrize("quantization", [None, "fp8-cast"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_streaming_cuda_bitwise(golden: Path, variant: str, quantization: str | None, mode: str, slots: int) -> None:
    """On CUDA (copy stream + events), bf16 with a LoRA: identical to the resident model on the same device."""
    case, ckpt, loras = _setup(golden, variant, True)
    dev, bf16 = torch.device("cuda"), torch.bfloat16
    resident = load_resident_transformer(ckpt, dtype=bf16, device=dev, loras=loras, quantization=quantization)
    gpu_case = GoldenCase(case.path, {k: v.to(dev) for k, v in case.inputs.items()}, case.outputs, case.params)
    ref = _run(resident, gpu_case, bf16)
    with build_streaming_transformer(
        ckpt, mode, dev, dtype=bf16, loras=loras, quantization=quantization, device_slots=slots
    ) as model:
        got = [_run(model, gpu_case, bf16) for _ in range(3)]
    torch.cuda.synchronize()
    for i, out in enumerate(got):
        _assert_identical(out, ref, f"{variant}/{mode}/cuda#{i}")


@pytest.mark.parametrize("slots", [1, 2])
def test_a_failed_disk_read_leaves_the_model_usable(golden: Path, slots: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A block read that fails once (on the reader thread) raises from the forward; the next forward re-reads it
    and is bitwise the resident result (no device row or host slot lost)."""
    from ltx_core.offload.streaming import providers

    case, ckpt, _ = _setup(golden, VARIANTS[0], False)
    ref = _run(load_transformer(ckpt), case)
    real_fill, failures = providers.fill_block, []

    def flaky_fill(layout: object, *args: object, **kwargs: object) -> None:
        if getattr(layout, "index", None) == 1 and not failures:
            failures.append(1)
            raise OSError("read error")
        real_fill(layout, *args, **kwargs)

    monkeypatch.setattr(providers, "fill_block", flaky_fill)
    with build_streaming_transformer(ckpt, "disk", "cpu", device_slots=slots) as model:
        with pytest.raises(OSError, match="read error"):
            _run(model, case)
        got = _run(model, case)
    assert failures
    _assert_identical(got, ref, "after a failed read")
