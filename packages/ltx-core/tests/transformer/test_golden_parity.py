"""Golden parity of the transformer (velocity and x0) for every transformer case on disk, loaded through
`load_transformer` (LoRA cases with the case's LoRA file and strength)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ltx_core.guidance.perturbations import (
    BatchedPerturbationConfig,
    Perturbation,
    PerturbationConfig,
    PerturbationType,
)
from ltx_core.loader import LoraSpec
from ltx_core.model.transformer import Modality
from ltx_core.model.transformer.loading import load_transformer
from ltx_core.model.transformer.x0 import X0Model
from ltx_core.testing.golden import GoldenCase, golden_dir, load_case, report

TOL = 1e-5


def _case_paths() -> list[Path]:
    root = golden_dir() / "cases"
    return sorted(root.glob("*/transformer_*.safetensors")) if root.exists() else []


CASES = _case_paths()


def _modality(inputs: dict[str, torch.Tensor], prefix: str, **extra: object) -> Modality:
    return Modality(
        latent=inputs[f"{prefix}_latent"],
        sigma=inputs[f"{prefix}_sigma"],
        timesteps=inputs[f"{prefix}_timesteps"],
        positions=inputs[f"{prefix}_positions"],
        context=inputs[f"{prefix}_context"],
        **extra,  # type: ignore[arg-type]
    )


def perturbations_from_params(params: dict, batch: int) -> BatchedPerturbationConfig | None:
    """The golden cases' perturbation description → one config per batch row."""
    spec = params.get("perturbation")
    if spec is None:
        return None
    perturbs: list[Perturbation] = []
    if "skip_self_attention_blocks" in spec:
        blocks = spec["skip_self_attention_blocks"]
        blocks = None if blocks == "all" else tuple(blocks)
        perturbs += [
            Perturbation(PerturbationType.SKIP_VIDEO_SELF_ATTN, blocks),
            Perturbation(PerturbationType.SKIP_AUDIO_SELF_ATTN, blocks),
        ]
    if "skip_av_cross_attention_blocks" in spec:
        blocks = spec["skip_av_cross_attention_blocks"]
        blocks = None if blocks == "all" else tuple(blocks)
        perturbs += [
            Perturbation(PerturbationType.SKIP_A2V_CROSS_ATTN, blocks),
            Perturbation(PerturbationType.SKIP_V2A_CROSS_ATTN, blocks),
        ]
    unknown = set(spec) - {"batch_entries", "skip_self_attention_blocks", "skip_av_cross_attention_blocks"}
    assert not unknown, f"unhandled perturbation params {unknown}"
    entries = set(spec.get("batch_entries", range(batch)))
    return BatchedPerturbationConfig.of(
        [PerturbationConfig(tuple(perturbs)) if b in entries else PerturbationConfig.empty() for b in range(batch)]
    )


def run_case(case: GoldenCase, golden: Path, kernel: str = "sdpa") -> dict[str, torch.Tensor]:
    params, inputs = case.params, case.inputs
    loras = []
    if "lora" in params:
        loras = [LoraSpec(golden / params["lora"], float(params.get("strength", 0.8)))]
    model = load_transformer(golden / params["checkpoint"], loras=loras)
    model.set_attention_kernel(kernel)
    context_mask = inputs.get("context_mask")
    video = _modality(
        inputs, "video", context_mask=context_mask, attention_mask=inputs.get("video_self_attention_mask")
    )
    audio = _modality(inputs, "audio", context_mask=context_mask, enabled=bool(params.get("audio_enabled", True)))
    ptb = perturbations_from_params(params, video.latent.shape[0])
    with torch.no_grad():
        v_vel, a_vel = model(video, audio, ptb)
        v_x0, a_x0 = X0Model(model)(video, audio, ptb)
    return {"video_velocity": v_vel, "audio_velocity": a_vel, "video_x0": v_x0, "audio_x0": a_x0}


@pytest.mark.parametrize("path", CASES, ids=[f"{p.parent.name}/{p.stem}" for p in CASES])
def test_transformer_case(path: Path, golden: Path) -> None:
    case = load_case(path)
    got = run_case(case, golden)
    assert set(case.outputs) <= set(got), f"unhandled outputs {set(case.outputs) - set(got)}"
    for name, expected in case.outputs.items():
        assert got[name] is not None
        report(f"{path.parent.name}/{path.stem}.{name}", got[name], expected, TOL)


@pytest.mark.parametrize("variant", sorted({p.parent.name for p in CASES}))
def test_math_kernel_matches_sdpa(variant: str, golden: Path) -> None:
    case = load_case(golden / "cases" / variant / "transformer_masked.safetensors")
    got = run_case(case, golden, kernel="math")
    for name, expected in case.outputs.items():
        report(f"{variant}/masked[math].{name}", got[name], expected, TOL)


def test_cases_found() -> None:
    if not golden_dir().exists():
        pytest.skip("no golden fixtures")
    assert CASES, "no transformer cases found under the golden dir"
