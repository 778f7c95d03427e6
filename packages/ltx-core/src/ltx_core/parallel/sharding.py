"""Sharded transformer weights (`--shard-weights`): each transformer block's parameters are split over a process
group with PyTorch FSDP2 (`fully_shard`) and gathered just before the block runs, so N processes hold about 1/N of
the block weights each (the non-block weights, a small part, stay whole on every rank).

The model is built on the meta device, sharded there, and filled one checkpoint tensor at a time: each rank reads the
tensor (LoRA-fused and cast as the plain loader does), keeps its own rows, and drops the rest, so no rank ever holds
the whole model. The gathered weights are the loaded ones bit for bit, so a forward is the single-process forward.

With fp8-cast, each fp8 Linear is its own FSDP2 unit holding the fp8 bytes as uint8 (FSDP2 gathers one dtype per
unit, and gloo has no float8): the forward views them as float8 again and upcasts exactly as `UpcastLinear` does.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.distributed.device_mesh import DeviceMesh
from torch.distributed.fsdp import fully_shard
from torch.distributed.tensor import DTensor, distribute_tensor

from ltx_core.errors import CheckpointError, InputError
from ltx_core.loader import Checkpoint, LoraSpec, open_checkpoint, read_lora
from ltx_core.loader.builder import build_meta, iter_checkpoint_state
from ltx_core.model.transformer.config import ModelType
from ltx_core.model.transformer.loading import transformer_config, transformer_key_map
from ltx_core.model.transformer.model import LTXModel
from ltx_core.numerics import DEFAULT_NUMERICS, Numerics
from ltx_core.quantization import Quantization, is_scaled_fp8_checkpoint, parse_quantization
from ltx_core.quantization.fp8_cast import FP8_DTYPE, is_fp8_cast_key


class Fp8BytesLinear(nn.Linear):
    """An fp8-cast Linear whose weight and bias hold their fp8 bits as uint8."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight.view(FP8_DTYPE).to(x.dtype)
        bias = None if self.bias is None else self.bias.view(FP8_DTYPE).to(x.dtype)
        return F.linear(x, weight, bias)


def _as_fp8_bytes(model: LTXModel) -> list[nn.Module]:
    """Turn the fp8-cast Linears of a meta model into `Fp8BytesLinear`s with uint8 parameters; returns them."""
    swapped = []
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear) and is_fp8_cast_key(f"{name}.weight"):
            module.__class__ = Fp8BytesLinear
            for pname, param in list(module.named_parameters(recurse=False)):
                setattr(
                    module,
                    pname,
                    nn.Parameter(torch.empty(param.shape, dtype=torch.uint8, device="meta"), requires_grad=False),
                )
            swapped.append(module)
    return swapped


def shard_blocks(model: LTXModel, mesh: DeviceMesh, units: Sequence[nn.Module] = ()) -> LTXModel:
    """FSDP2 on every transformer block (gathered before its forward, freed after it; on a GPU each block's forward
    starts the gather of the next, so the all-gathers overlap the compute instead of sitting on its critical path),
    and first on the given sub-`units` of the blocks (each its own gather)."""
    for unit in units:
        fully_shard(unit, mesh=mesh, reshard_after_forward=True)
    blocks = list(model.transformer_blocks)
    for block in blocks:
        fully_shard(block, mesh=mesh, reshard_after_forward=True)
    if mesh.device_type != "cpu":  # FSDP2 prefetches on the device's side streams (none on the CPU)
        for block, following in itertools.pairwise(blocks):  # gather block i+1 while block i computes
            block.set_modules_to_forward_prefetch([following])
    return model


def _torch_version() -> tuple[int, int]:
    major, minor = torch.__version__.split(".")[:2]
    return int(major), int(minor)


def load_sharded_transformer(
    checkpoint: str | Path | Sequence[str | Path] | Checkpoint,
    *,
    device: torch.device | str = "cpu",
    dtype: torch.dtype | None = None,
    loras: Sequence[LoraSpec] = (),
    group: dist.ProcessGroup | None = None,
    model_type: ModelType = ModelType.AUDIO_VIDEO,
    quantization: str | None = None,
    numerics: Numerics = DEFAULT_NUMERICS,
) -> LTXModel:
    """The transformer with its blocks sharded over `group` (default: every rank); same arguments as
    `load_transformer`. Every rank of the group must call it."""

    quant = parse_quantization(quantization)
    ckpt = open_checkpoint(checkpoint)
    if is_scaled_fp8_checkpoint(ckpt) or quant is Quantization.FP8_SCALED_MM:
        raise CheckpointError(
            f"{ckpt.path}: a pre-quantized fp8 checkpoint cannot be sharded; use quantization='fp8-cast' on "
            "the bf16 checkpoint"
        )
    if quant is Quantization.FP8_CAST and _torch_version() < (2, 13):
        raise InputError(
            f"sharded fp8-cast weights need torch 2.13 or newer (this is {torch.__version__}: its FSDP2 cannot hold "
            "the fp8 bytes); drop the quantization or the sharding, or upgrade torch"
        )
    device = torch.device(device)
    config = transformer_config(ckpt.config, model_type, source=ckpt.path)
    mesh = DeviceMesh.from_group(group if group is not None else dist.group.WORLD, device.type)
    tensors: Iterator[tuple[str, torch.Tensor]]
    if quant is Quantization.FP8_CAST:
        from ltx_core.offload.streaming.build import fp8_cast_model_and_state

        model, tensors = fp8_cast_model_and_state(
            ckpt, dtype=dtype, device=device, loras=loras, model_type=model_type, numerics=numerics
        )
        shard_blocks(model, mesh, _as_fp8_bytes(model))
    else:
        model = build_meta(lambda: LTXModel(config, numerics))
        assert isinstance(model, LTXModel)
        shard_blocks(model, mesh)
        lora_weights = [(read_lora(spec.path), spec.strength) for spec in loras if spec.strength != 0.0]
        key_map = transformer_key_map(config)
        tensors = iter_checkpoint_state(
            ckpt,
            key_map,
            model.state_dict(),
            component="transformer",
            dtype=dtype,
            device=device,
            loras=lora_weights,
            numerics=numerics,
        )
    expected = model.state_dict()
    state: dict[str, torch.Tensor] = {}
    for name, tensor in tensors:
        if tensor.dtype == FP8_DTYPE:
            tensor = tensor.view(torch.uint8)  # its bits, as `Fp8BytesLinear` holds them
        target = expected[name]
        if isinstance(target, DTensor):  # this rank's rows only; no communication (every rank read the tensor)
            tensor = distribute_tensor(tensor, target.device_mesh, target.placements, src_data_rank=None)
        state[name] = nn.Parameter(tensor, requires_grad=False)
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval()


def local_weight_bytes(model: nn.Module) -> int:
    """Bytes of parameters this rank holds (its shards, plus the unsharded parameters)."""
    total = 0
    for param in model.parameters():
        local = param.to_local() if isinstance(param, DTensor) else param
        total += local.numel() * local.element_size()
    return total
