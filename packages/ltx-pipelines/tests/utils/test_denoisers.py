from __future__ import annotations

from functools import partial

import pytest
import torch

from ltx_core.batch_split import BatchSplitAdapter
from ltx_core.components.guiders import MultiModalGuider, MultiModalGuiderFactory, MultiModalGuiderParams
from ltx_core.components.modality_input import modality_from_latent_state
from ltx_core.errors import InputError
from ltx_core.guidance.perturbations import BatchedPerturbationConfig, PerturbationType
from ltx_core.numerics import NUMERICS_1_1_3, NUMERICS_1_2_0
from ltx_core.types import LatentState
from ltx_pipelines.utils.denoisers import FactoryGuidedDenoiser, GuidedDenoiser, Schedule, SimpleDenoiser
from ltx_pipelines.utils.samplers import DenoiserCall, LoopState, StepDone, euler_loop

T_V, T_A, C, S = 6, 4, 3, 5


class FakeX0:
    """Row-wise fake: each output row depends only on its own inputs, context and perturbation flags."""

    def __init__(self):
        self.calls = []

    def __call__(self, video, audio, perturbations):
        self.calls.append((video, audio, perturbations))
        b = (video or audio).latent.shape[0]
        ptb = perturbations or BatchedPerturbationConfig.empty(b)

        def flags(kind):
            return ptb.keep_mask(kind, 0, torch.device("cpu"), torch.float32)

        v = a = None
        if video is not None:
            v = (
                video.latent * (1 - video.timesteps)
                + video.context.mean(1, keepdim=True) * flags(PerturbationType.SKIP_VIDEO_SELF_ATTN)
                + 0.3 * flags(PerturbationType.SKIP_A2V_CROSS_ATTN)
            )
        if audio is not None:
            a = (
                audio.latent * 0.5
                + audio.context.mean(1, keepdim=True) * flags(PerturbationType.SKIP_AUDIO_SELF_ATTN)
                - 0.2 * flags(PerturbationType.SKIP_V2A_CROSS_ATTN)
            )
        return v, a


def _state(t, seed):
    g = torch.Generator().manual_seed(seed)
    return LatentState(
        latent=torch.randn(1, t, C, generator=g),
        denoise_mask=torch.ones(1, t, 1),
        positions=torch.rand(1, 3, t, 2, generator=g),
        clean_latent=torch.zeros(1, t, C),
    )


def _ctx(seed):
    return torch.randn(1, S, C, generator=torch.Generator().manual_seed(seed))


VIDEO_PARAMS = MultiModalGuiderParams(
    cfg_scale=3.0, stg_scale=1.0, stg_blocks=(0,), rescale_scale=0.7, modality_scale=3.0
)
AUDIO_PARAMS = MultiModalGuiderParams(
    cfg_scale=7.0, stg_scale=1.0, stg_blocks=(0,), rescale_scale=0.7, modality_scale=3.0
)


def _guided(**kw):
    return GuidedDenoiser(
        _ctx(1),
        _ctx(2),
        MultiModalGuider(kw.get("vp", VIDEO_PARAMS), _ctx(3)),
        MultiModalGuider(kw.get("ap", AUDIO_PARAMS), _ctx(4)),
        force_uncond_pass=kw.get("force", False),
    )


