"""Sharded weights (FSDP2 on the transformer blocks) on CPU gloo: each rank holds a fraction of the block weights,
and the forward is bitwise the single-process one (the gathered weights are the loaded ones); with sequence
parallelism over the same ranks, within the float32 transformer tolerance. LoRA cases fuse before sharding."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ltx_core.model.transformer.loading import load_transformer
from ltx_core.testing.distributed import run_ranks
from ltx_core.testing.golden import cases_120, component_cases, load_case, report
from ltx_core.testing.parallel_cases import sharded_weight_cases
from ltx_core.testing.transformer_cases import case_model, case_model_loras, run_case

NAMES = ("transformer_forward", "transformer_lora", "transformer_stg_mixed")
CASES = [p for p in component_cases("transformer_*") if p.stem in NAMES]
LTX25_CASES = [p for p in cases_120("transformer_keyframes") if p.parent.name.startswith("ltx25")]


@pytest.mark.parametrize(
    ("world", "sequence_parallel", "quantization"), [(3, False, None), (2, True, None), (2, False, "fp8-cast")]
)
def test_sharded_blocks_match_one_process(
    world: int, sequence_parallel: bool, quantization: str | None, golden: Path
) -> None:
    if not CASES:
        pytest.skip("no golden transformer cases")
    paths = [str(p) for p in CASES]
    results = run_ranks(sharded_weight_cases, world, paths, sequence_parallel, quantization, timeout=300)
    for path in CASES:
        case = load_case(path)
        model = _one_process_model(case, path, quantization)
        expected = run_case(model, case)
        full = sum(p.numel() * p.element_size() for p in model.parameters())
        blocks = sum(p.numel() * p.element_size() for p in model.transformer_blocks.parameters())
        for rank, result in enumerate(results):
            held = int(result[f"{path.parent.name}.local_bytes"])
            assert held < full - blocks * (world - 1) / world * 0.9, f"rank {rank} holds {held} of {full} bytes"
            for name, value in expected.items():
                got = result[f"{path.parent.name}/{path.stem}.{name}"]
                if sequence_parallel:
                    report(f"{path.parent.name}/{path.stem}.{name} [sharded, sequence {world}]", got, value, 1e-5)
                else:
                    assert torch.equal(got, value), f"{path.stem}.{name} rank {rank}"


@pytest.mark.parametrize("sequence_parallel", [False, True], ids=["sharded", "sharded+sequence"])
def test_sharded_ltx25_matches_one_process(sequence_parallel: bool) -> None:
    """`--shard-weights` on the LTX-2.5 transformer (both readings of its flags, the keyframe embedding live): each
    of 2 processes holds about half the block weights; bitwise the one-process forward (1e-5 with sequence
    parallelism, as above)."""
    if not LTX25_CASES:
        pytest.skip("no LTX-2.5 transformer cases in the fixture set")
    results = run_ranks(sharded_weight_cases, 2, [str(p) for p in LTX25_CASES], sequence_parallel, timeout=300)
    for path in LTX25_CASES:
        case = load_case(path)
        model = load_transformer(case.file(case.params["checkpoint"]), numerics=case.numerics)
        expected = run_case(model, case)
        blocks = sum(p.numel() * p.element_size() for p in model.transformer_blocks.parameters())
        full = sum(p.numel() * p.element_size() for p in model.parameters())
        for rank, result in enumerate(results):
            held = int(result[f"{path.parent.name}.local_bytes"])
            assert held < full - blocks / 2 * 0.9, f"rank {rank} holds {held} of {full} bytes"
            for name, value in expected.items():
                got = result[f"{path.parent.name}/{path.stem}.{name}"]
                if sequence_parallel:
                    report(f"{path.parent.name}/{path.stem}.{name} [sharded, sequence 2]", got, value, 1e-5)
                else:
                    assert torch.equal(got, value), f"{path.parent.name}/{path.stem}.{name} rank {rank}"


def _one_process_model(case: object, path: Path, quantization: str | None) -> torch.nn.Module:
    """The case's transformer in one process: as the golden tests load it, or with fp8-cast as the resident loader
    (the `--quantization fp8-cast --offload none` model) loads it."""
    if quantization is None:
        return case_model(case, path.parents[2])
    from ltx_core.offload.streaming.build import load_resident_transformer

    golden = path.parents[2]
    return load_resident_transformer(
        golden / case.params["checkpoint"],
        loras=case_model_loras(case, golden),
        quantization=quantization,
        numerics=case.numerics,  # type: ignore[attr-defined]
    )  # type: ignore[attr-defined]


def test_sharded_fp8_cast_is_refused_on_torch_older_than_2_13(golden: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """torch 2.11's FSDP2 makes each shard a grad-requiring Parameter before it copies the flag, which uint8 fp8
    bytes refuse: one line instead, before any process group is needed."""
    from ltx_core.errors import InputError
    from ltx_core.parallel import sharding

    if not CASES:
        pytest.skip("no golden transformer cases")
    monkeypatch.setattr(sharding, "_torch_version", lambda: (2, 11))
    checkpoint = golden / load_case(CASES[0]).params["checkpoint"]
    with pytest.raises(InputError, match=r"need torch 2\.13"):
        sharding.load_sharded_transformer(checkpoint, quantization="fp8-cast")
