"""Replaying the diffusion side of an official end-to-end run (golden README 7.x) from its records.

A stage is rebuilt from the recorded tensors as the pipeline builds it (latent tools, conditioning items, initial
latent, noise scale), then its sampling loop runs through our denoisers and samplers with a stand-in transformer
that answers each call with the recorded per-pass predictions (`ReplayTransformer`). So every call's input is the
official one, whatever the CPU: the replay test checks our loop math bit for bit on it, and the teacher-forced test
runs the real transformer on those inputs and compares each call with the record (errors cannot compound).

The noise can be drawn (checked against the record) or replayed from the record (`RecordedNoise`), for CPUs whose
vectorised `randn` rounds an occasional bf16 draw the other way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

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
from ltx_core.loader import LoraSpec
from ltx_core.numerics import DEFAULT_NUMERICS, Numerics
from ltx_core.testing.golden import GoldenCase
from ltx_core.types import AudioLatentShape, LatentState, VideoLatentShape, VideoPixelShape
from ltx_pipelines.testing.golden_replay import guider_params
from ltx_pipelines.utils.denoisers import (
    PASS_ORDER,
    Denoiser,
    FactoryGuidedDenoiser,
    GuidedDenoiser,
    Schedule,
    SimpleDenoiser,
)
from ltx_pipelines.utils.res2s import get_new_noise, res2s_loop
from ltx_pipelines.utils.samplers import DenoiserCall, LoopState, euler_loop

DTYPE = torch.bfloat16
# Pipelines whose guiders do not depend on sigma (a plain `GuidedDenoiser`); the others build theirs per step.
STATIC_GUIDERS = ("ti2vid_two_stages_hq", "a2vid_two_stage", "retake")


def stages(case: GoldenCase) -> list[int]:
    """The stages the case records (1, or 1 and 2)."""
    return [s for s in (1, 2) if f"stage{s}_video_noise" in case.outputs]


def has_calls(case: GoldenCase, stage: int) -> bool:
    """Whether the case records every denoiser call of the stage (the distilled cases record none)."""
    return f"stage{stage}_calls_video_denoised" in case.outputs


def num_frames(case: GoldenCase) -> int:
    if "num_frames" in case.params:
        return case.params["num_frames"]
    return (case.params["reference_video"]["frames"] - 1) // 8 * 8 + 1  # lip-dub: snapped down to 8k + 1


def latent_tools(case: GoldenCase, stage: int) -> tuple[VideoLatentTools, AudioLatentTools]:
    """The stage's latent tools, with every size taken from the case's params and recorded latents."""
    p, out = case.params, case.outputs
    h, w = p["height"], p["width"]
    if len(stages(case)) == 2 and stage == 1:
        h, w = h // 2, w // 2
    pixel = VideoPixelShape(1, num_frames(case), h, w, p["frame_rate"])
    a_lat = out[f"stage{stage}_audio_latent"]
    vshape = VideoLatentShape.from_pixel_shape(pixel, channels=out[f"stage{stage}_video_latent"].shape[1])
    ashape = AudioLatentShape.from_video_pixel_shape(pixel, channels=a_lat.shape[1], mel_bins=a_lat.shape[3])
    return (
        VideoLatentTools(VideoLatentPatchifier(1), vshape, p["frame_rate"]),
        AudioLatentTools(AudioPatchifier(1), ashape),
    )


def _image_items(case: GoldenCase, stage: int) -> list[Any]:
    spec = case.params.get("image_conditioning")
    if spec is None:
        return []
    specs = spec if isinstance(spec, list) else [spec]
    all_keyframes = case.params.get("pipeline") == "keyframe_interpolation"
    items: list[Any] = []
    for i, s in enumerate(specs):
        key = f"stage{stage}_image_latent" + (f"_{i}" if isinstance(spec, list) else "")
        latent = case.outputs[key]
        if s["frame_idx"] == 0 and not all_keyframes:
            items.append(VideoConditionByLatentIndex(latent, s["strength"], 0))
        else:
            items.append(VideoConditionByKeyframeIndex(latent, s["frame_idx"], s["strength"]))
    return items


@dataclass
class ModalitySetup:
    """How one modality's state starts in a stage (as the pipeline sets it)."""

    items: list[Any] = field(default_factory=list)
    init: torch.Tensor | None = None
    scale: float = 1.0
    frozen: bool = False


