"""The golden transformer cases' inputs as model arguments (shared by the single-process parity test and the
multi-process ones, whose rank functions must be importable by spawned processes)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ltx_core.guidance.perturbations import (
    BatchedPerturbationConfig,
    Perturbation,
    PerturbationConfig,
    PerturbationType,
)
from ltx_core.model.transformer.modality import Modality
from ltx_core.testing.golden import GoldenCase


def case_modality(inputs: dict[str, torch.Tensor], prefix: str, **extra: object) -> Modality:
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
    kinds = {
        "skip_self_attention_blocks": (PerturbationType.SKIP_VIDEO_SELF_ATTN, PerturbationType.SKIP_AUDIO_SELF_ATTN),
        "skip_av_cross_attention_blocks": (PerturbationType.SKIP_A2V_CROSS_ATTN, PerturbationType.SKIP_V2A_CROSS_ATTN),
    }
    for key, types in kinds.items():
        if key in spec:
            blocks = None if spec[key] == "all" else tuple(spec[key])
            perturbs += [Perturbation(kind, blocks) for kind in types]
    unknown = set(spec) - {"batch_entries", *kinds}
    assert not unknown, f"unhandled perturbation params {unknown}"
    entries = set(spec.get("batch_entries", range(batch)))
    return BatchedPerturbationConfig.of(
        [PerturbationConfig(tuple(perturbs)) if b in entries else PerturbationConfig.empty() for b in range(batch)]
    )


def case_arguments(
    case: GoldenCase, video_tokens: int | None = None
) -> tuple[Modality, Modality, BatchedPerturbationConfig | None]:
    """(video, audio, perturbations) of a transformer case, as the official call received them; `video_tokens` keeps
    only the first that many video tokens (other token counts than the recorded one, e.g. odd ones)."""
    params, inputs = case.params, case.inputs
    context_mask = inputs.get("context_mask")
    video = case_modality(
        inputs,
        "video",
        context_mask=context_mask,
        attention_mask=inputs.get("video_self_attention_mask"),
        keyframes_mask=inputs.get("keyframes_mask"),
    )
    audio = case_modality(inputs, "audio", context_mask=context_mask, enabled=bool(params.get("audio_enabled", True)))
    if video_tokens is not None:
        n = video_tokens
        mask = video.attention_mask
        video = video.with_(
            latent=video.latent[:, :n],
            timesteps=video.timesteps[:, :n],
            positions=video.positions[:, :, :n],
            attention_mask=None if mask is None else mask[:, :n, :n],
            keyframes_mask=None if video.keyframes_mask is None else video.keyframes_mask[:, :n],
        )
    return video, audio, perturbations_from_params(params, video.latent.shape[0])


def case_model_loras(case: GoldenCase, golden: Path) -> list:
    """The LoRA of a LoRA case (file and strength), else none."""
    from ltx_core.loader import LoraSpec

    params = case.params
    return [LoraSpec(golden / params["lora"], float(params.get("strength", 0.8)))] if "lora" in params else []


def case_model(case: GoldenCase, golden: Path) -> nn.Module:
    """The case's transformer (with its LoRA file and strength, for the LoRA cases), float32 as stored, built with
    the numerics of the release that recorded the case."""
    from ltx_core.model.transformer.loading import load_transformer

    checkpoint = golden / case.params["checkpoint"]
    return load_transformer(checkpoint, loras=case_model_loras(case, golden), numerics=case.numerics)


def run_case(model: nn.Module, case: GoldenCase, video_tokens: int | None = None) -> dict[str, torch.Tensor]:
    """Velocities and x0 predictions of `model` (an `LTXModel` or a wrapper with the same call) on the case."""
    from ltx_core.model.transformer.x0 import X0Model

    video, audio, ptb = case_arguments(case, video_tokens)
    with torch.no_grad():
        v_vel, a_vel = model(video, audio, ptb)
        v_x0, a_x0 = X0Model(model)(video, audio, ptb)
    outputs = {"video_velocity": v_vel, "audio_velocity": a_vel, "video_x0": v_x0, "audio_x0": a_x0}
    return {k: v for k, v in outputs.items() if v is not None}
