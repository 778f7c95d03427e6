"""One entry point for the pipelines: the transformer as the user's options ask (offload, fp8-cast, compile), with
the automatic offload choice echoed as one line, and a matching release."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from ltx_core.compile import compile_transformer
from ltx_core.loader.lora import LoraSpec
from ltx_core.model.transformer.config import ModelType
from ltx_core.numerics import DEFAULT_NUMERICS, Numerics
from ltx_core.offload.policy import MemoryInfo, OffloadChoice, check_offload_options, resolve_offload
from ltx_core.offload.streaming.build import (
    CheckpointLike,
    build_streaming_transformer,
    load_resident_transformer,
    transformer_footprint,
)
from ltx_core.offload.streaming.wrapper import BlockStreamingWrapper, free_memory
from ltx_core.quantization import parse_quantization


def load_transformer_for_inference(
    checkpoint: CheckpointLike,
    *,
    device: torch.device | str,
    offload: str | None = "auto",
    dtype: torch.dtype | None = torch.bfloat16,
    loras: Sequence[LoraSpec] = (),
    quantization: str | None = None,
    compile: bool = False,
    model_type: ModelType = ModelType.AUDIO_VIDEO,
    memory: MemoryInfo | None = None,
    echo: Callable[[str], None] | None = print,
    numerics: Numerics = DEFAULT_NUMERICS,
) -> tuple[nn.Module, OffloadChoice]:
    """(model, choice): an LTXModel (offload none, optionally compiled) or a BlockStreamingWrapper (cpu/disk); both
    are called the same way and released with `release_transformer`. `choice.vae_tiling` is the tiling hint.
    `numerics`: the official release whose arithmetic the model and the LoRA fusion follow."""
    quant = parse_quantization(quantization)
    footprint = transformer_footprint(checkpoint, dtype=dtype, quantization=quant, model_type=model_type)
    choice = resolve_offload(offload, footprint, device, memory=memory, echo=echo)
    check_offload_options(choice.mode, compile=compile, device=device)  # before reading any weight
    if choice.mode.streams:
        model: nn.Module = build_streaming_transformer(
            checkpoint,
            choice.mode,
            device,
            dtype=dtype,
            loras=loras,
            quantization=quant,
            model_type=model_type,
            numerics=numerics,
        )
        return model, choice
    model = load_resident_transformer(
        checkpoint,
        dtype=dtype,
        device=device,
        loras=loras,
        quantization=quant,
        model_type=model_type,
        numerics=numerics,
    )
    if compile:
        compile_transformer(model)
    return model, choice


def release_transformer(model: nn.Module) -> None:
    """Free a model from `load_transformer_for_inference` (weights → meta, device and pinned caches emptied)."""
    if isinstance(model, BlockStreamingWrapper):
        model.close()
        return
    cuda = any(p.is_cuda for p in model.parameters())
    if cuda:
        torch.cuda.synchronize()
    model.to("meta")
    free_memory(cuda)
