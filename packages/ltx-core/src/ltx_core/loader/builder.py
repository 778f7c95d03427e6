"""Checkpoint → module: build on the meta device, read only this component's tensors, load by assignment.

Strict by default: a missing weight or a tensor the module does not expect is an error that lists the first few
keys (the official loader is silently non-strict). Keys that belong to other components are never seen here: the
key map leaves them out. Peak memory is one copy of the component: each tensor is read into its final buffer,
cast (and LoRA-fused) one at a time, and the module takes it by assignment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import torch
from torch import nn

from ltx_core.errors import CheckpointError
from ltx_core.loader.key_map import KeyMap
from ltx_core.loader.lora import (
    LoraSpec,
    LoraWeights,
    check_lora_coverage,
    delta_dtype_for,
    fuse_weight,
    lora_delta,
    lora_fuse_device,
    read_lora,
    weight_shapes,
)
from ltx_core.loader.safetensors_file import Checkpoint, open_checkpoint
from ltx_core.numerics import DEFAULT_NUMERICS, Numerics

_SHOW = 5


def _listing(keys: Sequence[str]) -> str:
    keys = sorted(keys)
    more = f" (+{len(keys) - _SHOW} more)" if len(keys) > _SHOW else ""
    return ", ".join(keys[:_SHOW]) + more


def build_meta(factory: Callable[[], nn.Module]) -> nn.Module:
    with torch.device("meta"):
        return factory()


def check_fits(
    checkpoint: Checkpoint, selected: Mapping[str, str], expected: Mapping[str, torch.Tensor], component: str
) -> None:
    """The selected tensors (model name → checkpoint key) are exactly the model's, with the model's shapes, from the
    header alone: a file whose metadata config does not describe its tensors fails here in one line, before any
    read, rather than in `load_state_dict`."""
    missing = [k for k in expected if k not in selected]
    unexpected = [k for k in selected if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing: {_listing(missing)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected: {_listing(unexpected)}")
        raise CheckpointError(f"{checkpoint.path}: {component} weights do not fit the model; " + "; ".join(parts))
    reshaped = [
        f"{name} {list(stored)} (config: {list(expected[name].shape)})"
        for name, src in selected.items()
        if (stored := tuple(checkpoint.info(src).shape)) != tuple(expected[name].shape)
    ]
    if reshaped:
        raise CheckpointError(
            f"{checkpoint.path}: {len(reshaped)} {component} weight(s) have another shape than the checkpoint's "
            f"config gives: {_listing(reshaped)}; is the metadata config this file's?"
        )


def load_state_dict_from_checkpoint(
    checkpoint: Checkpoint,
    key_map: KeyMap,
    expected: dict[str, torch.Tensor] | None,
    *,
    component: str,
    dtype: torch.dtype | None = None,
    device: torch.device | str = "cpu",
    loras: Sequence[tuple[LoraWeights, float]] = (),
    strict: bool = True,
    numerics: Numerics = DEFAULT_NUMERICS,
) -> dict[str, torch.Tensor]:
    """Read, rename, cast and LoRA-fuse the tensors `key_map` selects (see `iter_checkpoint_state`)."""
    return dict(
        iter_checkpoint_state(
            checkpoint,
            key_map,
            expected,
            component=component,
            dtype=dtype,
            device=device,
            loras=loras,
            strict=strict,
            numerics=numerics,
        )
    )


def iter_checkpoint_state(
    checkpoint: Checkpoint,
    key_map: KeyMap,
    expected: Mapping[str, torch.Tensor] | None,
    *,
    component: str,
    dtype: torch.dtype | None = None,
    device: torch.device | str = "cpu",
    loras: Sequence[tuple[LoraWeights, float]] = (),
    strict: bool = True,
    numerics: Numerics = DEFAULT_NUMERICS,
) -> Iterator[tuple[str, torch.Tensor]]:
    """(model name, tensor) one at a time: read, renamed, cast and LoRA-fused (a sharded load keeps one full tensor
    in memory at a time).

    `expected` is the module's (meta) state dict, used for the strictness checks; pass None to skip them.
    Only floating-point tensors are cast to `dtype`. LoRA-fused weights come out in `dtype` (or their stored dtype),
    fused by `numerics`' rule (`ltx_core.loader.lora`).
    """
    selected = key_map.select(checkpoint.keys())
    if not selected:
        raise CheckpointError(
            f"{checkpoint.path}: has no {component} weights (no keys under {', '.join(key_map.prefixes)}); "
            "is this the right file?"
        )
    if expected is not None and strict:
        check_fits(checkpoint, selected, expected, component)
    if loras:
        check_lora_coverage([lora for lora, _ in loras], weight_shapes(checkpoint, selected))
    target_device = torch.device(device)
    fuse_device = lora_fuse_device(target_device)
    source_to_name = {src: name for name, src in selected.items()}
    for src, tensor in checkpoint.iter_tensors(list(selected.values()), device="cpu"):
        name = source_to_name[src]
        delta = None
        if loras and name.endswith(".weight"):
            target = dtype if (dtype is not None and tensor.is_floating_point()) else tensor.dtype
            delta = lora_delta(loras, name[: -len(".weight")], delta_dtype_for(target, numerics), fuse_device)
        if delta is not None:
            tensor = fuse_weight(tensor.to(fuse_device), delta, target)
        elif dtype is not None and tensor.is_floating_point() and tensor.dtype != dtype:
            tensor = tensor.to(dtype)
        tensor = key_map.apply_ops(name, tensor)
        yield name, tensor.to(target_device)


def load_model(
    factory: Callable[[], nn.Module],
    checkpoint: str | Path | Sequence[str | Path] | Checkpoint,
    key_map: KeyMap,
    *,
    component: str,
    dtype: torch.dtype | None = None,
    device: torch.device | str = "cpu",
    loras: Sequence[LoraSpec] = (),
    strict: bool = True,
    numerics: Numerics = DEFAULT_NUMERICS,
) -> nn.Module:
    """Build `factory()` on meta and fill it from `checkpoint` (see module docstring). Returns an eval() module.

    The module may not have non-persistent buffers: derived tables are computed in `forward` (or cached lazily),
    so nothing is left on the meta device after loading.
    """
    ckpt = open_checkpoint(checkpoint)
    model = build_meta(factory)
    lora_weights = [(read_lora(spec.path), spec.strength) for spec in loras if spec.strength != 0.0]
    state = load_state_dict_from_checkpoint(
        ckpt,
        key_map,
        model.state_dict(),
        component=component,
        dtype=dtype,
        device=device,
        loras=lora_weights,
        strict=strict,
        numerics=numerics,
    )
    model.load_state_dict(state, strict=strict, assign=True)
    left = [n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if left:
        raise CheckpointError(f"{ckpt.path}: {component} weights missing after load: {_listing(left)}")
    return model.eval()


def release(model: nn.Module) -> None:
    """Drop a model's storage (CPU and GPU) by moving it to the meta device."""
    model.to("meta")
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def restore_weights(
    model: nn.Module,
    checkpoint: str | Path | Sequence[str | Path] | Checkpoint,
    key_map: KeyMap,
    names: Sequence[str],
    *,
    dtype: torch.dtype | None = None,
) -> None:
    """Re-read `names` from the checkpoint into `model`: undoes LoRA fusion exactly, so a cached model can take
    another LoRA set without keeping a second copy of the weights."""
    ckpt = open_checkpoint(checkpoint)
    selected = key_map.select(ckpt.keys())
    params = dict(model.named_parameters())
    wanted = {selected[n]: n for n in names}
    for src, tensor in ckpt.iter_tensors(list(wanted), device="cpu"):
        name = wanted[src]
        target = params[name]
        tensor = key_map.apply_ops(name, tensor.to(dtype or target.dtype))
        with torch.no_grad():
            target.data = tensor.to(target.device)


