"""No host syncs per step in the denoising loops (issue 18): control flow reads the host side of the `Schedule`,
the math stays on 0-d device tensors.

The transformer is replaced by a small sync-free stand-in X0 callable: the real forward's own syncs (perturbation
keep-masks, RoPE tables) are counted by the transformer's tests; here only the loop, step and denoiser code is."""

from __future__ import annotations

from functools import partial

import pytest
import torch

from ltx_core.batch_split import BatchSplitAdapter
from ltx_core.components.guiders import MultiModalGuider, MultiModalGuiderFactory, MultiModalGuiderParams
from ltx_core.testing.host_syncs import count_host_syncs
from ltx_core.types import LatentState
from ltx_pipelines.utils.denoisers import FactoryGuidedDenoiser, GuidedDenoiser, Schedule, SimpleDenoiser
from ltx_pipelines.utils.res2s import res2s_loop
from ltx_pipelines.utils.samplers import LoopState, euler_loop

GUIDED = MultiModalGuiderParams(cfg_scale=3.0, stg_scale=1.0, stg_blocks=(0,), rescale_scale=0.7, modality_scale=3.0)


def stand_in(video, audio, perturbations):
    """A sync-free X0 model: each output row from its own latent, timesteps and context."""

    def x0(m):
        return None if m is None else (m.latent.float() * (1 - m.timesteps) + m.context.mean()).to(m.latent.dtype)

    return x0(video), x0(audio)


def _state(tokens: int, seed: int) -> LatentState:
    g = torch.Generator().manual_seed(seed)
    return LatentState(
        latent=torch.randn(1, tokens, 4, generator=g).to(torch.bfloat16),
        denoise_mask=torch.ones(1, tokens, 1),
        positions=torch.zeros(1, 3, tokens, 2),
        clean_latent=torch.zeros(1, tokens, 4, dtype=torch.bfloat16),
    )


def _ctx(seed: int) -> torch.Tensor:
    return torch.randn(1, 3, 4, generator=torch.Generator().manual_seed(seed))


def _denoisers():
    negative = (_ctx(3), _ctx(4))
    return {
        "distilled": SimpleDenoiser(_ctx(1), _ctx(2)),
        "guided": GuidedDenoiser(
            _ctx(1), _ctx(2), MultiModalGuider(GUIDED, negative[0]), MultiModalGuider(GUIDED, negative[1])
        ),
        "factory": FactoryGuidedDenoiser(
            _ctx(1),
            _ctx(2),
            MultiModalGuiderFactory.constant(GUIDED, negative[0]),
            MultiModalGuiderFactory.constant(GUIDED, negative[1]),
        ),
    }


@pytest.mark.parametrize("kind", ["distilled", "guided", "factory"])
def test_euler_loop_makes_no_host_syncs(kind: str) -> None:
    denoise = partial(_denoisers()[kind], BatchSplitAdapter(stand_in, 2))
    schedule = Schedule.of([1.0, 0.9, 0.6, 0.3, 0.0])  # the one host read of a stage: before the loop
    with count_host_syncs() as syncs:
        euler_loop(denoise, LoopState(_state(6, 0), _state(4, 1)), schedule)
    assert syncs.total == 0, str(syncs)


@pytest.mark.parametrize("kind", ["distilled", "guided"])
def test_res2s_loop_makes_no_host_syncs_per_step(kind: str) -> None:
    """Before its first step the loop reads its step sizes h on the host once (a float64 CPU tensor: no device
    involved); every step after that reads nothing."""
    totals = []
    for values in ([1.0, 0.6, 0.0], [1.0, 0.9, 0.8, 0.6, 0.3, 0.0]):
        denoise = partial(_denoisers()[kind], BatchSplitAdapter(stand_in, 2))
        schedule = Schedule.of(values)
        with count_host_syncs() as syncs:
            res2s_loop(denoise, LoopState(_state(6, 0), _state(4, 1)), schedule)
        totals.append(syncs)
    assert totals[0].total == totals[1].total == 1, f"{totals[0]} / {totals[1]}"
    assert all(place.startswith("res2s.py") for place in totals[1].places), str(totals[1])


@pytest.mark.parametrize("kind", ["distilled", "guided", "factory"])
def test_euler_steps_with_the_real_transformer_make_no_host_syncs(kind: str, golden) -> None:
    """The whole step, transformer forward included (guided: cond, uncond, STG and modality-isolation passes, with
    their perturbation keep-masks): zero host-blocking calls after the schedule is read."""
    from ltx_core.model.transformer.loading import load_transformer
    from ltx_core.model.transformer.x0 import X0Model
    from ltx_core.testing.golden import load_case

    case = load_case(golden / "cases" / "ltx23" / "transformer_forward.safetensors")
    inputs = case.inputs
    model = BatchSplitAdapter(X0Model(load_transformer(golden / case.params["checkpoint"])), 1)

    def state(prefix: str) -> LatentState:
        latent = inputs[f"{prefix}_latent"][:1]
        return LatentState(
            latent, torch.ones(*latent.shape[:2], 1), inputs[f"{prefix}_positions"][:1], torch.zeros_like(latent)
        )

    contexts = (inputs["video_context"][:1], inputs["audio_context"][:1])
    negative = (inputs["video_context"][1:2], inputs["audio_context"][1:2])
    denoiser = {
        "distilled": SimpleDenoiser(*contexts),
        "guided": GuidedDenoiser(
            *contexts, MultiModalGuider(GUIDED, negative[0]), MultiModalGuider(GUIDED, negative[1])
        ),
        "factory": FactoryGuidedDenoiser(
            *contexts,
            MultiModalGuiderFactory.constant(GUIDED, negative[0]),
            MultiModalGuiderFactory.constant(GUIDED, negative[1]),
        ),
    }[kind]
    schedule = Schedule.of([1.0, 0.7, 0.3, 0.0])
    with torch.inference_mode(), count_host_syncs() as syncs:
        euler_loop(partial(denoiser, model), LoopState(state("video"), state("audio")), schedule)
    assert syncs.total == 0, str(syncs)