@pytest.mark.parametrize("max_batch", [1, 2, 4])
def test_batched_passes_equal_one_by_one(max_batch):
    video, audio = _state(T_V, 10), _state(T_A, 11)
    sigmas = Schedule.of([0.8, 0.4, 0.0])
    fake = FakeX0()
    vr, ar = _guided()(BatchSplitAdapter(fake, max_batch), video, audio, sigmas, 0)

    # the same four passes, run one at a time by hand
    sigma = sigmas.sigmas[0].reshape(1)
    ref = FakeX0()
    passes = {}
    contexts = {
        "cond": (_ctx(1), _ctx(2)),
        "uncond": (_ctx(3), _ctx(4)),
        "ptb": (_ctx(1), _ctx(2)),
        "mod": (_ctx(1), _ctx(2)),
    }
    ptbs = {}
    # take the per-pass perturbations from what the denoiser sent (checked below), in pass order
    sent = BatchedPerturbationConfig.of([c for call in fake.calls for c in call[2].configs])
    assert len(sent) == 4
    for k, name in enumerate(("cond", "uncond", "ptb", "mod")):
        ptbs[name] = sent.configs[k]
        vm = modality_from_latent_state(video, contexts[name][0], sigma)
        am = modality_from_latent_state(audio, contexts[name][1], sigma)
        passes[name] = ref(vm, am, BatchedPerturbationConfig.of([ptbs[name]]))
    assert {p.type for p in ptbs["ptb"].perturbations} == {
        PerturbationType.SKIP_VIDEO_SELF_ATTN,
        PerturbationType.SKIP_AUDIO_SELF_ATTN,
    }
    assert {p.type for p in ptbs["mod"].perturbations} == {
        PerturbationType.SKIP_A2V_CROSS_ATTN,
        PerturbationType.SKIP_V2A_CROSS_ATTN,
    }
    assert ptbs["cond"].perturbations == () and ptbs["uncond"].perturbations == ()
    for idx, (res, params) in enumerate(((vr, VIDEO_PARAMS), (ar, AUDIO_PARAMS))):
        preds = [passes[n][idx] for n in ("cond", "uncond", "ptb", "mod")]
        assert torch.equal(res.cond, preds[0]) and torch.equal(res.uncond, preds[1])
        assert torch.equal(res.ptb, preds[2]) and torch.equal(res.mod, preds[3])
        assert torch.equal(res.denoised, MultiModalGuider(params).calculate(*preds))
    assert [c[0].latent.shape[0] for c in fake.calls] == {1: [1, 1, 1, 1], 2: [2, 2], 4: [4]}[max_batch]


def test_only_needed_passes_run():
    fake = FakeX0()
    vp = MultiModalGuiderParams(cfg_scale=2.0)
    ap = MultiModalGuiderParams()
    d = GuidedDenoiser(_ctx(1), _ctx(2), MultiModalGuider(vp, _ctx(3)), MultiModalGuider(ap))
    vr, ar = d(fake, _state(T_V, 0), _state(T_A, 1), Schedule.of([0.5, 0.0]), 0)
    video, audio, _ = fake.calls[0]
    assert video.latent.shape[0] == 2  # cond + uncond
    assert torch.equal(video.context[1:], _ctx(3))  # negative video context
    assert torch.equal(audio.context[1:], _ctx(2))  # audio has no negative: positive context reused
    assert vr.ptb is None and vr.mod is None
    assert torch.equal(ar.denoised, ar.cond)


def test_missing_negative_context_is_an_error():
    d = GuidedDenoiser(_ctx(1), _ctx(2), MultiModalGuider(MultiModalGuiderParams(cfg_scale=2.0)))
    with pytest.raises(InputError, match="negative video context"):
        d(FakeX0(), _state(T_V, 0), _state(T_A, 1), Schedule.of([0.5, 0.0]), 0)


def test_force_uncond_pass():
    fake = FakeX0()
    neutral = MultiModalGuiderParams()
    d = GuidedDenoiser(
        _ctx(1), _ctx(2), MultiModalGuider(neutral, _ctx(3)), MultiModalGuider(neutral, _ctx(4)), force_uncond_pass=True
    )
    vr, _ = d(fake, _state(T_V, 0), _state(T_A, 1), Schedule.of([0.5, 0.0]), 0)
    assert fake.calls[0][0].latent.shape[0] == 2
    assert vr.uncond is not None and torch.equal(vr.denoised, vr.cond)


