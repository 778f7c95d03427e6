"""Replay the diffusion side of the official end-to-end runs (golden README 7.x) without any network.

For every stage: noise draws, positions, masks, clean and noised tokens must match exactly; then the sampling
loop runs through our denoisers with a fake transformer that returns the recorded per-pass x0 predictions, and
the guided x0 of every call and the final tokens must match bit for bit (all bf16).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
import torch

from ltx_core.components.guiders import MultiModalGuider, MultiModalGuiderFactory, MultiModalGuiderParams
from ltx_core.components.latent_tools import AudioLatentTools, VideoLatentTools
from ltx_core.components.noisers import GaussianNoiser, create_noised_state
from ltx_core.components.patchifiers import AudioPatchifier, VideoLatentPatchifier
from ltx_core.conditioning import (
    ConditioningItemAttentionStrengthWrapper,
    TemporalRegionMask,
    VideoConditionByKeyframeIndex,
    VideoConditionByLatentIndex,
    VideoConditionByReferenceLatent,
    patchify_lipdub_audio_reference_latent,
)
from ltx_core.guidance.perturbations import PerturbationType
from ltx_core.testing.golden import GoldenCase, load_case
from ltx_core.types import AudioLatentShape, VideoLatentShape, VideoPixelShape
from ltx_pipelines.testing.golden_replay import guider_params
from ltx_pipelines.utils.denoisers import FactoryGuidedDenoiser, GuidedDenoiser, Schedule, SimpleDenoiser
from ltx_pipelines.utils.res2s import get_new_noise, res2s_loop
from ltx_pipelines.utils.samplers import DenoiserCall, LoopState, euler_loop

PASSES = ("cond", "uncond", "ptb", "mod")
DTYPE = torch.bfloat16
STATIC_GUIDERS = ("ti2vid_two_stages_hq", "a2vid_two_stage", "retake")


def _case_paths() -> list[Path]:
    from ltx_core.testing.golden import golden_dir

    e2e = golden_dir() / "e2e"
    if not e2e.exists():
        return []
    return sorted(p for p in e2e.glob("ltx*.safetensors") if "tiny" not in p.name)


@pytest.fixture(scope="module", params=_case_paths(), ids=lambda p: p.stem)
def case(request) -> GoldenCase:
    return load_case(request.param)


def _stages(case: GoldenCase) -> list[int]:
    return [s for s in (1, 2) if f"stage{s}_video_noise" in case.outputs]


def _num_frames(case: GoldenCase) -> int:
    if "num_frames" in case.params:
        return case.params["num_frames"]
    return (case.params["reference_video"]["frames"] - 1) // 8 * 8 + 1  # lip-dub: snapped down to 8k + 1


def _tools(case: GoldenCase, stage: int) -> tuple[VideoLatentTools, AudioLatentTools]:
    p, out = case.params, case.outputs
    h, w = p["height"], p["width"]
    if len(_stages(case)) == 2 and stage == 1:
        h, w = h // 2, w // 2
    pixel = VideoPixelShape(1, _num_frames(case), h, w, p["frame_rate"])
    a_lat = out[f"stage{stage}_audio_latent"]
    vshape = VideoLatentShape.from_pixel_shape(pixel, channels=out[f"stage{stage}_video_latent"].shape[1])
    ashape = AudioLatentShape.from_video_pixel_shape(pixel, channels=a_lat.shape[1], mel_bins=a_lat.shape[3])
    return (
        VideoLatentTools(VideoLatentPatchifier(1), vshape, p["frame_rate"]),
        AudioLatentTools(AudioPatchifier(1), ashape),
    )


def _image_items(case: GoldenCase, stage: int) -> list:
    spec = case.params.get("image_conditioning")
    if spec is None:
        return []
    specs = spec if isinstance(spec, list) else [spec]
    all_keyframes = case.params.get("pipeline") == "keyframe_interpolation"
    items = []
    for i, s in enumerate(specs):
        key = f"stage{stage}_image_latent" + (f"_{i}" if isinstance(spec, list) else "")
        latent = case.outputs[key]
        if s["frame_idx"] == 0 and not all_keyframes:
            items.append(VideoConditionByLatentIndex(latent, s["strength"], 0))
        else:
            items.append(VideoConditionByKeyframeIndex(latent, s["frame_idx"], s["strength"]))
    return items


def _stage_setup(case: GoldenCase, stage: int, atools: AudioLatentTools) -> dict:
    """Per-modality (conditionings, initial latent, noise scale, frozen) of one stage, as each pipeline sets it."""
    p, out = case.params, case.outputs
    pipeline = p.get("pipeline", "distilled")
    first_sigma = float(out[f"stage{stage}_sigmas"][0])
    video = {"items": _image_items(case, stage), "init": None, "scale": 1.0, "frozen": False}
    audio = {"items": [], "init": None, "scale": 1.0, "frozen": False}
    if stage == 2:
        video.update(init=out["upsampled_video_latent"], scale=first_sigma)
        audio.update(init=out["stage1_audio_latent"], scale=first_sigma)
    if pipeline == "ic_lora" and stage == 1:
        ref = VideoConditionByReferenceLatent(
            out["reference_latent"], p["ic_lora"]["reference_downscale_factor"], p["reference_video"]["strength"]
        )
        if p["conditioning_attention_mask"]:
            ref = ConditioningItemAttentionStrengthWrapper(ref, out["reference_attention_weights"])
        elif p["conditioning_attention_strength"] < 1.0:
            ref = ConditioningItemAttentionStrengthWrapper(ref, p["conditioning_attention_strength"])
        video["items"].append(ref)
    if pipeline == "retake":
        window = TemporalRegionMask(p["start_time"], p["end_time"], p["frame_rate"])
        video.update(init=out["source_video_latent"], items=[window])
        audio.update(init=out["source_audio_latent"], items=[window])
    if pipeline == "a2vid_two_stage":
        frames = atools.target_shape.frames
        audio.update(init=out["audio_latent_full"][:, :, :frames], scale=0.0, frozen=True)
    if pipeline == "lipdub":
        video["items"].append(
            VideoConditionByReferenceLatent(out[f"stage{stage}_reference_latent"], 1, p["reference_video"]["strength"])
        )
        ref_audio = out["reference_audio_latent"] if stage == 1 else out["stage1_audio_latent"]
        item = patchify_lipdub_audio_reference_latent(ref_audio)
        assert torch.equal(item.patchified, out[f"stage{stage}_reference_audio_tokens"])
        assert torch.equal(item.positions, out[f"stage{stage}_reference_audio_positions"])
        audio["items"].append(item)
        if stage == 2:
            audio.update(scale=0.0, frozen=True)
    return {"video": video, "audio": audio}


def _build_states(case: GoldenCase, stage: int, noiser: GaussianNoiser, shadow: torch.Generator):
    out = case.outputs
    vtools, atools = _tools(case, stage)
    setup = _stage_setup(case, stage, atools)
    states = {}
    for name, tools in (("video", vtools), ("audio", atools)):
        spec = setup[name]
        state = create_noised_state(
            tools,
            noiser,
            conditionings=spec["items"],
            noise_scale=spec["scale"],
            initial_latent=spec["init"],
            frozen=spec["frozen"],
            dtype=DTYPE,
        )
        pre = f"stage{stage}_{name}"
        expected_noise = out[f"{pre}_noise"]
        drawn = torch.randn(*expected_noise.shape, dtype=DTYPE, generator=shadow)
        assert torch.equal(drawn, expected_noise), f"{pre} noise draw"
        assert torch.equal(state.positions, out[f"{pre}_positions"]), f"{pre} positions"
        assert torch.equal(state.denoise_mask, out[f"{pre}_denoise_mask"]), f"{pre} mask"
        assert torch.equal(state.clean_latent, out[f"{pre}_clean_latent"]), f"{pre} clean"
        assert torch.equal(state.latent, out[f"{pre}_noised_tokens"]), f"{pre} noised tokens"
        if f"{pre}_attention_mask" in out:
            assert torch.equal(state.attention_mask, out[f"{pre}_attention_mask"]), f"{pre} attention mask"
        else:
            assert state.attention_mask is None
        states[name] = state
    return states["video"], states["audio"]


class _ReplayTransformer:
    """Returns the recorded per-pass predictions of call k, checking what our denoiser asked for."""

    def __init__(self, case: GoldenCase, stage: int, guided: bool) -> None:
        self.out, self.inp, self.pre, self.guided = case.outputs, case.inputs, f"stage{stage}_calls", guided
        self.params = case.params
        self.k = 0

    def _passes(self, name: str) -> list[str]:
        return [p for p in PASSES if f"{self.pre}_{name}_{p}" in self.out]

    def __call__(self, video, audio, perturbations):
        k, out = self.k, self.out
        self.k += 1
        assert float(video.sigma.reshape(-1)[0]) == pytest.approx(float(out[f"{self.pre}_sigma"][k]), rel=1e-6)
        if not self.guided:
            assert perturbations is None
            return out[f"{self.pre}_video_denoised"][k], out[f"{self.pre}_audio_denoised"][k]
        passes = self._passes("video")
        assert video.latent.shape[0] == len(passes) == len(perturbations)
        assert video.enabled == (not bool(out[f"{self.pre}_video_skipped"][k]))
        assert audio.enabled == (not bool(out[f"{self.pre}_audio_skipped"][k]))
        for i, p in enumerate(passes):
            neg = p == "uncond"
            assert torch.equal(video.context[i : i + 1], self.inp["negative_video_context" if neg else "video_context"])
            kinds = {x.type for x in perturbations.configs[i].perturbations}
            want = {
                "cond": set(),
                "uncond": set(),
                "ptb": {
                    t
                    for t, g in (
                        (PerturbationType.SKIP_VIDEO_SELF_ATTN, "video_guider"),
                        (PerturbationType.SKIP_AUDIO_SELF_ATTN, "audio_guider"),
                    )
                    if self.params[g]["stg_scale"] != 0
                },
                "mod": {PerturbationType.SKIP_A2V_CROSS_ATTN, PerturbationType.SKIP_V2A_CROSS_ATTN},
            }[p]
            assert kinds == want
        v = torch.cat([out[f"{self.pre}_video_{p}"][k] for p in passes])
        a = torch.cat([out[f"{self.pre}_audio_{p}"][k] for p in self._passes("audio")])
        return v, a


def test_e2e_diffusion_replay(case: GoldenCase) -> None:
    p, out, inp = case.params, case.outputs, case.inputs
    gen = torch.Generator().manual_seed(p["seed"])
    shadow = torch.Generator().manual_seed(p["seed"])
    noiser = GaussianNoiser(gen)
    hq = p.get("pipeline") == "ti2vid_two_stages_hq"
    for stage in _stages(case):
        video, audio = _build_states(case, stage, noiser, shadow)
        pre = f"stage{stage}_calls"
        if f"{pre}_video_denoised" not in out:
            continue  # distilled cases record no per-call outputs
        guided = f"{pre}_video_cond" in out
        if guided:
            video_guider = MultiModalGuider(guider_params(p["video_guider"]), inp["negative_video_context"])
            audio_guider = MultiModalGuider(guider_params(p["audio_guider"]), inp.get("negative_audio_context"))
        if guided and p["pipeline"] == "a2vid_two_stage":
            audio_guider = MultiModalGuider(MultiModalGuiderParams())  # neutral, no negative context
        if guided and p["pipeline"] in STATIC_GUIDERS:
            denoiser = GuidedDenoiser(inp["video_context"], inp["audio_context"], video_guider, audio_guider)
        elif guided:
            denoiser = FactoryGuidedDenoiser(
                inp["video_context"],
                inp["audio_context"],
                MultiModalGuiderFactory.constant(video_guider.params, video_guider.negative_context),
                MultiModalGuiderFactory.constant(audio_guider.params, audio_guider.negative_context),
            )
        else:
            denoiser = SimpleDenoiser(inp["video_context"], inp["audio_context"])
        calls: list = []

        def record(event, calls=calls):
            if isinstance(event, DenoiserCall):
                calls.append((event.video, event.audio))

        fake = _ReplayTransformer(case, stage, guided)
        sigmas = out[f"stage{stage}_sigmas"]
        if hq:
            noise_log: list[torch.Tensor] = []

            def logging_noise(latent, generator, log=noise_log):
                z = get_new_noise(latent, generator)
                log.append(z)
                return z

            video, audio = res2s_loop(
                partial(denoiser, fake), LoopState(video, audio), Schedule.of(sigmas), callback=record,
                new_noise_fn=logging_noise,
            )  # fmt: skip
            # draw order per step: substep video, substep audio, step video, step audio
            rec_v, rec_a = out[f"stage{stage}_sde_noise_video"], out[f"stage{stage}_sde_noise_audio"]
            assert len(noise_log) == 2 * rec_v.shape[0]
            for j in range(rec_v.shape[0]):
                assert torch.equal(noise_log[2 * j], rec_v[j]), f"sde noise video {j}"
                assert torch.equal(noise_log[2 * j + 1], rec_a[j]), f"sde noise audio {j}"
        else:
            video, audio = euler_loop(
                partial(denoiser, fake), LoopState(video, audio), Schedule.of(sigmas), callback=record
            )
        assert fake.k == len(calls) == out[f"{pre}_sigma"].shape[0]
        for k, (vr, ar) in enumerate(calls):
            assert torch.equal(vr.denoised, out[f"{pre}_video_denoised"][k]), f"{pre} video denoised {k}"
            assert torch.equal(ar.denoised, out[f"{pre}_audio_denoised"][k]), f"{pre} audio denoised {k}"
        assert torch.equal(video.latent, out[f"stage{stage}_video_final_tokens"]), f"stage{stage} video final"
        assert torch.equal(audio.latent, out[f"stage{stage}_audio_final_tokens"]), f"stage{stage} audio final"
        # unpatchified outputs after dropping conditioning tokens
        vtools, atools = _tools(case, stage)
        final_video = vtools.unpatchify(vtools.clear_conditioning(video)).latent
        final_audio = atools.unpatchify(atools.clear_conditioning(audio)).latent
        assert torch.equal(final_video, out[f"stage{stage}_video_latent"])
        assert torch.equal(final_audio, out[f"stage{stage}_audio_latent"])
