"""Checkpoint ↔ diffusion video decoder (spec §2): the key filter and renames, the fused-qkv split, the static
gates folded into the weights, `coarse_*` preview weights dropped.

Unlike the official non-strict load (which leaves missing tensors on the meta device and warns), a file whose
decoder tensors do not fit the module is a one-line CheckpointError, checked from the header before any read.
Statistics rows no module reads are ignored; absent statistics keep their identity defaults (1, 0), as official.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import torch

from ltx_core.errors import CheckpointError
from ltx_core.loader import Checkpoint, open_checkpoint
from ltx_core.loader.builder import build_meta
from ltx_core.model.video_vae.diffusion.attention import Backend
from ltx_core.model.video_vae.diffusion.config import DiffusionDecoderConfig
from ltx_core.model.video_vae.diffusion.model import CHUNKED, DecodeMode, DiffusionVideoDecoder

KEEP_PREFIXES = ("vae.decoder.", "decoder.", "vae.per_channel_statistics.", "per_channel_statistics.")
RENAMES = (
    ("vae.decoder.", ""),
    ("decoder.", ""),
    ("t_embedder.mlp.0.", "t_embedder.timestep_embedder.linear_1."),
    ("t_embedder.mlp.2.", "t_embedder.timestep_embedder.linear_2."),
    ("vae.per_channel_statistics.", "per_channel_statistics."),
)
GATE_SUFFIXES = (".gate_msa", ".gate_mlp", ".gate_ctx")
# (leaf of a gated Linear, the gate that scales its output rows)
FOLDED = (("attn.proj", "gate_msa"), ("mlp.w_down", "gate_mlp"), ("context_proj", "gate_ctx"))
STATISTICS = ("per_channel_statistics.std-of-means", "per_channel_statistics.mean-of-means")
_SHOW = 5


def rename(key: str) -> str | None:
    """The module-side name of a file key, or None when the key is not the decoder's."""
    if not key.startswith(KEEP_PREFIXES):
        return None
    for old, new in RENAMES:
        key = key.replace(old, new)
    return key


def _gate_for(name: str) -> str | None:
    """The gate that folds into `name` (`P.attn.proj.weight` → `P.gate_msa`), if it is a gated Linear."""
    for leaf, gate in FOLDED:
        for suffix in (".weight", ".bias"):
            if name.endswith(f".{leaf}{suffix}"):
                return name[: -len(f"{leaf}{suffix}")] + gate
    return None