def test_skipped_modality_is_disabled_and_reuses_previous():
    fake = FakeX0()
    ap = MultiModalGuiderParams(cfg_scale=7.0, skip_step=1)
    d = GuidedDenoiser(_ctx(1), _ctx(2), MultiModalGuider(VIDEO_PARAMS, _ctx(3)), MultiModalGuider(ap, _ctx(4)))
    sigmas = Schedule.of([0.9, 0.6, 0.3, 0.0])
    v0, a0 = d(fake, _state(T_V, 0), _state(T_A, 1), sigmas, 0)
    v1, a1 = d(fake, _state(T_V, 2), _state(T_A, 3), sigmas, 1)
    assert fake.calls[0][1].enabled and not fake.calls[1][1].enabled and fake.calls[1][0].enabled
    assert a1.skipped and torch.equal(a1.denoised, a0.denoised)
    assert not v1.skipped and not torch.equal(v1.denoised, v0.denoised)
    # both skipped → no transformer call at all
    both = MultiModalGuiderParams(skip_step=1)
    d2 = GuidedDenoiser(_ctx(1), _ctx(2), MultiModalGuider(both), MultiModalGuider(both))
    n = len(fake.calls)
    r0 = d2(fake, _state(T_V, 0), _state(T_A, 1), sigmas, 0)
    r1 = d2(fake, _state(T_V, 0), _state(T_A, 1), sigmas, 1)
    assert len(fake.calls) == n + 1
    assert torch.equal(r1[0].denoised, r0[0].denoised) and r1[1].skipped


def test_factory_guided_denoiser_uses_sigma_bins_and_audio_fallback():
    fake = FakeX0()
    high = MultiModalGuiderParams(cfg_scale=4.0)
    low = MultiModalGuiderParams()
    factory = MultiModalGuiderFactory.from_dict({1.0: high, 0.5: low}, _ctx(3))
    d = FactoryGuidedDenoiser(_ctx(1), None, factory)
    sigmas = Schedule.of([0.9, 0.4, 0.0])
    d(fake, _state(T_V, 0), None, sigmas, 0)
    d(fake, _state(T_V, 0), None, sigmas, 1)
    assert [c[0].latent.shape[0] for c in fake.calls] == [2, 1]
    assert fake.calls[0][1] is None


def test_simple_denoiser_and_euler_loop_callbacks():
    fake = FakeX0()
    sigmas = Schedule.of([1.0, 0.5, 0.0])
    steps, results = [], []
    state = _state(T_V, 0)
    state = state.with_(denoise_mask=torch.cat([torch.ones(1, T_V - 2, 1), torch.zeros(1, 2, 1)], 1))
    clean = state.clean_latent.clone()
    clean[:, -2:] = 7.0
    state = state.with_(clean_latent=clean, latent=torch.where(state.denoise_mask.bool(), state.latent, clean))

    def callback(event):
        if isinstance(event, StepDone):
            steps.append((event.step_index, event.num_steps))
        elif isinstance(event, DenoiserCall):
            results.append((event.step_index, float(event.sigmas.sigmas[event.step_index]), event.audio))

    video, audio = euler_loop(
        partial(SimpleDenoiser(_ctx(1), None), fake), LoopState(state, None), sigmas, callback=callback
    )
    assert steps == [(0, 2), (1, 2)]
    assert [(i, s) for i, s, _ in results] == [(0, 1.0), (1, 0.5)] and results[0][2] is None
    assert audio is None
    assert torch.equal(video.latent[:, -2:], clean[:, -2:])  # frozen tokens stay at their clean value
    assert fake.calls[0][2] is None and fake.calls[0][0].sigma.shape == (1,)  # one per sample (1.2.0, delta A.3)
    with pytest.raises(InputError, match="video context"):
        SimpleDenoiser(None, None)(fake, state, None, sigmas, 0)


