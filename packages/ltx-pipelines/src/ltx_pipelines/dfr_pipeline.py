"""DFR, "Diffusion Fidelity Rendering" (spec new_pipelines §4): a quality-oriented two-stage pipeline with keyframe
slots and optional temporal refinement rounds that double the frame rate. LTX-2.5 files (keyframe embedding) only.

Recipe: encode the prompt (and, for an automatic duration, predict the clip length) → the canvas: the requested
frames padded to whole segments of 24 or 32 frames, a keyframe slot at every segment border
(`utils/dfr_layout.resolve_canvas`) → stage 1 at half size on the 8-step distilled schedule (Euler, the distilled
LoRA fused), the slots generated with the video → the slots and the video upsampled x2 → stage 2 at full size on the
3-step schedule (video from the upsampled latent, slots from the upsampled slots, audio re-noised from stage 1's;
with a detailing IC-LoRA, the half-size stage-1 video appended as its reference) → per temporal round: the video
upsampled x2 in time, re-denoised in overlapping tiles (Euler-ancestral, eta 0.5, video only) anchored on the
carried keyframes, with new slots between them, and stitched → the canvas trimmed to the requested length (times
2^rounds) → decode the video at fps·2^rounds and the **stage-1** audio.

Run it: `python -m ltx_pipelines.dfr_pipeline --help`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Unpack

import torch

from ltx_core.components.noisers import ConditioningItem
from ltx_core.conditioning import VideoConditionByKeyframeIndex, VideoConditionByReferenceLatent
from ltx_core.conditioning.generated_keyframes import VideoGeneratedKeyframeSlots
from ltx_core.errors import InputError
from ltx_core.geometry import TWO_STAGE_DIVISOR
from ltx_core.loader import LoraSpec
from ltx_core.model.duration_head import AutoDuration
from ltx_core.types import Audio
from ltx_pipelines.utils.ancestral import euler_ancestral
from ltx_pipelines.utils.blocks import DEFAULT_TILING, DiffusionStage, ModalitySpec, StageResult, VideoUpsampler
from ltx_pipelines.utils.checkpoints import require_distilled_lora, require_keyframe_embedding
from ltx_pipelines.utils.constants import distilled_sigmas, stage_2_distilled_sigmas
from ltx_pipelines.utils.denoisers import SimpleDenoiser
from ltx_pipelines.utils.dfr_layout import TIME_SCALE, RoundTile, resolve_canvas, tile_ranges
from ltx_pipelines.utils.helpers import ImageConditioningInput
from ltx_pipelines.utils.ic_reference import lora_downscale_factor
from ltx_pipelines.utils.inputs import check_images
from ltx_pipelines.utils.pipeline_base import PipelineBase, PipelineOptions, Run
from ltx_pipelines.utils.recording import Recorder, pipeline_call, prefixed
from ltx_pipelines.utils.results import Phases, PipelineResult, Progress, prompt_text
from ltx_pipelines.utils.samplers import EULER

MAX_ROUNDS = 2  # temporal refinement rounds DFR offers (each doubles the frame rate)
ANCHOR_STRENGTH = 0.95  # the carried keyframes' conditioning strength in the temporal tiles
ROUND_ETA = 0.5  # Euler-ancestral eta of the temporal tiles
ROUND_SEED_STRIDE = 1000  # tile noise seed: seed + 1000·round + tile
MAX_CONDITIONING_FPS = 60.0  # the positions' frame rate is capped there in the rounds
DEFAULT_DETAILING_DOWNSCALE = 2  # the detailing IC-LoRA's reference factor when its file states none


@dataclass(frozen=True)
class Keyframes:
    """Keyframes carried from a stage to the next round: pixel positions (in the frames of the stage that made them)
    and their one-frame latents `(B, C, 1, H, W)`, in position order."""

    positions: tuple[int, ...]
    latents: tuple[torch.Tensor, ...]

    def latent_at(self, position: int) -> torch.Tensor:
        return self.latents[self.positions.index(position)]


def detailing_downscale_factor(path: str | Path) -> int:
    """The detailing IC-LoRA's reference factor: its `reference_downscale_factor` metadata, else 2 (spec §4.5)."""
    return lora_downscale_factor(path, default=DEFAULT_DETAILING_DOWNSCALE)


