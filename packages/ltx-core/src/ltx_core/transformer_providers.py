"""Transformer providers: how a diffusion stage's transformer is held while it runs.

One interface (`TransformerProvider`: build with a LoRA set, swap to another set, release), three ways to hold it:

- `ResidentTransformer`: the whole model on the device (optionally fp8 or compiled). Plain, it can take another
  LoRA set in place: the touched weights are re-read from the checkpoint and the new set fused.
- `StreamedTransformer`: the blocks kept in host RAM or read from disk and uploaded a few at a time
  (`ltx_core.offload.streaming`; bitwise the resident model). Another LoRA set means a rebuild.
- `ShardedTransformer`: the blocks split over a process group with FSDP2 (`ltx_core.parallel.sharding`); every
  process of the group builds, runs and releases it together. Another LoRA set means a rebuild.

`provider_for` picks one, once, from the runtime options (`TransformerRuntime`) and, for `offload="auto"`, the offload
policy's decision on the memory it is given (under several processes: the most constrained process's numbers, so
that every process decides alike). Sequence parallelism wraps whatever a provider builds (`ltx_core.parallel`).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import torch
import torch.distributed as dist
from torch import nn

from ltx_core.compile import compile_transformer
from ltx_core.errors import InputError
from ltx_core.loader import LoraSpec, fuse_loras_into_model, open_checkpoint, release, restore_weights
from ltx_core.loader.sources import CheckpointLike, ModelSource, model_source
from ltx_core.model.transformer import ModelType, transformer_key_map
from ltx_core.numerics import DEFAULT_NUMERICS, Numerics
from ltx_core.offload.policy import MemoryInfo, OffloadChoice, OffloadMode, check_offload_options, resolve_offload
from ltx_core.offload.streaming import (
    build_streaming_transformer,
    load_resident_transformer,
    release_transformer,
    transformer_footprint,
)
from ltx_core.quantization import Quantization, parse_quantization, quantization_for


@dataclass(frozen=True)
class TransformerRuntime:
    """How the transformer is held while it runs: `offload` none | cpu | disk | auto ("auto" picks from the free
    memory and says why in one line; cpu/disk stream the blocks, bitwise the resident model), `quantization` None |
    "fp8-cast" | "fp8-scaled-mm", `compile` (torch.compile). The default is the plain strict load."""

    offload: str = "none"
    quantization: str | None = None
    compile: bool = False

    @property
    def is_plain(self) -> bool:
        return self.offload == "none" and self.quantization is None and not self.compile


PLAIN_RUNTIME = TransformerRuntime()


class TransformerProvider(Protocol):
    """Builds the transformer with a LoRA set, gives it another set, releases it. `offload_choice`: the offload
    policy's decision it was made from (None when no decision was asked for); its `vae_tiling` is a decoding hint."""

    offload_choice: OffloadChoice | None

    def build(self, loras: Sequence[LoraSpec], *, reusable: bool = False) -> nn.Module:
        """The transformer with `loras` fused. `reusable`: it may later be given another set (`swap_loras`)."""
        ...

    def swap_loras(self, model: nn.Module, loras: Sequence[LoraSpec]) -> nn.Module:
        """`model` with `loras` instead of its set: the same module changed in place, or a new one (the old one
        released) when this provider cannot change it in place."""
        ...

    def release(self, model: nn.Module) -> None:
        """Free `model`'s weights and the memory caches they used."""
        ...


