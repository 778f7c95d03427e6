"""The Euler-ancestral loop (spec delta D.2) against the official 1.2.0 loop (`cases/ltx25/euler_ancestral_loop`),
teacher-forced: each denoiser call is answered with the official call's x0, so the loop's own arithmetic (the
float32 blends, the ancestral steps, the noise draws from its own generator, the terminal step) is checked on its
own: the tokens handed to every call, the 14 noise draws and the final latents, bitwise (float32 case)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ltx_core.components.diffusion_steps import EulerAncestralDiffusionStep
from ltx_core.testing.golden import cases_120, load_case
from ltx_core.types import LatentState
from ltx_pipelines.utils.ancestral import EulerAncestralLoop, draw_like, euler_ancestral_loop
from ltx_pipelines.utils.denoisers import DenoisedLatentResult, Schedule
from ltx_pipelines.utils.samplers import LoopState

CASES = cases_120("euler_ancestral_loop")


def _state(inp: dict[str, torch.Tensor], name: str) -> LatentState:
    return LatentState(
        latent=inp[f"{name}_latent"],
        denoise_mask=inp[f"{name}_denoise_mask"],
        positions=inp[f"{name}_positions"],
        clean_latent=inp[f"{name}_clean_latent"],
    )


@pytest.mark.parametrize("path", CASES or [None], ids=lambda p: p.stem if p else "none")
def test_loop_teacher_forced_is_bitwise_the_official(path: Path | None) -> None:
    if path is None:
        pytest.skip("no 1.2.0 Euler-ancestral loop case in the fixture set (MANIFEST_120.json)")
    case = load_case(path)
    inp, out, p = case.inputs, case.outputs, case.params
    received: list[tuple[torch.Tensor, torch.Tensor]] = []

    def denoise(video, audio, sigmas, i):  # the official x0 of call i
        received.append((video.latent.clone(), audio.latent.clone()))
        return (
            DenoisedLatentResult(out[f"call{i}_video_denoised"]),
            DenoisedLatentResult(out[f"call{i}_audio_denoised"]),
        )

    draws: list[torch.Tensor] = []

    def noise(latent, generator):
        draws.append(draw_like(latent, generator))
        return draws[-1]

    video, audio = euler_ancestral_loop(
        denoise,
        LoopState(_state(inp, "video"), _state(inp, "audio")),
        Schedule.of(inp["sigmas"]),
        stepper=EulerAncestralDiffusionStep(p["eta"], p["s_noise"]),
        noise_seed=p["noise_seed"],
        noise_fn=noise,
        model_dtype=getattr(torch, p["model_dtype"]),
    )
    assert len(draws) == len(p["noise_order"])
    for k, z in enumerate(draws):
        assert torch.equal(z, inp[f"noise_{k}"]), p["noise_order"][k]
    assert len(received) == len(inp["sigmas"]) - 1
    for i, (v, a) in enumerate(received):
        assert torch.equal(v, out[f"call{i}_video_in"]) and torch.equal(a, out[f"call{i}_audio_in"]), f"call {i}"
    assert torch.equal(video.latent, out["video_latent_final"])
    assert torch.equal(audio.latent, out["audio_latent_final"])


def test_recorded_draws_per_stream_and_seed_independence() -> None:
    """The stage loop records its draws per stream (one per non-terminal step) and draws them from its own seed:
    the same seed gives the same draws, another seed others."""
    sigmas = Schedule.of([1.0, 0.6, 0.3, 0.0])
    state = LatentState(
        latent=torch.zeros(1, 4, 2, dtype=torch.bfloat16),
        denoise_mask=torch.ones(1, 4, 1),
        positions=torch.zeros(1, 3, 4, 2),
        clean_latent=torch.zeros(1, 4, 2, dtype=torch.bfloat16),
    )

    def denoise(video, audio, sigmas, i):
        return DenoisedLatentResult(torch.zeros_like(video.latent)), DenoisedLatentResult(
            torch.zeros_like(audio.latent)
        )

    runs = []
    for seed in (7, 7, 8):
        recorded: dict[str, torch.Tensor] = {}
        EulerAncestralLoop(seed, record=recorded.__setitem__)(denoise, LoopState(state, state), sigmas)
        assert recorded["ancestral_noise_video"].shape == (2, 1, 4, 2)  # 2 non-terminal steps
        assert recorded["ancestral_noise_audio"].shape == (2, 1, 4, 2)
        runs.append(recorded["ancestral_noise_video"])
    assert torch.equal(runs[0], runs[1]) and not torch.equal(runs[0], runs[2])
    generator = torch.Generator().manual_seed(7)  # video then audio per step, from the loop's own generator
    first = torch.randn((1, 4, 2), dtype=torch.bfloat16, generator=generator)
    assert torch.equal(runs[0][0], first)