def test_factory_guided_denoiser_reused_with_another_schedule_follows_it():
    """No sigma list is kept between calls: a second schedule picks its own guider bins (a cached list from the first
    call would still see 0.9 at step 0 and run the unconditional pass)."""
    fake = FakeX0()
    factory = MultiModalGuiderFactory.from_dict(
        {1.0: MultiModalGuiderParams(cfg_scale=4.0), 0.5: MultiModalGuiderParams()}, _ctx(3)
    )
    d = FactoryGuidedDenoiser(_ctx(1), None, factory)
    d(fake, _state(T_V, 0), None, Schedule.of([0.9, 0.4, 0.0]), 0)
    d(fake, _state(T_V, 0), None, Schedule.of([0.3, 0.0]), 0)
    d(fake, _state(T_V, 0), None, Schedule.of([0.8, 0.0]), 0)
    assert [c[0].latent.shape[0] for c in fake.calls] == [2, 1, 2]


def _frozen(state: LatentState) -> LatentState:
    return state.with_(denoise_mask=torch.zeros_like(state.denoise_mask), frozen=True)


@pytest.mark.parametrize("numerics", [NUMERICS_1_2_0, NUMERICS_1_1_3], ids=lambda n: n.name)
def test_frozen_stream_sigma_is_zero_under_1_2_0(numerics):
    """Delta A.2: a frozen stream's σ is 0 (same shape and dtype) under 1.2.0, the step σ under 1.1.3; its
    timesteps are 0 either way, and the other stream keeps the step σ. In the simple denoiser and in every pass of
    the guided batch."""
    sigmas = Schedule.of([0.75, 0.5, 0.0])
    video, audio = _state(T_V, 0), _frozen(_state(T_A, 1))
    vctx, actx, nv, na = _ctx(2), _ctx(3), _ctx(4), _ctx(5)
    guider = MultiModalGuider(MultiModalGuiderParams(cfg_scale=3.0), nv)
    denoisers = (
        SimpleDenoiser(vctx, actx),
        GuidedDenoiser(vctx, actx, video_guider=guider, audio_guider=MultiModalGuider(guider.params, na)),
    )
    for denoiser in denoisers:
        model = FakeX0()
        denoiser(model, video, audio, sigmas, 0, numerics=numerics)
        ((v, a, _),) = model.calls
        frozen_sigma = 0.0 if numerics.frozen_stream_sigma_zero else 0.75
        assert a.sigma.dtype == v.sigma.dtype == torch.float32 and a.sigma.shape == v.sigma.shape
        assert bool((a.sigma == frozen_sigma).all()) and bool((v.sigma == 0.75).all())
        assert not a.timesteps.any() and bool((v.timesteps == 0.75).all())


@pytest.mark.parametrize("numerics", [NUMERICS_1_2_0, NUMERICS_1_1_3], ids=lambda n: n.name)
def test_simple_denoiser_sigma_per_sample_under_1_2_0(numerics):
    """Delta A.3: the simple denoiser's σ is one value per sample ([B]) under 1.2.0, 0-d under 1.1.3. A float64 σ
    (res_2s sub-steps) then makes the per-token timesteps float64 (a dimensioned σ promotes the float32 mask);
    the 0-d one left them float32."""
    sigma = torch.tensor([0.6], dtype=torch.float64)
    schedule = Schedule(sigma, (0.6,))
    video, audio = _state(T_V, 0), _state(T_A, 1)
    model = FakeX0()
    SimpleDenoiser(_ctx(2), _ctx(3))(model, video, audio, schedule, 0, numerics=numerics)
    ((v, a, _),) = model.calls
    per_sample = numerics.simple_denoiser_sigma_per_sample
    for m in (v, a):
        assert m.sigma.shape == ((1,) if per_sample else ())
        assert m.timesteps.dtype == (torch.float64 if per_sample else torch.float32)
        assert bool((m.timesteps == (0.6 if per_sample else torch.tensor(0.6, dtype=torch.float32).item())).all())
