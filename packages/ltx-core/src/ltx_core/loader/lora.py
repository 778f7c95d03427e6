"""LoRA files and their fusion into model weights.

Format (official trainer, ComfyUI style): `diffusion_model.<module path>.lora_A.weight` [r, in] and
`....lora_B.weight` [out, r]; no alpha scaling. A weight `<module path>.weight` of the model is fused when both
halves exist. The math and rounding points follow the official fusion exactly (spec B.7):

    Δ = (B·s₁) @ A₁              (B·s rounded to the delta dtype first, then the matmul)
    Δ = Δ + s₂·(B₂ @ A₂) ...     (one fused add-matmul per further LoRA)
    W' = Δ + W                   (in the delta dtype, then cast to the target dtype)

with the delta dtype equal to the target dtype (the build dtype, else the stored one), except bf16 for fp8 targets
(1.1.3 numerics); 1.2.0 numerics (delta A.12) aggregate Δ in bf16 whatever the target, add W in the target dtype
into Δ's bf16 buffer, and cast the sum to the target (a float32 weight comes out bf16-rounded).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ltx_core.errors import LoraError
from ltx_core.loader.safetensors_file import SafetensorsFile
from ltx_core.numerics import DEFAULT_NUMERICS, Numerics

_A, _B = ".lora_A.weight", ".lora_B.weight"
LORA_PREFIX = "diffusion_model."


@dataclass(frozen=True)
class LoraSpec:
    """A LoRA file and the strength it is fused with."""

    path: Path
    strength: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))


@dataclass
class LoraWeights:
    """The A/B pairs of one LoRA file, keyed by module path (LoRA prefix removed), kept on CPU."""

    path: Path
    pairs: dict[str, tuple[torch.Tensor, torch.Tensor]]
    metadata: dict[str, str]
    ignored_keys: int = 0


def lora_pair_keys(keys: Sequence[str]) -> dict[str, tuple[str, str]]:
    """{module path (LoRA prefix removed): (A key, B key)} for every complete A/B pair among `keys`."""
    present = set(keys)
    return {
        k[: -len(_A)].replace(LORA_PREFIX, ""): (k, k[: -len(_A)] + _B)
        for k in keys
        if k.endswith(_A) and k[: -len(_A)] + _B in present
    }


def read_lora(path: str | Path) -> LoraWeights:
    f = SafetensorsFile(path)
    tensors = dict(f.iter_tensors())
    pairs = {stem: (tensors[a], tensors[b]) for stem, (a, b) in lora_pair_keys(list(tensors)).items()}
    if not pairs:
        raise LoraError(
            f"{f.path}: not a LoRA file (no '<module>.lora_A.weight' / '.lora_B.weight' pairs among "
            f"{len(tensors)} tensors)"
        )
    return LoraWeights(f.path, pairs, f.metadata, ignored_keys=len(tensors) - 2 * len(pairs))


def lora_delta(
    loras: Sequence[tuple[LoraWeights, float]], stem: str, delta_dtype: torch.dtype, device: torch.device
) -> torch.Tensor | None:
    """Σ strength·(B @ A) over the LoRAs that carry `stem`, with the official rounding order."""
    delta: torch.Tensor | None = None
    for lora, strength in loras:
        pair = lora.pairs.get(stem)
        if pair is None:
            continue
        # non-blocking: from pinned copies (disk streaming) the upload queues on the current stream instead of
        # stalling the host; from pageable memory it is an ordinary copy
        a = pair[0].to(device=device, dtype=delta_dtype, non_blocking=True)
        b = pair[1].to(device=device, dtype=delta_dtype, non_blocking=True)
        if delta is None:
            delta = (b * strength) @ a
        else:
            delta.addmm_(b, a, alpha=strength)
    return delta


def fuse_weight(weight: torch.Tensor, delta: torch.Tensor, target_dtype: torch.dtype | None = None) -> torch.Tensor:
    """W' = Δ + W into Δ's buffer (W in the target dtype; the add is evaluated in the wider of the two), cast to
    the target dtype. Under 1.1.3 numerics Δ is in the target dtype, so this is the plain add. An fp8 (e4m3,
    unscaled) weight on CUDA with Triton is rounded stochastically, as the official fusion does there; elsewhere
    fp8 fusion is `bf16(Δ) + bf16(W)`."""
    target = target_dtype or weight.dtype
    if weight.dtype in (torch.float8_e4m3fn, torch.float8_e5m2):
        from ltx_core.quantization.stochastic_rounding import stochastic_fp8_fuse, stochastic_rounding_available

        if weight.dtype == torch.float8_e4m3fn and stochastic_rounding_available(weight.device):
            return stochastic_fp8_fuse(weight, delta).to(target)
        return (delta.to(torch.bfloat16) + weight.to(torch.bfloat16)).to(target)
    return delta.add_(weight.to(device=delta.device, dtype=target)).to(target)


def delta_dtype_for(target: torch.dtype, numerics: Numerics = DEFAULT_NUMERICS) -> torch.dtype:
    """The dtype Δ is aggregated in: bf16 under 1.2.0 numerics and for fp8 targets, else the target dtype."""
    if numerics.lora_delta_bf16 or target in (torch.float8_e4m3fn, torch.float8_e5m2):
        return torch.bfloat16
    return target


def lora_fuse_device(target: torch.device | str | None = None) -> torch.device:
    """Where LoRAs are fused into weights: the target device when it is a CUDA device, else the current CUDA device
    when there is one (the official loader fuses on CUDA; fusing on the CPU instead changes bits), else the CPU."""
    target = torch.device(target) if target is not None else None
    if target is not None and target.type == "cuda":
        return target if target.index is not None else torch.device("cuda", torch.cuda.current_device())
    return torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else torch.device("cpu")


def weight_shapes(checkpoint: Any, selected: Mapping[str, str]) -> dict[str, tuple[int, ...]]:
    """{module path: stored shape} of the `.weight` tensors among `selected` (model name → checkpoint key), from the
    checkpoint's header: what `check_lora_coverage` matches LoRA pairs against."""
    return {
        name[: -len(".weight")]: tuple(checkpoint.info(src).shape)
        for name, src in selected.items()
        if name.endswith(".weight")
    }