def stage_setup(case: GoldenCase, stage: int, atools: AudioLatentTools) -> dict[str, ModalitySetup]:
    """Per modality: conditioning items, initial latent, noise scale and whether it is frozen."""
    p, out = case.params, case.outputs
    pipeline = p.get("pipeline", "distilled")
    first_sigma = float(out[f"stage{stage}_sigmas"][0])
    video, audio = ModalitySetup(_image_items(case, stage)), ModalitySetup()
    if stage == 2:
        video.init, video.scale = out["upsampled_video_latent"], first_sigma
        audio.init, audio.scale = out["stage1_audio_latent"], first_sigma
    if pipeline == "ic_lora" and stage == 1:
        ref = VideoConditionByReferenceLatent(
            out["reference_latent"], p["ic_lora"]["reference_downscale_factor"], p["reference_video"]["strength"]
        )
        if p["conditioning_attention_mask"]:
            ref = ConditioningItemAttentionStrengthWrapper(ref, out["reference_attention_weights"])
        elif p["conditioning_attention_strength"] < 1.0:
            ref = ConditioningItemAttentionStrengthWrapper(ref, p["conditioning_attention_strength"])
        video.items.append(ref)
    if pipeline == "retake":
        window = TemporalRegionMask(p["start_time"], p["end_time"], p["frame_rate"])
        video.init, video.items = out["source_video_latent"], [window]
        audio.init, audio.items = out["source_audio_latent"], [window]
    if pipeline == "a2vid_two_stage":
        frames = atools.target_shape.frames
        audio.init, audio.scale, audio.frozen = out["audio_latent_full"][:, :, :frames], 0.0, True
    if pipeline == "lipdub":
        video.items.append(
            VideoConditionByReferenceLatent(out[f"stage{stage}_reference_latent"], 1, p["reference_video"]["strength"])
        )
        ref_audio = out["reference_audio_latent"] if stage == 1 else out["stage1_audio_latent"]
        audio.items.append(patchify_lipdub_audio_reference_latent(ref_audio))
        if stage == 2:
            audio.scale, audio.frozen = 0.0, True
    return {"video": video, "audio": audio}


class RecordedNoise(GaussianNoiser):
    """A noiser that returns the recorded stage noises in draw order (video, then audio, per stage)."""

    def __init__(self, noises: list[torch.Tensor], numerics: Numerics = DEFAULT_NUMERICS) -> None:
        super().__init__(torch.Generator(), numerics)
        self._noises: Iterator[torch.Tensor] = iter(noises)

    def draw(self, latent: torch.Tensor) -> torch.Tensor:
        noise = next(self._noises)
        assert noise.shape == latent.shape, f"recorded noise {tuple(noise.shape)} for a latent {tuple(latent.shape)}"
        return noise.to(device=latent.device, dtype=latent.dtype)


def recorded_noises(case: GoldenCase) -> list[torch.Tensor]:
    """Every stage noise of the case in the pipeline's draw order."""
    return [case.outputs[f"stage{s}_{m}_noise"] for s in stages(case) for m in ("video", "audio")]


def build_states(case: GoldenCase, stage: int, noiser: GaussianNoiser) -> tuple[LatentState, LatentState]:
    """The stage's initial noised (video, audio) states."""
    vtools, atools = latent_tools(case, stage)
    setup = stage_setup(case, stage, atools)
    states = []
    for name, tools in (("video", vtools), ("audio", atools)):
        spec = setup[name]
        states.append(
            create_noised_state(
                tools,
                noiser,
                conditionings=spec.items,
                noise_scale=spec.scale,
                initial_latent=spec.init,
                frozen=spec.frozen,
                dtype=DTYPE,
            )
        )
    return states[0], states[1]


def is_guided(case: GoldenCase, stage: int) -> bool:
    return f"stage{stage}_calls_video_cond" in case.outputs


def stage_denoiser(case: GoldenCase, stage: int) -> Denoiser:
    """The denoiser the pipeline uses in the stage (guided with the case's guiders, or plain)."""
    p, inp = case.params, case.inputs
    if not is_guided(case, stage):
        return SimpleDenoiser(inp["video_context"], inp["audio_context"])
    video_guider = MultiModalGuider(guider_params(p["video_guider"]), inp["negative_video_context"])
    audio_guider = MultiModalGuider(guider_params(p["audio_guider"]), inp.get("negative_audio_context"))
    if p["pipeline"] == "a2vid_two_stage":
        audio_guider = MultiModalGuider(MultiModalGuiderParams())  # neutral, no negative context
    if p["pipeline"] in STATIC_GUIDERS:
        return GuidedDenoiser(inp["video_context"], inp["audio_context"], video_guider, audio_guider)
    return FactoryGuidedDenoiser(
        inp["video_context"],
        inp["audio_context"],
        MultiModalGuiderFactory.constant(video_guider.params, video_guider.negative_context),
        MultiModalGuiderFactory.constant(audio_guider.params, audio_guider.negative_context),
    )