def check_rounds(rounds: int, temporal_upsampler: object) -> None:
    """0, 1 or 2 temporal rounds, and a temporal upsampler when there is one (refused before any model is built)."""
    if isinstance(rounds, bool) or not isinstance(rounds, int) or not 0 <= rounds <= MAX_ROUNDS:
        raise InputError(f"temporal_upsample_rounds {rounds!r} is not one of 0, 1, 2")
    if rounds and temporal_upsampler is None:
        raise InputError(
            f"{rounds} temporal upsample round(s) need the temporal upsampler: pass --temporal-upsampler-path "
            "(Python: temporal_upsampler_path=)"
        )


class DFRPipeline(PipelineBase):
    """Full (dev) LTX-2.5 model + the distilled LoRA in every stage; the detailing IC-LoRA (optional) in stage 2
    only; every stage unguided (the positive prompt alone). One `DiffusionStage` serves every stage (built once per
    call): stage 2 swaps the detailing LoRA in and the rounds swap it out again."""

    def __init__(
        self,
        checkpoint_path: Any,
        distilled_lora: Sequence[LoraSpec] | LoraSpec,
        spatial_upsampler_path: str | Path,
        gemma_root: str | Path | None,
        loras: Sequence[LoraSpec] = (),
        detailing_lora: LoraSpec | None = None,
        temporal_upsampler_path: str | Path | None = None,
        device: torch.device | str | None = None,
        **options: Unpack[PipelineOptions],
    ) -> None:
        require_keyframe_embedding(checkpoint_path, "DFR (its keyframe slots)")
        distilled = require_distilled_lora(distilled_lora)
        super().__init__(
            checkpoint_path, gemma_root, device=device, spatial_upsampler_path=spatial_upsampler_path, **options
        )
        self.base_loras = (*loras, *distilled)
        self.detailing_lora = detailing_lora
        self.detailing_factor = None if detailing_lora is None else detailing_downscale_factor(detailing_lora.path)
        self.stage = self._stage(self.base_loras)
        self.temporal_upsampler = (
            None
            if temporal_upsampler_path is None
            else VideoUpsampler(self.files.video_vae, temporal_upsampler_path, dtype=self.dtype, device=self.device)
        )

    @contextmanager
    def _loras(self, loras: tuple[LoraSpec, ...]) -> Iterator[DiffusionStage]:
        """The stage with `loras` fused for the block (swapped in place on a built transformer), then the base set."""
        self.stage.loras = loras
        try:
            yield self.stage
        finally:
            self.stage.loras = self.base_loras

    @pipeline_call
    def __call__(
        self,
        prompt: Any,
        seed: int,
        height: int,
        width: int,
        num_frames: int | AutoDuration,
        frame_rate: float,
        images: Sequence[ImageConditioningInput] = (),
        temporal_upsample_rounds: int = 0,
        tiling_config: Any = DEFAULT_TILING,
        enhance_prompt: bool = False,
        *,
        record: Recorder | None = None,
        progress: Progress | None = None,
    ) -> PipelineResult:
        """`height` x `width`: the output (stage-2) size, multiples of 64. `num_frames` (8k+1, or an `AutoDuration`
        on files with a duration head) is the requested length at `frame_rate`; the result has
        `(num_frames − 1)·2^rounds + 1` frames at `frame_rate·2^rounds`. `record(name, tensor)` receives every
        intermediate under the golden-case names (`stage{k}_*`: stage 1, stage 2, then one per round tile)."""
        check_rounds(temporal_upsample_rounds, self.temporal_upsampler)
        request = self._request(seed, height, width, num_frames, frame_rate, TWO_STAGE_DIVISOR)
        if not isinstance(num_frames, AutoDuration):
            resolve_canvas(num_frames)
        phases = Phases(progress)

        (contexts,) = self._encode_prompts([prompt], images, phases, enhance_prompt=enhance_prompt)
        request = self._with_duration(request, contexts)
        check_images(images, request.num_frames)
        canvas = resolve_canvas(request.num_frames)
        run = self._run(request.with_frames(canvas.frames), phases)
        denoiser = SimpleDenoiser(contexts.video_context, contexts.audio_context)

        with self.stage.session():
            stage_1 = self._first_stage(
                self.stage,
                denoiser,
                distilled_sigmas(),
                run.half(),
                video=ModalitySpec(
                    contexts.video_context,
                    [
                        *self._conditionings(images, run.half(), stage=1),
                        VideoGeneratedKeyframeSlots.at(canvas.keyframes),
                    ],
                ),
                audio=ModalitySpec(contexts.audio_context),
                sampler=EULER,
            )
            reserved = stage_1.video_latent
            assert reserved is not None and stage_1.generated_keyframes is not None
            if run.record is not None:
                run.record("stage1_reserved_video_latent", reserved)
            stage_2 = self._second_stage(stage_1, contexts, run, images, canvas.keyframes)
            latent = stage_2.video_latent
            assert latent is not None and stage_2.generated_keyframes is not None
            carried = _keyframes(canvas.keyframes, stage_2.generated_keyframes)
            frames, fps, tile_number = canvas.frames, float(frame_rate), 3
            for round_index in range(1, temporal_upsample_rounds + 1):
                latent, carried, frames, fps, tile_number = self._temporal_round(
                    round_index, latent, carried, frames, fps, tile_number, contexts, run, images
                )

        output_frames = (request.num_frames - 1) * 2**temporal_upsample_rounds + 1
        latent = latent[:, :, : (output_frames - 1) // TIME_SCALE + 1]
        final = StageResult(latent, stage_1.audio_latent)
        out = replace(run, request=replace(request, num_frames=output_frames, frame_rate=fps))
        result = self._decode(out, final, prompt_text(contexts, prompt), tiling_config)
        return replace(result, audio=_cut(result.audio, output_frames, fps))

    def _second_stage(
        self,
        stage_1: StageResult,
        contexts: Any,
        run: Run,
        images: Sequence[ImageConditioningInput],
        keyframes: tuple[int, ...],
    ) -> StageResult:
        """Stage 2 at full size: slots from the upsampled stage-1 slots, the detailing reference when given."""
        assert self.upsampler is not None and stage_1.generated_keyframes is not None
        with run.phases("upsample"):
            slots = self.upsampler(stage_1.generated_keyframes[:1])
        if run.record is not None:
            run.record("upsampled_slot_keyframes", slots)
        conditionings: list[ConditioningItem] = [
            *self._conditionings(images, run, stage=2),
            VideoGeneratedKeyframeSlots.at(keyframes, slots),
        ]
        loras = self.base_loras
        if self.detailing_lora is not None:
            assert self.detailing_factor is not None and stage_1.video_latent is not None
            reference = VideoConditionByReferenceLatent(stage_1.video_latent[:1], self.detailing_factor, 1.0)
            conditionings.append(reference)
            loras = (*loras, self.detailing_lora)
        with self._loras(loras) as stage:
            return self._upsample_and_refine(
                stage, stage_1, contexts, stage_2_distilled_sigmas(), run, images=images, conditionings=conditionings
            )

    def _temporal_round(
        self,
        round_index: int,
        latent: torch.Tensor,
        carried: Keyframes,
        frames: int,
        fps: float,
        tile_number: int,
        contexts: Any,
        run: Run,
        images: Sequence[ImageConditioningInput],
    ) -> tuple[torch.Tensor, Keyframes, int, float, int]:
        """One round (spec §4.6): x2 in time, the tiles re-denoised and stitched; the new carried keyframes."""
        assert self.temporal_upsampler is not None
        with run.phases(f"temporal upsample {round_index}"):
            video = self.temporal_upsampler(latent[:1])
        if run.record is not None:
            run.record(f"round{round_index}_temporal_upsampled_latent", video)
        frames, fps = 2 * (frames - 1) + 1, 2 * fps
        seams = tuple(2 * p for p in carried.positions)
        tiles = tile_ranges(seams, 2**round_index)
        parts: list[torch.Tensor] = []
        slots: dict[int, torch.Tensor] = {}
        for tile_index, tile in enumerate(tiles):
            conditioning_fps = min(fps, MAX_CONDITIONING_FPS)
            result = self._tile(
                round_index, tile_index, tile, video, carried, conditioning_fps, tile_number, contexts, run, images
            )
            tile_number += 1
            assert result.video_latent is not None and result.generated_keyframes is not None
            parts.append(result.video_latent[:, :, tile.drop :])
            for i, position in enumerate(tile.slots):
                slots.setdefault(position, result.generated_keyframes[:, :, i : i + 1])  # the earlier tile's wins
        positions = sorted({*seams, *slots})
        latents = tuple(slots[p] if p in slots else carried.latent_at(p // 2) for p in positions)
        return torch.cat(parts, dim=2), Keyframes(tuple(positions), latents), frames, fps, tile_number

    def _tile(
        self,
        round_index: int,
        tile_index: int,
        tile: RoundTile,
        video: torch.Tensor,
        carried: Keyframes,
        conditioning_fps: float,
        number: int,
        contexts: Any,
        run: Run,
        images: Sequence[ImageConditioningInput],
    ) -> StageResult:
        """One tile: its slice of the upsampled video re-noised at 0.975, anchored on the carried keyframes (0.95),
        new slots at its segment midpoints (from the nearest latent frame), Euler-ancestral eta 0.5, video only."""
        initial = video[:, :, tile.latent_start : tile.latent_end]
        count = initial.shape[2]
        p0 = tile.pixel_start
        request = replace(run.request, num_frames=tile.frames, frame_rate=conditioning_fps)
        tile_run = replace(run, request=request)
        inside = [img._replace(frame_idx=img.frame_idx - p0) for img in images if p0 <= img.frame_idx <= tile.pixel_end]
        encoded = self._conditionings(inside, tile_run, stage=number)
        anchors = [
            VideoConditionByKeyframeIndex(carried.latent_at(s // 2), s - p0, ANCHOR_STRENGTH) for s in tile.anchors
        ]
        local = [s - p0 for s in tile.slots]
        nearest = [min(max(round(p / TIME_SCALE), 0), count - 1) for p in local]
        slots = VideoGeneratedKeyframeSlots.at(local, torch.cat([initial[:, :, i : i + 1] for i in nearest], dim=2))
        sigmas = distilled_sigmas()[4:]
        noise_scale = float(sigmas[0])
        spec = ModalitySpec(contexts.video_context, [*encoded, *anchors, slots], noise_scale, initial_latent=initial)
        seed = run.request.seed + ROUND_SEED_STRIDE * round_index + tile_index
        phase = f"round {round_index} tile {tile_index + 1}"
        record = _ancestral_names(prefixed(run.record, f"stage{number}_"))
        with run.phases(phase, counted=False):
            return tile_run.diffuse(
                self.stage,
                SimpleDenoiser(contexts.video_context, contexts.audio_context),
                sigmas,
                phase,
                record,
                video=spec,
                audio=None,
                sampler=euler_ancestral(seed, eta=ROUND_ETA),
            )


def _keyframes(positions: tuple[int, ...], latents: torch.Tensor) -> Keyframes:
    """A stage's slots `(B, C, K, H, W)` as carried keyframes at `positions`."""
    return Keyframes(positions, tuple(latents[:, :, i : i + 1] for i in range(latents.shape[2])))


def _ancestral_names(record: Recorder | None) -> Recorder | None:
    """The tiles are video only: their loop noise is recorded as `ancestral_noise` (the golden name)."""
    if record is None:
        return None
    return lambda name, tensor: record(
        name.removesuffix("_video") if name.startswith("ancestral_noise") else name, tensor
    )


def _cut(audio: Audio, frames: int, fps: float) -> Audio:
    """The stage-1 audio cut to the video's length, `round(frames / fps · rate)` samples, when longer."""
    samples = round(frames / fps * audio.sampling_rate)
    if audio.waveform.shape[-1] <= samples:
        return audio
    return replace(audio, waveform=audio.waveform[..., :samples])


def main(argv: Sequence[str] | None = None) -> None:
    from ltx_pipelines.cli.commands import main as run_command_line  # the command line lives in ltx_pipelines.cli

    run_command_line("dfr_pipeline", argv)


if __name__ == "__main__":
    main()