def check_lora_coverage(loras: Sequence[LoraWeights], model_weights: Mapping[str, Sequence[int]]) -> None:
    """A LoRA none of whose pairs match the model is an error, and so is a matching pair whose shapes do not fit the
    weight (`B @ A` must be [out, in]); a partial match is a warning with counts. `model_weights`: {stem: shape}."""
    for lora in loras:
        check_lora_pairs(
            lora.path, {stem: (tuple(a.shape), tuple(b.shape)) for stem, (a, b) in lora.pairs.items()}, model_weights
        )


def check_lora_pairs(
    path: Path,
    pairs: Mapping[str, tuple[Sequence[int], Sequence[int]]],
    model_weights: Mapping[str, Sequence[int]],
) -> None:
    """`check_lora_coverage` on shapes only ({stem: (A shape, B shape)}), so it also runs on file headers."""
    matched = [stem for stem in pairs if stem in model_weights]
    total = len(pairs)
    if not matched:
        example = next(iter(pairs))
        raise LoraError(
            f"{path}: none of its {total} LoRA weight pairs match the model (e.g. '{example}'); "
            "is it a LoRA for this model?"
        )
    for stem in matched:
        a, b = pairs[stem]
        weight = tuple(model_weights[stem])
        if len(weight) == 2 and not (len(a) == 2 and len(b) == 2 and a[0] == b[1] and (b[0], a[1]) == weight):
            raise LoraError(
                f"{path}: LoRA pair '{stem}' (A {list(a)}, B {list(b)}) does not fit the model's weight "
                f"{list(weight)}; is it a LoRA for this model (LTX-2 vs LTX-2.3)?"
            )
    if len(matched) < total:
        warnings.warn(
            f"{path.name}: {len(matched)} of {total} LoRA weight pairs match the model; "
            f"{total - len(matched)} are ignored",
            stacklevel=4,
        )
