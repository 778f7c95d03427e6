"""A transformer forward makes no host-blocking call (issue 18 item 1): no keep mask built with `torch.tensor` inside
a block, no per-table copy of RoPE's grid or `max_pos`; and its outputs are bitwise those of the old per-block
computation (kept here as a copy), plain and with the batched perturbation config the guided denoisers send."""

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
from ltx_core.model.transformer import Modality, rope
from ltx_core.model.transformer.keep_masks import KeepMasks
from ltx_core.model.transformer.loading import load_transformer
from ltx_core.offload.streaming import build_streaming_transformer
from ltx_core.testing.golden import component_cases, golden_modality, load_case
from ltx_core.testing.host_syncs import count_host_syncs

VARIANTS = [p.parent.name for p in component_cases("transformer_forward")]


PASSES = 4  # conditional, unconditional, STG, modality isolation


def _guided_config(batch: int = 1) -> BatchedPerturbationConfig:
    """Rows as the guided denoiser batches them, pass-major (each pass over the whole `batch`): conditional,
    unconditional, STG (block 1), modality isolation."""
    stg = PerturbationConfig(
        (
            Perturbation(PerturbationType.SKIP_VIDEO_SELF_ATTN, (1,)),
            Perturbation(PerturbationType.SKIP_AUDIO_SELF_ATTN, (1,)),
        )
    )
    isolate = PerturbationConfig(
        (Perturbation(PerturbationType.SKIP_A2V_CROSS_ATTN), Perturbation(PerturbationType.SKIP_V2A_CROSS_ATTN))
    )
    passes = (PerturbationConfig.empty(), PerturbationConfig.empty(), stg, isolate)
    return BatchedPerturbationConfig.of([config for config in passes for _ in range(batch)])


def _passes(m: Modality) -> Modality:
    """The golden batch repeated once per guidance pass (pass-major, as the guided denoiser stacks them)."""

    def tile(x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x] * PASSES)

    return Modality(
        latent=tile(m.latent),
        sigma=tile(m.sigma),
        timesteps=tile(m.timesteps),
        positions=tile(m.positions),
        context=tile(m.context),
    )


def _old_keep(self: KeepMasks, kind: PerturbationType, index: int, dtype: torch.dtype) -> torch.Tensor:
    return self.config.keep_mask(kind, index, self.device, dtype)


def _old_max_pos(max_pos: tuple[float, ...], device: torch.device) -> torch.Tensor:
    return torch.tensor(list(max_pos), dtype=torch.float32, device=device)


def _old_grid(n: int, theta: float, float64: bool, device: torch.device) -> torch.Tensor:
    return rope._grid_cpu(n, theta, float64).to(device)


@pytest.mark.parametrize("guided", [False, True], ids=["plain", "guided"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_forward_has_no_host_syncs_and_old_bits(
    variant: str, guided: bool, golden: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = load_case(golden / "cases" / variant / "transformer_forward.safetensors")
    model = load_transformer(golden / case.params["checkpoint"], dtype=torch.bfloat16)
    video = _passes(golden_modality(case.inputs, "video", torch.bfloat16))
    audio = _passes(golden_modality(case.inputs, "audio", torch.bfloat16))
    batch = video.latent.shape[0] // PASSES
    ptb = _guided_config(batch) if guided else None
    with torch.no_grad():
        with count_host_syncs() as syncs:
            got = model(video, audio, ptb)
        assert syncs.total == 0, str(syncs)
        monkeypatch.setattr(KeepMasks, "keep", _old_keep)
        monkeypatch.setattr(rope, "_max_pos_on", _old_max_pos)
        monkeypatch.setattr(rope, "_grid_on", _old_grid)
        old = model(video, audio, ptb)
    for g, o in zip(got, old, strict=True):
        assert g is not None and o is not None
        assert torch.equal(g, o)
    if guided:  # the perturbed rows really differ from the plain ones (the masks took effect)
        cond, stg, isolated = got[0][:batch], got[0][2 * batch : 3 * batch], got[0][3 * batch :]
        assert not torch.equal(stg, cond) and not torch.equal(isolated, cond)


@pytest.mark.parametrize("variant", VARIANTS)
def test_streamed_forward_has_no_host_syncs(variant: str, golden: Path) -> None:
    """Blocks streamed from RAM with prefetch: the hooks and the device cache add no blocking call either."""
    case = load_case(golden / "cases" / variant / "transformer_forward.safetensors")
    video = _passes(golden_modality(case.inputs, "video", torch.bfloat16))
    audio = _passes(golden_modality(case.inputs, "audio", torch.bfloat16))
    batch = video.latent.shape[0] // PASSES
    ckpt = golden / case.params["checkpoint"]
    with (
        build_streaming_transformer(ckpt, "cpu", "cpu", dtype=torch.bfloat16) as model,
        torch.no_grad(),
        count_host_syncs() as syncs,
    ):
        model(video, audio, _guided_config(batch))
    assert syncs.total == 0, str(syncs)


def test_keep_masks_match_the_config() -> None:
    """Every (kind, block) mask is the config's own 0/1 mask, and the skip decisions are its all/any."""
    config, blocks = _guided_config(), 3
    masks = KeepMasks(config, blocks, torch.device("cpu"))
    for kind in PerturbationType:
        for index in range(blocks):
            assert masks.all(kind, index) == config.all_perturbed(kind, index)
            assert masks.any(kind, index) == config.any_perturbed(kind, index)
            for dtype in (torch.float32, torch.bfloat16):
                want = config.keep_mask(kind, index, torch.device("cpu"), dtype)
                got = masks.keep(kind, index, dtype)
                assert got.dtype == dtype and torch.equal(got, want)


@pytest.mark.gpu
def test_cuda_forward_has_no_syncs_under_torch_sync_debug_mode(golden: Path) -> None:
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    variant = VARIANTS[-1]
    case = load_case(golden / "cases" / variant / "transformer_forward.safetensors")
    model = load_transformer(golden / case.params["checkpoint"], dtype=torch.bfloat16, device="cuda")
    video = _passes(golden_modality(case.inputs, "video", torch.bfloat16, "cuda"))
    audio = _passes(golden_modality(case.inputs, "audio", torch.bfloat16, "cuda"))
    batch = video.latent.shape[0] // PASSES
    with torch.no_grad():
        model(video, audio, _guided_config(batch))  # warm: caches filled, kernels loaded
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            model(video, audio, _guided_config(batch))
        finally:
            torch.cuda.set_sync_debug_mode("default")
