"""Teacher forcing against the official end-to-end records: each model call, and each component at a stage
boundary, recomputed from its recorded inputs (so a CPU whose kernels round differently from the recording's
cannot compound a one-ulp difference over later steps; `ltx_core.testing.cpu_parity`)."""

from __future__ import annotations

import torch

from ltx_core.batch_split import BatchSplitAdapter
from ltx_core.model.transformer import X0Model
from ltx_core.model.transformer.loading import load_transformer
from ltx_core.testing.golden import GoldenCase
from ltx_pipelines.testing.diffusion_replay import (
    RecordedNoise,
    ReplayTransformer,
    build_states,
    is_guided,
    recorded_noises,
    recorded_passes,
    recorded_sde_noise,
    replay_stage,
    stage_loras,
    stages,
)
from ltx_pipelines.utils.blocks.conditioners import ImageConditioner
from ltx_pipelines.utils.blocks.decoding import VideoDecoder
from ltx_pipelines.utils.blocks.upsampling import VideoUpsampler


def stage_transformer(case: GoldenCase, stage: int) -> BatchSplitAdapter:
    """The stage's transformer as the pipeline builds it: bf16, the stage's LoRAs fused, the case's batch size."""
    files = case.file(case.params["checkpoint"])
    model = load_transformer(files, dtype=torch.bfloat16, loras=stage_loras(case, stage), numerics=case.numerics)
    return BatchSplitAdapter(X0Model(model).eval(), case.params.get("max_batch_size", 1))


def teacher_forced_calls(case: GoldenCase, stage: int) -> dict[str, list[torch.Tensor]]:
    """Per recorded tensor name (`stage{s}_calls_{modality}_{pass}`, or `_denoised` for an unguided stage), our
    transformer's prediction at each call, from the call's official inputs."""
    transformer = stage_transformer(case, stage)
    got: dict[str, list[torch.Tensor]] = {}
    guided = is_guided(case, stage)

    def observe(k: int, video: object, audio: object, perturbations: object) -> None:
        with torch.inference_mode():
            v, a = transformer(video, audio, perturbations)
        for modality, x0 in (("video", v), ("audio", a)):
            passes = recorded_passes(case, stage, modality) if guided else ["denoised"]
            for row, name in enumerate(passes):
                got.setdefault(f"stage{stage}_calls_{modality}_{name}", []).append(x0[row : row + 1])

    noiser = RecordedNoise(recorded_noises(case), case.numerics)
    for s in stages(case):  # the noise of earlier stages is drawn first
        video, audio = build_states(case, s, noiser)
        if s == stage:
            break
    hq = case.params.get("pipeline") == "ti2vid_two_stages_hq"
    sde = recorded_sde_noise(case, stage) if hq else None
    replay_stage(case, stage, video, audio, ReplayTransformer(case, stage, observe), sde)
    return got


def _encoded(case: GoldenCase) -> dict[str, tuple[str, str]]:
    """Recorded (pixels → latent) pairs of the video VAE encoder: conditioning images and reference videos."""
    pairs = {}
    for name in case.outputs:
        for pixels, latent in (("image_pixels", "image_latent"), ("reference_pixels", "reference_latent")):
            if pixels in name:
                target = name.replace(pixels, latent)
                if target in case.outputs:
                    pairs[target] = (name, target)
    return pairs


def stage_boundaries(case: GoldenCase) -> dict[str, torch.Tensor]:
    """Our component outputs at the stage boundaries, each from the recorded input: the x2 upsampler on the stage-1
    video latent, the video decoder on the last stage's video latent, the encoder on each recorded pixel tensor."""
    p, out = case.params, case.outputs
    checkpoint = case.file(p["checkpoint"])
    got: dict[str, torch.Tensor] = {}
    with torch.inference_mode():
        if "upsampled_video_latent" in out:
            upsampler = VideoUpsampler(checkpoint, case.file(p["upsampler"]), device="cpu")
            got["upsampled_video_latent"] = upsampler(out["stage1_video_latent"])
        if "video_frames" in out:
            last = max(stages(case))
            decoder = VideoDecoder(checkpoint, device="cpu", numerics=case.numerics)
            with decoder(out[f"stage{last}_video_latent"]) as chunks:
                got["video_frames"] = torch.cat(list(chunks))
        pairs = _encoded(case)
        if pairs:
            encoder = ImageConditioner(checkpoint, device="cpu", numerics=case.numerics)
            encoder.models.keep = True
            for target, (pixels, _) in pairs.items():
                got[target] = encoder(lambda encode, x=out[pixels]: encode(x))
    return got