def empty_caches() -> None:
    """Return freed memory to the system (after a model's storage was dropped)."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    elif torch.backends.mps.is_available():
        torch.mps.empty_cache()


class _RebuildsForLoras:
    """Another LoRA set means releasing the model and building it again (weights are not kept in a form that can
    be restored)."""

    def build(self, loras: Sequence[LoraSpec], *, reusable: bool = False) -> nn.Module:
        raise NotImplementedError

    def release(self, model: nn.Module) -> None:
        raise NotImplementedError

    def swap_loras(self, model: nn.Module, loras: Sequence[LoraSpec]) -> nn.Module:
        self.release(model)
        return self.build(loras)


class ResidentTransformer:
    """The whole transformer on `device`. Plain (no quantization, no compile) it is built by `source` (the
    checkpoint's strict loader, or in-memory models) and can change LoRA sets in place; with fp8 or compile it goes
    through the runtime loader and is rebuilt for another set."""

    def __init__(
        self,
        checkpoint: CheckpointLike | ModelSource,
        *,
        device: torch.device,
        dtype: torch.dtype | None,
        quantization: Quantization = Quantization.NONE,
        compile: bool = False,
        offload_choice: OffloadChoice | None = None,
        numerics: Numerics = DEFAULT_NUMERICS,
        model_type: ModelType = ModelType.AUDIO_VIDEO,
    ) -> None:
        self.checkpoint = checkpoint
        self.source = model_source(checkpoint)
        self.device, self.dtype, self.numerics = device, dtype, numerics
        self.model_type = model_type
        self.quantization, self.compile = quantization, compile
        self.offload_choice = offload_choice
        self._touched: list[str] = []  # weights a LoRA set fused after loading changed (restored on a swap)
        self._reusable = False  # the last build fused its set after loading (so it can be undone in place)

    @property
    def plain(self) -> bool:
        return self.quantization is Quantization.NONE and not self.compile

    def build(self, loras: Sequence[LoraSpec], *, reusable: bool = False) -> nn.Module:
        self._touched, self._reusable = [], reusable and self.plain
        if not self.plain:
            model = load_resident_transformer(
                self.checkpoint,
                dtype=self.dtype,
                device=self.device,
                loras=loras,
                quantization=self.quantization,
                numerics=self.numerics,
                model_type=self.model_type,
            )
            if self.compile:
                compile_transformer(model)
            return model
        if not reusable:  # fused while loading: one pass over the weights
            return self._load(loras)
        model = self._load(())
        self._touched = fuse_loras_into_model(model, loras, self.dtype) if loras else []
        return model

    def _load(self, loras: Sequence[LoraSpec]) -> nn.Module:
        # the model type only when not the default: a model source that builds one kind need not know the option
        kind = {} if self.model_type is ModelType.AUDIO_VIDEO else {"model_type": self.model_type}
        model = self.source.build(
            "transformer", dtype=self.dtype, device=self.device, loras=loras, numerics=self.numerics, **kind
        )
        return model.to(self.device)  # a model source may build elsewhere

    def swap_loras(self, model: nn.Module, loras: Sequence[LoraSpec]) -> nn.Module:
        if not self._reusable:  # fused while loading (or fp8 / compiled): nothing to undo in place
            self.release(model)
            return self.build(loras)
        if self._touched:
            restore_weights(model, self.checkpoint, transformer_key_map(model.config), self._touched)  # type: ignore[arg-type]
        self._touched = fuse_loras_into_model(model, loras, self.dtype) if loras else []
        return model

    def release(self, model: nn.Module) -> None:
        if self.plain:
            release(model)
            empty_caches()
        else:
            release_transformer(model)


class StreamedTransformer(_RebuildsForLoras):
    """The blocks kept in host RAM (`OffloadMode.CPU`) or read from the checkpoint (`OffloadMode.DISK`), at most a
    few on the device at a time."""

    def __init__(
        self,
        checkpoint: CheckpointLike,
        mode: OffloadMode,
        *,
        device: torch.device,
        dtype: torch.dtype | None,
        quantization: Quantization = Quantization.NONE,
        offload_choice: OffloadChoice | None = None,
        numerics: Numerics = DEFAULT_NUMERICS,
        model_type: ModelType = ModelType.AUDIO_VIDEO,
    ) -> None:
        assert mode.streams, mode
        self.checkpoint, self.mode, self.numerics = checkpoint, mode, numerics
        self.model_type = model_type
        self.device, self.dtype, self.quantization = device, dtype, quantization
        self.offload_choice = offload_choice

    def build(self, loras: Sequence[LoraSpec], *, reusable: bool = False) -> nn.Module:
        return build_streaming_transformer(
            self.checkpoint,
            self.mode,
            self.device,
            dtype=self.dtype,
            loras=loras,
            quantization=self.quantization,
            numerics=self.numerics,
            model_type=self.model_type,
        )

    def release(self, model: nn.Module) -> None:
        release_transformer(model)


class ShardedTransformer(_RebuildsForLoras):
    """The blocks' weights split over `group` (FSDP2: each block gathered for its forward). Every process of the
    group must build, run and release it together."""

    offload_choice: OffloadChoice | None = None

    def __init__(
        self,
        checkpoint: CheckpointLike,
        group: dist.ProcessGroup | None,
        *,
        device: torch.device,
        dtype: torch.dtype | None,
        quantization: Quantization = Quantization.NONE,
        numerics: Numerics = DEFAULT_NUMERICS,
        model_type: ModelType = ModelType.AUDIO_VIDEO,
    ) -> None:
        self.checkpoint, self.group, self.numerics = checkpoint, group, numerics
        self.model_type = model_type
        self.device, self.dtype, self.quantization = device, dtype, quantization

    def build(self, loras: Sequence[LoraSpec], *, reusable: bool = False) -> nn.Module:
        from ltx_core.parallel.sharding import load_sharded_transformer  # torch.distributed's FSDP2 on demand

        quantization = None if self.quantization is Quantization.NONE else self.quantization.value
        return load_sharded_transformer(
            self.checkpoint,
            device=self.device,
            dtype=self.dtype,
            loras=loras,
            group=self.group,
            quantization=quantization,
            numerics=self.numerics,
            model_type=self.model_type,
        )

    def release(self, model: nn.Module) -> None:
        del model  # the FSDP2 state holds the shards: dropping the last reference frees them
        empty_caches()


def effective_runtime(runtime: TransformerRuntime, checkpoint: CheckpointLike | ModelSource) -> TransformerRuntime:
    """`runtime`, except that a pre-quantized fp8 checkpoint with no quantization asked for runs with fp8-scaled-mm
    (the only way it can run; the official CLI makes the user say so)."""
    if runtime.quantization is not None or isinstance(checkpoint, ModelSource):
        return runtime
    if quantization_for(None, open_checkpoint(checkpoint)) is Quantization.NONE:
        return runtime
    return replace(runtime, quantization=Quantization.FP8_SCALED_MM.value)


def provider_for(
    checkpoint: CheckpointLike | ModelSource,
    runtime: TransformerRuntime = PLAIN_RUNTIME,
    *,
    device: torch.device,
    dtype: torch.dtype | None = None,
    sharded: bool = False,
    group: dist.ProcessGroup | None = None,
    memory: MemoryInfo | None = None,
    echo: Callable[[str], None] | None = None,
    numerics: Numerics = DEFAULT_NUMERICS,
    model_type: ModelType = ModelType.AUDIO_VIDEO,
) -> TransformerProvider:
    """The one provider a stage holds its transformer with: sharded over `group` when `sharded`, plain resident
        for the plain runtime, else what the offload policy decides for `runtime.offload` on `memory` (probed when None;
        the decision is echoed as one line) — resident (fp8 / compiled) or streamed. `numerics`: the official release
    whose arithmetic the built model and its LoRA fusion follow; `model_type`: which streams it has (the audio-only
    model of text to audio). Refuses, before any weight is
        read, the combinations that cannot run (compile with sharding or streaming, sharding in-memory models)."""
    if sharded and isinstance(checkpoint, ModelSource):
        raise InputError("sharded weights are read from checkpoint files, one tensor at a time; pass a path")
    if sharded and runtime.compile:
        raise InputError(
            "compile cannot be combined with sharded weights yet (the blocks FSDP2 gathers are not compiled); "
            "drop one of them"
        )
    wanted = effective_runtime(runtime, checkpoint)
    if echo is not None and wanted != runtime:
        echo("pre-quantized fp8 checkpoint: using quantization fp8-scaled-mm")
    quantization = parse_quantization(wanted.quantization)
    if sharded:
        return ShardedTransformer(
            checkpoint,
            group,
            device=device,
            dtype=dtype,
            quantization=quantization,
            numerics=numerics,
            model_type=model_type,
        )
    if wanted.is_plain:
        return ResidentTransformer(checkpoint, device=device, dtype=dtype, numerics=numerics, model_type=model_type)
    footprint = transformer_footprint(checkpoint, dtype=dtype, quantization=quantization, model_type=model_type)
    choice = resolve_offload(wanted.offload, footprint, device, memory=memory, echo=echo)
    check_offload_options(choice.mode, compile=wanted.compile, device=device)  # before reading any weight
    if choice.mode.streams:
        return StreamedTransformer(
            checkpoint,
            choice.mode,
            device=device,
            dtype=dtype,
            quantization=quantization,
            offload_choice=choice,
            numerics=numerics,
            model_type=model_type,
        )
    return ResidentTransformer(
        checkpoint,
        device=device,
        dtype=dtype,
        quantization=quantization,
        compile=wanted.compile,
        offload_choice=choice,
        numerics=numerics,
        model_type=model_type,
    )
