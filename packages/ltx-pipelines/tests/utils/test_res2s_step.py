"""Golden res_2s step (golden README 5.8; its 1.2.0 re-recording, README_120 5.7): replay the recorded denoiser
outputs through our loop, and run the loop with the checkpoint's transformer behind the simple denoiser, each case
with the numerics of the release that recorded it."""

from __future__ import annotations

from functools import partial

import pytest
import torch

from ltx_core.model.transformer import X0Model
from ltx_core.model.transformer.loading import load_transformer
from ltx_core.testing.golden import component_cases, component_cases_120, load_case, report
from ltx_core.types import LatentState
from ltx_pipelines.utils.denoisers import Schedule, SimpleDenoiser
from ltx_pipelines.utils.res2s import get_new_noise, res2s_coefficients, res2s_loop
from ltx_pipelines.utils.samplers import LoopState

TOL = 1e-5


def _cases():
    return component_cases("res2s_step") + component_cases_120("res2s_step")


@pytest.fixture(scope="module", params=_cases(), ids=lambda p: p.parent.name)
def case(request):
    return load_case(request.param)


def _state(case, name):
    i = case.inputs
    return LatentState(
        latent=i[f"{name}_latent"],
        denoise_mask=i[f"{name}_denoise_mask"],
        positions=i[f"{name}_positions"],
        clean_latent=i[f"{name}_clean_latent"],
    )


class _Replay:
    def __init__(self, case):
        self.out, self.k = case.outputs, 0

    def __call__(self, video, audio, perturbations):
        k, out = self.k, self.out
        self.k += 1
        assert perturbations is None
        report(f"call{k} video_in", video.latent, out[f"denoise_call{k}_video_in"], TOL)
        report(f"call{k} audio_in", audio.latent, out[f"denoise_call{k}_audio_in"], TOL)
        assert float(video.sigma) == pytest.approx(float(out[f"denoise_call{k}_sigma"]), rel=1e-6)
        assert float(audio.sigma) == float(video.sigma)
        return out[f"denoise_call{k}_video_out"], out[f"denoise_call{k}_audio_out"]


def test_sde_noise_draws_reproduce_recorded_noise(case):
    p, i = case.params, case.inputs
    sub = torch.Generator().manual_seed(p["substep_noise_seed"])
    step = torch.Generator().manual_seed(p["noise_seed"])
    for k, gen in ((0, sub), (1, sub), (2, step), (3, step)):
        expected = i[f"noise_{k}"]
        got = get_new_noise(torch.empty(expected.shape), gen)
        assert got.dtype == torch.float64
        assert torch.equal(got, expected), f"noise_{k}"


def test_res2s_step_with_the_transformer(case):
    """Every call's x0 and the step's result, from the official transformer of the case's checkpoint behind the
    simple denoiser. Under 1.2.0 the denoiser passes σ as one value per sample, so the midpoint call (float64 σ)
    gets float64 per-token timesteps (delta A.3); 1.1.3's 0-d σ left them float32."""
    p, i, o = case.params, case.inputs, case.outputs
    model = X0Model(load_transformer(case.file(p["checkpoint"]), numerics=case.numerics))
    noise = [i[f"noise_{k}"] for k in range(4)]
    calls = []

    def transformer(video, audio, perturbations):
        out = model(video, audio, perturbations)
        calls.append((video.timesteps.dtype, *out))
        return out

    with torch.inference_mode():
        video, audio = res2s_loop(
            partial(SimpleDenoiser(i["video_context"], i["audio_context"]), transformer, numerics=case.numerics),
            LoopState(_state(case, "video"), _state(case, "audio")),
            Schedule.of(i["sigmas"]),
            bongmath=p["bongmath"],
            bongmath_max_iter=p["bongmath_max_iter"],
            new_noise_fn=lambda latent, generator: noise.pop(0),
            model_dtype=getattr(torch, p["model_dtype"]),
            legacy_mode=p["legacy_mode"],
        )
    midpoint = torch.float64 if case.numerics.simple_denoiser_sigma_per_sample else torch.float32
    assert [c[0] for c in calls[:2]] == [torch.float32, midpoint]
    for k, (_, v, a) in enumerate(calls[:2]):
        report(f"call{k} video_out", v, o[f"denoise_call{k}_video_out"], TOL)
        report(f"call{k} audio_out", a, o[f"denoise_call{k}_audio_out"], TOL)
    report("res2s video_latent_next", video.latent, o["video_latent_next"], TOL)
    report("res2s audio_latent_next", audio.latent, o["audio_latent_next"], TOL)