def stage_loras(case: GoldenCase, stage: int) -> list[LoraSpec]:
    """The LoRAs fused into the transformer for the stage (the distilled LoRA at that stage's strength, the
    IC-LoRA in the stages it names)."""
    p, loras = case.params, []
    distilled = p.get("distilled_lora")
    if distilled and distilled.get(f"stage_{stage}_strength") is not None:
        loras.append(LoraSpec(case.file(distilled["file"]), distilled[f"stage_{stage}_strength"]))
    ic = p.get("ic_lora")
    if ic and stage in ic.get("stages", [1]):
        loras.append(LoraSpec(case.file(ic["file"]), ic["strength"]))
    return loras


def recorded_passes(case: GoldenCase, stage: int, modality: str) -> list[str]:
    """The guidance passes recorded for a modality of the stage, in batch order (none for an unguided stage)."""
    return [p for p in PASS_ORDER if f"stage{stage}_calls_{modality}_{p}" in case.outputs]


X0Fn = Callable[[Any, Any, Any], tuple[torch.Tensor, torch.Tensor]]


class ReplayTransformer:
    """Answers call k of the stage with the recorded predictions of call k (every pass, batched in order), after
    handing the call's inputs to `observe(k, video, audio, perturbations)` when given (the teacher-forced test runs
    the real transformer there)."""

    def __init__(self, case: GoldenCase, stage: int, observe: Callable[..., None] | None = None) -> None:
        self.case, self.stage, self.observe = case, stage, observe
        self.out, self.pre = case.outputs, f"stage{stage}_calls"
        self.k = 0

    def __call__(self, video: Any, audio: Any, perturbations: Any) -> tuple[torch.Tensor, torch.Tensor]:
        k, out = self.k, self.out
        self.k += 1
        if self.observe is not None:
            self.observe(k, video, audio, perturbations)
        if not is_guided(self.case, self.stage):
            return out[f"{self.pre}_video_denoised"][k], out[f"{self.pre}_audio_denoised"][k]
        v = torch.cat([out[f"{self.pre}_video_{p}"][k] for p in recorded_passes(self.case, self.stage, "video")])
        a = torch.cat([out[f"{self.pre}_audio_{p}"][k] for p in recorded_passes(self.case, self.stage, "audio")])
        return v, a


@dataclass
class StageReplay:
    """What a replayed stage produced: each call's (video, audio) denoiser results, the final states, and the
    res2s SDE noises drawn (HQ only)."""

    calls: list[tuple[Any, Any]]
    video: LatentState
    audio: LatentState
    sde_noise: list[torch.Tensor]


def replay_stage(
    case: GoldenCase,
    stage: int,
    video: LatentState,
    audio: LatentState,
    transformer: X0Fn,
    sde_noise: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
) -> StageReplay:
    """Run the stage's sampling loop (Euler, or res2s for the HQ pipeline) from the given states, with
    `transformer` answering the calls (res2s draws its SDE noise with `sde_noise`, default its own draw)."""
    calls: list[tuple[Any, Any]] = []
    drawn: list[torch.Tensor] = []

    def record(event: object) -> None:
        if isinstance(event, DenoiserCall):
            calls.append((event.video, event.audio))

    def noise(latent: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        z = (sde_noise or get_new_noise)(latent, generator)
        drawn.append(z)
        return z

    sigmas = Schedule.of(case.outputs[f"stage{stage}_sigmas"])
    denoise = partial(stage_denoiser(case, stage), transformer, numerics=case.numerics)
    if case.params.get("pipeline") == "ti2vid_two_stages_hq":
        v, a = res2s_loop(denoise, LoopState(video, audio), sigmas, callback=record, new_noise_fn=noise)
    else:
        v, a = euler_loop(denoise, LoopState(video, audio), sigmas, callback=record)
    return StageReplay(calls, v, a, drawn)


def recorded_sde_noise(case: GoldenCase, stage: int) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor]:
    """An SDE-noise function for `replay_stage` that returns the recorded res2s noises in draw order."""
    rec_v, rec_a = case.outputs[f"stage{stage}_sde_noise_video"], case.outputs[f"stage{stage}_sde_noise_audio"]
    queue = iter([z for j in range(rec_v.shape[0]) for z in (rec_v[j], rec_a[j])])
    return lambda latent, generator: next(queue).to(latent.device)