def fuse_loras_into_model(
    model: nn.Module,
    loras: Sequence[LoraSpec],
    dtype: torch.dtype | None = None,
    numerics: Numerics | None = None,
) -> list[str]:
    """Fuse LoRAs into an already built model in place; returns the names of the weights that changed
    (pass them to `restore_weights` to undo). `numerics` None takes the model's own (`LTXModel.numerics`), else
    the default."""
    numerics = numerics or getattr(model, "numerics", DEFAULT_NUMERICS)
    lora_weights = [(read_lora(spec.path), spec.strength) for spec in loras if spec.strength != 0.0]
    params = dict(model.named_parameters())
    shapes = {n[: -len(".weight")]: tuple(p.shape) for n, p in params.items() if n.endswith(".weight")}
    check_lora_coverage([lw for lw, _ in lora_weights], shapes)
    touched = []
    for name, param in params.items():
        if not name.endswith(".weight"):
            continue
        target = dtype or param.dtype
        fuse_device = lora_fuse_device(param.device)  # where the loader fuses too: the same bits on a re-fusion
        delta = lora_delta(lora_weights, name[: -len(".weight")], delta_dtype_for(target, numerics), fuse_device)
        if delta is None:
            continue
        with torch.no_grad():
            param.data = fuse_weight(param.data.to(fuse_device), delta, target).to(param.device)
        touched.append(name)
    return touched
