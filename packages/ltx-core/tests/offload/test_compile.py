"""torch.compile wiring on CPU (eager backend: no code generation, so the test stays fast) and its refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ltx_core import toolchain
from ltx_core.compile import compile_transformer, is_compiled
from ltx_core.errors import InputError
from ltx_core.model.transformer import Modality
from ltx_core.model.transformer.loading import load_transformer
from ltx_core.offload.policy import OffloadMode, check_offload_options
from ltx_core.offload.streaming import build_streaming_transformer
from ltx_core.testing.golden import component_cases, load_case
from ltx_core.transformer_providers import TransformerRuntime, provider_for


def _inputs(golden: Path) -> tuple[Path, Modality, Modality]:
    path = component_cases("transformer_forward")[0]
    case = load_case(path)

    def modality(p: str) -> Modality:
        i = case.inputs
        return Modality(i[f"{p}_latent"], i[f"{p}_sigma"], i[f"{p}_timesteps"], i[f"{p}_positions"], i[f"{p}_context"])

    return golden / case.params["checkpoint"], modality("video"), modality("audio")


@pytest.mark.slow  # dynamo tracing of two blocks: seconds even with the eager backend
def test_compile_blocks_same_output(golden: Path) -> None:
    ckpt, video, audio = _inputs(golden)
    model = load_transformer(ckpt)
    keys = list(model.state_dict())
    with torch.no_grad():
        ref = model(video, audio)
        compile_transformer(model, backend="eager", dynamic=False)
        got = model(video, audio)
    assert is_compiled(model)
    assert all(getattr(b, "_compiled_call_impl", None) is not None for b in model.transformer_blocks)
    assert list(model.state_dict()) == keys  # checkpoint keys unchanged (no `_orig_mod.`)
    for g, r in zip(got, ref, strict=True):
        assert torch.equal(g, r)
    assert compile_transformer(model, backend="eager") is model  # idempotent


def test_compile_refuses_streaming(golden: Path) -> None:
    ckpt, _, _ = _inputs(golden)
    with (
        build_streaming_transformer(ckpt, "disk", "cpu") as model,
        pytest.raises(InputError, match="compile=True cannot be combined with offload='disk'; drop one of them"),
    ):
        compile_transformer(model, backend="eager")


def test_compile_refuses_other_modules() -> None:
    with pytest.raises(InputError, match="expects an LTXModel"):
        compile_transformer(torch.nn.Linear(2, 2))


@pytest.fixture
def no_compilers(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine with Triton importable but no C/C++ compiler on PATH (and none named by $CC / $CXX)."""
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.delenv("CXX", raising=False)


def test_compile_without_a_compiler_is_refused_in_one_line(no_compilers: None, golden: Path) -> None:
    for device in (None, "cpu", "cuda"):
        with pytest.raises(InputError, match=r"^compile=True needs .*compiler.*; install it or pass compile=False$"):
            check_offload_options(OffloadMode.NONE, compile=True, device=device)
    check_offload_options(OffloadMode.NONE)  # nothing asked of the toolchain without --compile
    with pytest.raises(InputError, match="offload='cpu'; drop"):  # the streaming rule still comes first
        check_offload_options(OffloadMode.CPU, compile=True)
    ckpt, _, _ = _inputs(golden)
    with pytest.raises(InputError, match="C\\+\\+ compiler"):
        provider_for(ckpt, TransformerRuntime(compile=True), device=torch.device("cpu"))
    model = load_transformer(ckpt)
    with pytest.raises(InputError, match="C\\+\\+ compiler"):
        compile_transformer(model)
    assert not is_compiled(model)


def test_toolchain_names_what_is_missing(no_compilers: None, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "C compiler" in (toolchain.triton_missing() or "") or "Triton" in (toolchain.triton_missing() or "")
    assert "C++ compiler" in (toolchain.compile_toolchain_missing("cpu") or "")
    monkeypatch.setenv("CC", "/usr/bin/cc-of-choice")
    monkeypatch.setattr(toolchain.sysconfig, "get_paths", lambda: {"include": "/nonexistent/include"})
    assert toolchain.compile_toolchain_missing(None) == "the Python headers (/nonexistent/include/Python.h)"