def fold_gate(tensor: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
    """Scale output rows by the gate in float32, back in the file tensor's dtype (§2.2)."""
    g = gate.float().view(-1, *([1] * (tensor.dim() - 1)))
    return (g * tensor.float()).to(tensor.dtype)


def _plan(checkpoint: Checkpoint) -> tuple[dict[str, tuple[str, int | None]], dict[str, str]]:
    """(module name → (file key, qkv row third or None)) and the gate map (gate name → file key)."""
    targets: dict[str, tuple[str, int | None]] = {}
    gates: dict[str, str] = {}
    for key in checkpoint.keys():
        name = rename(key)
        if name is None or name.startswith("coarse_"):
            continue
        if name.endswith(GATE_SUFFIXES):
            gates[name] = key
            continue
        if name.endswith((".qkv.weight", ".qkv.bias")):
            stem, leaf = name.rsplit(".", 1)
            for third, part in enumerate(("to_q", "to_k", "to_v")):
                targets[f"{stem}.{part}.{leaf}"] = (key, third)
            continue
        targets[name] = (key, None)
    return targets, gates


def _check(
    checkpoint: Checkpoint, targets: dict[str, tuple[str, int | None]], expected: dict[str, torch.Tensor]
) -> None:
    """The file's decoder tensors are exactly the module's, with its shapes (statistics may be absent)."""
    where = f"{checkpoint.path}: diffusion video decoder"
    missing = sorted(k for k in expected if k not in targets and k not in STATISTICS)
    unexpected = sorted(k for k in targets if k not in expected and not k.startswith("per_channel_statistics."))
    if missing or unexpected:
        parts = [
            f"{len(v)} {what}: {', '.join(v[:_SHOW])}"
            for what, v in (("missing", missing), ("unexpected", unexpected))
            if v
        ]
        raise CheckpointError(f"{where} weights do not fit the model; " + "; ".join(parts))
    for name, (key, third) in targets.items():
        if name not in expected:
            continue
        shape = list(checkpoint.info(key).shape)
        if third is not None:
            if shape[0] % 3:
                raise CheckpointError(
                    f"{where} tensor {key} {shape} is not a fused q/k/v (first dim not divisible by 3)"
                )
            shape[0] //= 3
        if shape != list(expected[name].shape):
            raise CheckpointError(
                f"{where} tensor {key} has shape {shape}, the config gives {list(expected[name].shape)}; is the "
                "metadata config this file's?"
            )


def iter_decoder_state(
    checkpoint: Checkpoint, expected: dict[str, torch.Tensor], dtype: torch.dtype | None, device: torch.device | str
) -> Iterator[tuple[str, torch.Tensor]]:
    """(module name, tensor) pairs: split, gate-folded (float32, back to the file dtype), then cast to `dtype`."""
    targets, gate_keys = _plan(checkpoint)
    _check(checkpoint, targets, expected)
    gates = {name: checkpoint.read(key) for name, key in gate_keys.items()}
    by_key: dict[str, list[tuple[str, int | None]]] = {}
    for name, (key, third) in targets.items():
        if name in expected:
            by_key.setdefault(key, []).append((name, third))
    for key, tensor in checkpoint.iter_tensors(list(by_key), device="cpu"):
        for name, third in by_key[key]:
            part = tensor if third is None else tensor.chunk(3, dim=0)[third]
            gate = _gate_for(name)
            if gate is not None and gate in gates:
                part = fold_gate(part, gates[gate])
            if dtype is not None and part.is_floating_point():
                part = part.to(dtype)
            yield name, part.contiguous().to(device)


def load_diffusion_video_decoder(
    checkpoint: str | Path | Checkpoint,
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str = "cpu",
    mode: DecodeMode = CHUNKED,
    attention: Backend = "auto",
) -> DiffusionVideoDecoder:
    """Build on meta and fill from the file; `mode` picks the official pathway (chunked: the pipelines' default)."""
    ckpt = open_checkpoint(checkpoint)
    cfg = DiffusionDecoderConfig.from_config(ckpt.config, ckpt.path)
    model = build_meta(lambda: DiffusionVideoDecoder(cfg, mode, attention))
    expected = model.state_dict()
    state = dict(iter_decoder_state(ckpt, expected, dtype, device))
    for name in STATISTICS:  # identity statistics when the file has none
        if name not in state:
            fill = torch.ones if "std" in name else torch.zeros
            state[name] = fill(expected[name].shape, dtype=dtype or torch.float32, device=device)
    model.load_state_dict(state, strict=True, assign=True)
    assert isinstance(model, DiffusionVideoDecoder)
    return model.eval()


def diffusion_decoder_checkpoint_state_dict(
    decoder: DiffusionVideoDecoder, gates: dict[str, torch.Tensor] | None = None
) -> dict[str, torch.Tensor]:
    """The released key layout of a decoder (the inverse of the load): fused qkv, `t_embedder.mlp.{0,2}`, and
    `gates` (name → [c5] tensor, e.g. `diff_blocks.0.gate_msa`) stored beside weights divided by them, so that
    loading folds back to the module's values (up to rounding)."""
    gates = gates or {}
    state = decoder.state_dict()
    out: dict[str, torch.Tensor] = {}
    for name, tensor in state.items():
        if name.startswith("per_channel_statistics."):
            out["vae." + name] = tensor.clone()
            continue
        if ".qkv.to_k." in name or ".qkv.to_v." in name:
            continue
        if ".qkv.to_q." in name:
            leaf = name.rsplit(".", 1)[1]
            stem = name.rsplit(".qkv.", 1)[0] + ".qkv"
            fused = torch.cat([state[f"{stem}.{p}.{leaf}"] for p in ("to_q", "to_k", "to_v")])
            out[f"vae.decoder.{stem}.{leaf}"] = fused
            continue
        gate = _gate_for(name)
        if gate is not None and gate in gates:
            g = gates[gate].float().view(-1, *([1] * (tensor.dim() - 1)))
            tensor = (tensor.float() / g).to(tensor.dtype)
        key = name.replace("t_embedder.timestep_embedder.linear_1.", "t_embedder.mlp.0.")
        key = key.replace("t_embedder.timestep_embedder.linear_2.", "t_embedder.mlp.2.")
        out["vae.decoder." + key] = tensor.clone()
    for name, gate in gates.items():
        out["vae.decoder." + name] = gate.clone()
    return out