@pytest.mark.parametrize("replay_noise", [False, True], ids=["seeded", "replayed"])
def test_res2s_step_matches_golden(case, replay_noise):
    p, i, o = case.params, case.inputs, case.outputs
    model_dtype = getattr(torch, p["model_dtype"])
    noise_fn = get_new_noise
    if replay_noise:
        queue = [i[f"noise_{k}"] for k in range(4)]

        def noise_fn(latent, generator):
            return queue.pop(0)

    replay = _Replay(case)
    video, audio = res2s_loop(
        partial(SimpleDenoiser(i["video_context"], i["audio_context"]), replay),
        LoopState(_state(case, "video"), _state(case, "audio")),
        Schedule.of(i["sigmas"]),
        noise_seed=p["noise_seed"],
        noise_seed_substep=p["substep_noise_seed"],
        bongmath=p["bongmath"],
        bongmath_max_iter=p["bongmath_max_iter"],
        new_noise_fn=noise_fn,
        model_dtype=model_dtype,
        legacy_mode=p["legacy_mode"],
    )
    assert replay.k == 2 * (len(i["sigmas"]) - 1) + (1 if float(i["sigmas"][-1]) == 0 else 0)
    report("res2s video_latent_next", video.latent, o["video_latent_next"], TOL)
    report("res2s audio_latent_next", audio.latent, o["audio_latent_next"], TOL)


def test_res2s_coefficients_reference_values():
    # spec 10.3
    for h, ref in (
        (0.1, (0.48770575499285984, -0.01585778755149403, 0.9674836071918989)),
        (0.5, (0.44239843385719024, -0.06530659712633424, 0.8522452777010674)),
        (1.0, (0.3934693402873666, -0.103638323514327, 0.7357588823428847)),
    ):
        assert res2s_coefficients(h) == pytest.approx(ref, rel=1e-12)


def test_res2s_final_call_and_evaluation_count():
    calls = []

    def model(video, audio, perturbations):
        calls.append(float(video.sigma))
        return torch.zeros_like(video.latent), None

    state = LatentState(
        latent=torch.randn(1, 3, 2),
        denoise_mask=torch.ones(1, 3, 1),
        positions=torch.zeros(1, 3, 3, 2),
        clean_latent=torch.zeros(1, 3, 2),
    )
    sigmas = torch.tensor([1.0, 0.5, 0.0])
    video, audio = res2s_loop(
        partial(SimpleDenoiser(torch.zeros(1, 1, 2), None), model), LoopState(state, None), Schedule.of(sigmas)
    )
    assert audio is None
    assert len(calls) == 2 * 2 + 1
    assert calls[-1] == pytest.approx(0.0011)
    assert video.latent.dtype == torch.bfloat16
    assert torch.equal(video.latent, torch.zeros_like(video.latent))  # final x0 of a zero-predicting model


def test_res2s_rejects_other_steppers():
    from ltx_core.components.diffusion_steps import EulerDiffusionStep

    with pytest.raises(ValueError, match="Res2sDiffusionStep"):
        res2s_loop(None, LoopState(None, None), Schedule.of([1.0, 0.0]), stepper=EulerDiffusionStep())  # type: ignore[arg-type]
