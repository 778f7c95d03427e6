"""Sharded transformer weights (`--shard-weights`): each transformer block's parameters are split over a process
group with PyTorch FSDP2 (`fully_shard`) and gathered just before the block runs, so N processes hold about 1/N of
the block weights each (the non-block weights, a small part, stay whole on every rank).

The model is built on the meta device, sharded there, and filled one checkpoint tensor at a time: each rank reads the
tensor (LoRA-fused and cast as the plain loader does), keeps its own rows, and drops the rest, so no rank ever holds
the whole model. The gathered weights are the loaded ones bit for bit, so a forward is the single-process forward.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.device_mesh import DeviceMesh
from torch.distributed.fsdp import fully_shard
from torch.distributed.tensor import DTensor, distribute_tensor

from ltx_core.errors import CheckpointError
from ltx_core.loader import Checkpoint, LoraSpec, open_checkpoint, read_lora
from ltx_core.loader.builder import build_meta, iter_checkpoint_state
from ltx_core.model.transformer.config import ModelType
from ltx_core.model.transformer.loading import transformer_config, transformer_key_map
from ltx_core.model.transformer.model import LTXModel


def shard_blocks(model: LTXModel, mesh: DeviceMesh) -> LTXModel:
    """FSDP2 on every transformer block (gathered before its forward, freed after it)."""
    for block in model.transformer_blocks:
        fully_shard(block, mesh=mesh, reshard_after_forward=True)
    return model


def load_sharded_transformer(
    checkpoint: str | Path | Sequence[str | Path] | Checkpoint,
    *,
    device: torch.device | str = "cpu",
    dtype: torch.dtype | None = None,
    loras: Sequence[LoraSpec] = (),
    group: dist.ProcessGroup | None = None,
    model_type: ModelType = ModelType.AUDIO_VIDEO,
) -> LTXModel:
    """The transformer with its blocks sharded over `group` (default: every rank); same arguments as
    `load_transformer`. Every rank of the group must call it."""
    from ltx_core.quantization import is_scaled_fp8_checkpoint

    ckpt = open_checkpoint(checkpoint)
    if is_scaled_fp8_checkpoint(ckpt):
        raise CheckpointError(f"{ckpt.path}: a pre-quantized fp8 checkpoint cannot be sharded; use fp8-cast on the "
                              "bf16 checkpoint with --shard-weights")  # fmt: skip
    device = torch.device(device)
    config = transformer_config(ckpt.config, model_type, source=ckpt.path)
    model = build_meta(lambda: LTXModel(config))
    assert isinstance(model, LTXModel)
    mesh = DeviceMesh.from_group(group if group is not None else dist.group.WORLD, device.type)
    shard_blocks(model, mesh)
    expected = model.state_dict()
    lora_weights = [(read_lora(spec.path), spec.strength) for spec in loras if spec.strength != 0.0]
    state: dict[str, torch.Tensor] = {}
    for name, tensor in iter_checkpoint_state(ckpt, transformer_key_map(config), expected, component="transformer",
                                              dtype=dtype, device=device, loras=lora_weights):  # fmt: skip
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
