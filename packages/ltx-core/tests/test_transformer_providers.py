"""Transformer providers: the one choice from the runtime options and the offload policy, each provider's build /
swap LoRAs / release, and the refusals made before any weight is read."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ltx_core.errors import InputError
from ltx_core.loader import LoraSpec
from ltx_core.model.transformer import LTXModel, load_transformer
from ltx_core.offload.policy import GIB, MemoryInfo, OffloadMode
from ltx_core.offload.streaming import BlockStreamingWrapper
from ltx_core.testing.golden import component_checkpoints, golden_dir
from ltx_core.testing.in_memory import InMemoryModels
from ltx_core.transformer_providers import (
    ResidentTransformer,
    ShardedTransformer,
    StreamedTransformer,
    TransformerRuntime,
    provider_for,
)

CPU = torch.device("cpu")


def _ckpt() -> Path:
    ckpts = component_checkpoints()
    assert ckpts
    return ckpts[0]


def _lora_for(ckpt: Path) -> Path:
    """The golden set's LoRA made for `ckpt` (`lora_<name>.safetensors` beside it)."""
    lora = golden_dir() / f"lora_{ckpt.name}"
    if not lora.exists():
        pytest.skip(f"no LoRA for {ckpt.name} in the fixture set ({lora.name})")
    return lora


def _same_weights(got: torch.nn.Module, want: torch.nn.Module) -> None:
    a, b = got.state_dict(), want.state_dict()
    assert a.keys() == b.keys()
    for name, tensor in b.items():
        assert torch.equal(a[name], tensor), name


def test_plain_runtime_is_resident_and_decides_nothing() -> None:
    provider = provider_for(_ckpt(), device=CPU)
    assert isinstance(provider, ResidentTransformer) and provider.plain and provider.offload_choice is None


def test_auto_on_cpu_is_resident(capsys: pytest.CaptureFixture[str]) -> None:
    provider = provider_for(_ckpt(), TransformerRuntime(offload="auto"), device=CPU, echo=print)
    assert isinstance(provider, ResidentTransformer) and provider.offload_choice is not None
    assert provider.offload_choice.mode is OffloadMode.NONE
    assert "offload: none" in capsys.readouterr().out
    model = provider.build(())
    assert isinstance(model, LTXModel)
    provider.release(model)
    assert all(p.is_meta for p in model.parameters())


def test_auto_streams_when_memory_is_short() -> None:
    tiny_gpu = MemoryInfo("cuda", 1, 64 * GIB)  # pretend: nothing fits the accelerator, RAM is plenty
    provider = provider_for(_ckpt(), TransformerRuntime(offload="auto"), device=CPU, memory=tiny_gpu)
    assert isinstance(provider, StreamedTransformer) and provider.mode is OffloadMode.CPU
    assert provider.offload_choice is not None and "may run out" in provider.offload_choice.reason
    model = provider.build(())
    assert isinstance(model, BlockStreamingWrapper)
    provider.release(model)
    assert model.closed


def test_forced_disk_with_fp8() -> None:
    provider = provider_for(_ckpt(), TransformerRuntime(offload="disk", quantization="fp8-cast"), device=CPU)
    assert isinstance(provider, StreamedTransformer) and provider.mode is OffloadMode.DISK
    model = provider.build(())
    assert model.mode == "disk"
    assert model.model.transformer_blocks[0].attn1.to_q.weight.is_meta  # blocks live outside the module
    provider.release(model)


def test_resident_swaps_lora_sets_in_place_exactly() -> None:
    """A reusable resident build takes another set in place (the touched weights re-read, the new set fused): the
    weights equal a fresh load with that set, and no second model is made."""
    ckpt = _ckpt()
    lora = LoraSpec(_lora_for(ckpt), 1.0)
    provider = provider_for(ckpt, device=CPU)
    model = provider.build((lora,), reusable=True)
    _same_weights(model, load_transformer(ckpt, loras=(lora,)))
    for loras in ((), (LoraSpec(lora.path, 0.5),), (lora,)):
        assert provider.swap_loras(model, loras) is model
        _same_weights(model, load_transformer(ckpt, loras=loras))
    provider.release(model)


def test_streamed_rebuilds_for_another_lora_set() -> None:
    ckpt = _ckpt()
    lora = LoraSpec(_lora_for(ckpt), 1.0)
    provider = provider_for(ckpt, TransformerRuntime(offload="cpu"), device=CPU)
    first = provider.build(())
    second = provider.swap_loras(first, (lora,))
    assert second is not first and first.closed  # the old one released before the new one was built
    assert not second.closed
    provider.release(second)


def test_fp8_resident_is_rebuilt_for_another_lora_set() -> None:
    provider = provider_for(_ckpt(), TransformerRuntime(offload="none", quantization="fp8-cast"), device=CPU)
    assert isinstance(provider, ResidentTransformer) and not provider.plain
    model = provider.build((), reusable=True)
    assert torch.float8_e4m3fn in {p.dtype for p in model.parameters()}
    rebuilt = provider.swap_loras(model, ())
    assert rebuilt is not model and all(p.is_meta for p in model.parameters())  # fp8 weights cannot be restored
    provider.release(rebuilt)


def test_refusals_before_any_weight_is_read(tmp_path: Path) -> None:
    missing = tmp_path / "never-read.safetensors"
    with pytest.raises(InputError, match=r"^compile cannot be combined with sharded weights"):
        provider_for(missing, TransformerRuntime(compile=True), device=CPU, sharded=True)
    in_memory = InMemoryModels({}, {})
    with pytest.raises(InputError, match=r"^sharded weights are read from checkpoint files"):
        provider_for(in_memory, device=CPU, sharded=True)
    with pytest.raises(InputError, match=r"^compile=True cannot be combined with offload=.cpu."):
        provider_for(_ckpt(), TransformerRuntime(offload="cpu", compile=True), device=CPU)
    assert isinstance(provider_for(_ckpt(), device=CPU, sharded=True), ShardedTransformer)  # built only when asked


def test_a_model_fused_while_loading_is_rebuilt_for_another_set() -> None:
    """Built for one call (not reusable: the LoRA fused while loading), another set cannot be undone in place: the
    provider rebuilds, and the weights are a fresh load's with the new set (not both sets stacked)."""
    ckpt = _ckpt()
    lora = LoraSpec(_lora_for(ckpt), 1.0)
    provider = provider_for(ckpt, device=CPU)
    model = provider.build((lora,))
    other = provider.swap_loras(model, (LoraSpec(lora.path, 0.5),))
    assert other is not model and all(p.is_meta for p in model.parameters())
    _same_weights(other, load_transformer(ckpt, loras=(LoraSpec(lora.path, 0.5),)))
    provider.release(other)
