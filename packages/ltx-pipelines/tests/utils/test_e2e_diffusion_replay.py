"""Replay the diffusion side of the official end-to-end runs (golden README 7.x) without any network.

For every stage: noise draws, positions, masks, clean and noised tokens must match exactly; then the sampling
loop runs through our denoisers with a stand-in transformer that returns the recorded per-pass x0 predictions, and
the guided x0 of every call and the final tokens must match bit for bit (all bf16).

On a CPU whose kernels differ from the recording's (`ltx_core.testing.cpu_parity`, tolerant mode) the vectorised
`randn` may round an occasional bf16 draw the other way and fused multiply-adds may round the loop's elementwise
math differently: the draws must then be within one bf16 step, the stage starts from the recorded noise (and res2s
from the recorded SDE noise), and the loop's results must be within two bf16 steps of each value.
"""

from __future__ import annotations

import pytest
import torch

from ltx_core.conditioning import patchify_lipdub_audio_reference_latent
from ltx_core.guidance.perturbations import PerturbationType
from ltx_core.testing.cpu_parity import parity_for
from ltx_core.testing.golden import GoldenCase, e2e_case_id, every_e2e_case, load_case
from ltx_pipelines.testing.diffusion_replay import (
    DTYPE,
    RecordedNoise,
    ReplayTransformer,
    build_states,
    has_calls,
    is_guided,
    latent_tools,
    recorded_noises,
    recorded_passes,
    recorded_sde_noise,
    replay_stage,
    stages,
)
from ltx_pipelines.testing.golden_replay import DRAW_ON_OTHER_KERNELS, ELEMENTWISE_ON_OTHER_KERNELS, assert_close

STG_KINDS = (
    (PerturbationType.SKIP_VIDEO_SELF_ATTN, "video_guider"),
    (PerturbationType.SKIP_AUDIO_SELF_ATTN, "audio_guider"),
)


@pytest.fixture(scope="module", params=every_e2e_case("ltx*"), ids=e2e_case_id)
def case(request: pytest.FixtureRequest) -> GoldenCase:
    return load_case(request.param)


def _check_call(case: GoldenCase, stage: int, k: int, video, audio, perturbations) -> None:
    """What our denoiser asked the transformer for in call k: the recorded sigma, passes, contexts, skips."""
    out, inp, p, pre = case.outputs, case.inputs, case.params, f"stage{stage}_calls"
    assert float(video.sigma.reshape(-1)[0]) == pytest.approx(float(out[f"{pre}_sigma"][k]), rel=1e-6)
    if not is_guided(case, stage):
        assert perturbations is None
        return
    passes = recorded_passes(case, stage, "video")
    assert video.latent.shape[0] == len(passes) == len(perturbations)
    assert video.enabled == (not bool(out[f"{pre}_video_skipped"][k]))
    assert audio.enabled == (not bool(out[f"{pre}_audio_skipped"][k]))
    for i, name in enumerate(passes):
        negative = name == "uncond"
        assert torch.equal(video.context[i : i + 1], inp["negative_video_context" if negative else "video_context"])
        kinds = {x.type for x in perturbations.configs[i].perturbations}
        want = {
            "cond": set(),
            "uncond": set(),
            "ptb": {t for t, g in STG_KINDS if p[g]["stg_scale"] != 0},
            "mod": {PerturbationType.SKIP_A2V_CROSS_ATTN, PerturbationType.SKIP_V2A_CROSS_ATTN},
        }[name]
        assert kinds == want


def test_e2e_diffusion_replay(case: GoldenCase) -> None:
    p, out = case.params, case.outputs
    strict = parity_for(case).strict
    loop_tol = 0.0 if strict else ELEMENTWISE_ON_OTHER_KERNELS
    draw_tol = 0.0 if strict else DRAW_ON_OTHER_KERNELS
    shadow = torch.Generator().manual_seed(p["seed"])
    for noise in recorded_noises(case):  # the draws, in order, from one generator seeded with the case's seed
        drawn = torch.randn(*noise.shape, dtype=DTYPE, generator=shadow)
        assert_close("noise draw", drawn, noise, draw_tol)
    noiser = RecordedNoise(recorded_noises(case), case.numerics)
    for stage in stages(case):
        video, audio = build_states(case, stage, noiser)
        for name, state in (("video", video), ("audio", audio)):
            pre = f"stage{stage}_{name}"
            assert torch.equal(state.positions, out[f"{pre}_positions"]), f"{pre} positions"
            assert torch.equal(state.denoise_mask, out[f"{pre}_denoise_mask"]), f"{pre} mask"
            assert torch.equal(state.clean_latent, out[f"{pre}_clean_latent"]), f"{pre} clean"
            assert_close(f"{pre} noised tokens", state.latent, out[f"{pre}_noised_tokens"], loop_tol)
            if f"{pre}_attention_mask" in out:
                assert torch.equal(state.attention_mask, out[f"{pre}_attention_mask"]), f"{pre} attention mask"
            else:
                assert state.attention_mask is None
        if p.get("pipeline") == "lipdub":  # the reference audio's tokens and positions, appended after the target's
            reference = patchify_lipdub_audio_reference_latent(
                out["reference_audio_latent"] if stage == 1 else out["stage1_audio_latent"]
            )
            assert torch.equal(reference.patchified, out[f"stage{stage}_reference_audio_tokens"])
            assert torch.equal(reference.positions, out[f"stage{stage}_reference_audio_positions"])
        if not has_calls(case, stage):
            continue  # the distilled cases record no per-call outputs
        fake = ReplayTransformer(case, stage, observe=lambda k, v, a, ptb, s=stage: _check_call(case, s, k, v, a, ptb))
        hq = p.get("pipeline") == "ti2vid_two_stages_hq"
        sde = recorded_sde_noise(case, stage) if hq and not strict else None
        run = replay_stage(case, stage, video, audio, fake, sde)
        pre = f"stage{stage}_calls"
        assert fake.k == len(run.calls) == out[f"{pre}_sigma"].shape[0]
        if hq:  # draw order per step: substep video, substep audio, step video, step audio
            rec_v, rec_a = out[f"stage{stage}_sde_noise_video"], out[f"stage{stage}_sde_noise_audio"]
            assert len(run.sde_noise) == 2 * rec_v.shape[0]
            for j in range(rec_v.shape[0]):
                assert_close(f"sde noise video {j}", run.sde_noise[2 * j], rec_v[j], draw_tol)
                assert_close(f"sde noise audio {j}", run.sde_noise[2 * j + 1], rec_a[j], draw_tol)
        for k, (vr, ar) in enumerate(run.calls):
            assert_close(f"{pre} video denoised {k}", vr.denoised, out[f"{pre}_video_denoised"][k], loop_tol)
            assert_close(f"{pre} audio denoised {k}", ar.denoised, out[f"{pre}_audio_denoised"][k], loop_tol)
        assert_close(f"stage{stage} video final", run.video.latent, out[f"stage{stage}_video_final_tokens"], loop_tol)
        assert_close(f"stage{stage} audio final", run.audio.latent, out[f"stage{stage}_audio_final_tokens"], loop_tol)
        # unpatchified outputs after dropping conditioning tokens
        vtools, atools = latent_tools(case, stage)
        final_video = vtools.unpatchify(vtools.clear_conditioning(run.video)).latent
        final_audio = atools.unpatchify(atools.clear_conditioning(run.audio)).latent
        assert_close(f"stage{stage} video latent", final_video, out[f"stage{stage}_video_latent"], loop_tol)
        assert_close(f"stage{stage} audio latent", final_audio, out[f"stage{stage}_audio_latent"], loop_tol)
