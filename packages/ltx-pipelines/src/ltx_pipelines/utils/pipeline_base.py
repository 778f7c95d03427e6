"""The blocks and recipe steps every generating pipeline shares, so that a pipeline's `__call__` reads as its recipe.

A pipeline subclasses `PipelineBase`, makes its diffusion stage(s) with `_stage(loras)`, and writes the recipe:
`_run` (one call's geometry, seeded generator, progress and recorder) → prompts → `_first_stage` → (two-stage
flow, spec 13.0: `_upsample_and_refine`) → `_decode`. Everything here only builds blocks from file paths; models
are built when a block is called and freed after (see the `blocks` package).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, TypedDict, Unpack

import torch

from ltx_core.components.noisers import ConditioningItem, GaussianNoiser
from ltx_core.conditioning.generated_keyframes import VideoGeneratedKeyframeSlots, evenly_spaced_keyframes
from ltx_core.errors import InputError
from ltx_core.hdr.spaces import HDRColorSpace
from ltx_core.loader import LoraSpec
from ltx_core.loader.model_paths import ModelFiles
from ltx_core.model.duration_head import AutoDuration
from ltx_core.model.transformer import ModelType
from ltx_core.numerics import DEFAULT_NUMERICS, Numerics
from ltx_core.parallel.layout import SINGLE_PROCESS, ParallelLayout
from ltx_pipelines.utils.blocks import (
    DEFAULT_PROMPT_ENHANCER,
    DEFAULT_TILING,
    PLAIN_RUNTIME,
    AudioDecoder,
    DiffusionStage,
    DurationPredictor,
    ImageConditioner,
    KeptModels,
    ModalitySpec,
    PromptEncoder,
    PromptEnhancerSettings,
    StageResult,
    TransformerRuntime,
    VideoDecoder,
    VideoUpsampler,
    across_processes,
    hinted_tiling,
    resolve_device,
)
from ltx_pipelines.utils.checkpoints import check_generated_keyframes
from ltx_pipelines.utils.denoisers import Denoiser, SimpleDenoiser
from ltx_pipelines.utils.helpers import (
    ConditioningsFn,
    ImageConditioningInput,
    combined_image_conditionings,
    encode_image_conditionings,
    first_image_path,
)
from ltx_pipelines.utils.inputs import VideoRequest
from ltx_pipelines.utils.recording import Recorder, current_recorder, prefixed, recording_under
from ltx_pipelines.utils.results import Phases, PipelineResult
from ltx_pipelines.utils.samplers import EULER, Sampler

DEFAULT_ENHANCE_SEED = 42  # the prompt-enhancement sampling seed when a pipeline does not pass its own


class PipelineOptions(TypedDict, total=False):
    """How a pipeline holds its models: every pipeline constructor's keyword options (see `PipelineBase`)."""

    dtype: torch.dtype
    cache_transformer: bool
    memory_efficient_decode: bool
    runtime: TransformerRuntime
    parallel: ParallelLayout
    numerics: Numerics
    prompt_enhancer: PromptEnhancerSettings


@dataclass(frozen=True)
class Run:
    """What every step of one pipeline call shares: the request (output geometry), the generator seeded once per
    call from its seed (every noise draw of the call comes from it, in recipe order), the progress phases, the
    recorder, and the HDR colour space (None: SDR; spec NP 5: EXR conditioning read in it, a float32 decode)."""

    request: VideoRequest
    generator: torch.Generator
    phases: Phases
    record: Recorder | None = None
    color_space: HDRColorSpace | None = None

    @property
    def height(self) -> int:
        return self.request.height

    @property
    def width(self) -> int:
        return self.request.width

    @property
    def num_frames(self) -> int:
        return self.request.num_frames

    @property
    def frame_rate(self) -> float:
        return self.request.frame_rate

    @property
    def noiser(self) -> GaussianNoiser:
        return GaussianNoiser(self.generator)

    def half(self) -> Run:
        """Stage 1 of a two-stage flow: half the height and width, everything else shared."""
        return replace(self, request=self.request.half())

    def diffuse(
        self,
        stage: DiffusionStage,
        denoiser: Denoiser,
        sigmas: torch.Tensor,
        phase: str,
        record: Recorder | None,
        *,
        video: ModalitySpec | None,
        audio: ModalitySpec | None,
        max_batch_size: int = 1,
        sampler: Sampler = EULER,
    ) -> StageResult:
        """`stage` at this run's size with this run's noise, progress counted under `phase`, stepped by `sampler`'s
        loop (the stage is handed the loop only: every loop has the one call signature of `samplers`)."""
        request = self.request
        return stage(
            denoiser,
            sigmas,
            self.noiser,
            height=request.height,
            width=request.width,
            num_frames=request.num_frames,
            frame_rate=request.frame_rate,
            video=video,
            audio=audio,
            loop=sampler.loop(record),
            max_batch_size=max_batch_size,
            on_step=self.phases.steps(phase),
            record=record,
        )


class PipelineBase:
    """Prompt encoder, image conditioner, decoders (and the x2 upsampler for two-stage pipelines) of one checkpoint.

    `conditionings_fn` says how images condition the video (default: frame 0 replaces the first latent frame, other
    frames are appended as guiding keyframes); a two-stage recipe sets its own (`TwoStageRecipe.conditionings`:
    keyframe interpolation appends every image).

    `checkpoint_path` is the single-file checkpoint (a path, shards, an open `Checkpoint`, or an in-memory source in
    tests) or a `ltx_core.loader.model_paths.ModelPaths` (split files, or a single file whose video VAE another file
    replaces): each block reads its slot's file (`self.files`, delta E.1); split files name their text encoder in
    the `ModelPaths`, so `gemma_root` is then None.

    `video=False` makes a pipeline that outputs sound only (text to audio): it has no image conditioner and no
    video decoder.

    `parallel` (`ltx_core.parallel.init_layout()` under torchrun) runs one generation on several processes: every
    rank constructs and calls the pipeline alike; Gemma runs on rank 0, the transformer is split as the layout says,
    a tiled decode is spread (`blocks.across_processes`), and every rank gets the same result (each must exhaust
    `result.video`: the frames are decoded together).
    """

    conditionings_fn: ConditioningsFn = staticmethod(combined_image_conditionings)  # type: ignore[assignment]

    def __init__(
        self,
        checkpoint_path: Any,
        gemma_root: str | Path | None,
        *,
        device: torch.device | str | None,
        spatial_upsampler_path: str | Path | None = None,
        dtype: torch.dtype = torch.bfloat16,
        cache_transformer: bool = False,
        memory_efficient_decode: bool = True,
        runtime: TransformerRuntime = PLAIN_RUNTIME,
        parallel: ParallelLayout = SINGLE_PROCESS,
        numerics: Numerics = DEFAULT_NUMERICS,
        prompt_enhancer: PromptEnhancerSettings = DEFAULT_PROMPT_ENHANCER,
        video: bool = True,
    ) -> None:
        self.device = resolve_device(device)
        self.dtype = dtype
        self.runtime = runtime
        self.parallel = parallel
        self.numerics = numerics
        self._cache_new_stages = cache_transformer  # the stages made by `_stage` start with this `cache`
        self.checkpoint_path = checkpoint_path
        self.files = files = ModelFiles.of(checkpoint_path, gemma_root)
        self.prompt_encoder = across_processes(
            PromptEncoder(
                files.embeddings,
                files.text_encoder,
                dtype=dtype,
                device=self.device,
                offload=runtime.offload,
                numerics=numerics,
                enhancer=prompt_enhancer,
            ),
            parallel,
        )
        self.duration = DurationPredictor(files.duration_head, dtype=dtype, device=self.device)
        self.audio_decoder = AudioDecoder(files.audio_vae, dtype=dtype, device=self.device)
        self._stages: list[DiffusionStage] = []
        self.upsampler: VideoUpsampler | None = None
        if not video:  # sound only (text to audio): no image conditioner, no video decoder
            return
        vae = files.video_vae
        self.image_conditioner = ImageConditioner(vae, dtype=dtype, device=self.device, numerics=numerics)
        decoder = VideoDecoder(
            vae, dtype=dtype, device=self.device, memory_efficient=memory_efficient_decode, numerics=numerics
        )
        self.video_decoder = across_processes(decoder, parallel)
        # HDR calls decode in float32 (spec NP 5.3 step 1): a second block, built only when such a call decodes
        hdr_decoder = VideoDecoder(
            vae, dtype=torch.float32, device=self.device, memory_efficient=memory_efficient_decode, numerics=numerics
        )
        self.hdr_video_decoder = across_processes(hdr_decoder, parallel)
        if spatial_upsampler_path is not None:
            self.upsampler = VideoUpsampler(vae, spatial_upsampler_path, dtype=dtype, device=self.device)

    def _stage(self, loras: Sequence[LoraSpec] = (), model_type: ModelType = ModelType.AUDIO_VIDEO) -> DiffusionStage:
        """A diffusion stage of this checkpoint with these LoRAs fused, on the pipeline's device and runtime, whose
        transformer has the streams of `model_type`."""
        stage = DiffusionStage(
            self.files.transformer,
            loras=loras,
            dtype=self.dtype,
            device=self.device,
            cache=self._cache_new_stages,
            runtime=self.runtime,
            parallel=self.parallel,
            numerics=self.numerics,
            model_type=model_type,
            audio_vae=self.files.audio_vae,
        )
        self._stages.append(stage)
        return stage

    @property
    def cache_transformer(self) -> bool:
        """Keep the built transformer(s) between calls, for a pipeline object reused for many prompts.

        Each diffusion stage keeps its own: a two-stage pipeline whose stages fuse different LoRAs holds two
        transformers (twice the weight memory). Setting it False frees them now; `release()` frees them and keeps
        the setting."""
        return any(stage.cache for stage in self._stages)

    @cache_transformer.setter
    def cache_transformer(self, keep: bool) -> None:
        for stage in self._stages:
            stage.cache = keep
            if not keep:
                stage.release()

    @property
    def keep_models(self) -> bool:
        """Keep every model built between calls: Gemma and the text path, the VAE encoders and decoders, the
        upsampler and the transformer(s) (`cache_transformer`). Fastest for many prompts in one process, when
        memory allows; setting it False frees them now."""
        return all(block.models.keep for block in self._blocks()) and self.cache_transformer

    @keep_models.setter
    def keep_models(self, keep: bool) -> None:
        for block in self._blocks():
            block.models.keep = keep
        for stage in self._stages:
            stage.cache = keep
        if not keep:
            self.release()

    def _blocks(self) -> list[Any]:
        """The model-building blocks of this pipeline (prompt encoder, conditioners, upsampler, decoders)."""
        return [v for v in vars(self).values() if isinstance(getattr(v, "models", None), KeptModels)]

    def release(self) -> None:
        """Free every built model now (the next call builds them again); the keep settings stay."""
        for stage in self._stages:
            stage.release()
        for block in self._blocks():
            block.models.release()

    def run_jobs(
        self,
        jobs: Iterable[Any],
        *,
        prompts: Sequence[Sequence[str]] | None = None,
        keep_models: bool = True,
        on_error: Callable[[dict[str, Any], Exception], None] | None = None,
    ) -> Iterator[tuple[dict[str, Any], Any]]:
        """Many calls in one residency: each job holds the keyword arguments of `__call__` (a dict or a dataclass).
        The text prompts are encoded up front, in one Gemma residency (`prompts`: each call's texts, as the call
        encodes them together; by default `job_prompts` of every job, which reads `jobs` whole first: give `prompts`
        to feed the jobs one at a time, e.g. from a queue); with
        `keep_models` every other model then stays built from job to job (without, each call builds and frees its
        models as a lone call does). Yields `(job, result)` as each finishes (use or close a result's `video` before
        asking for the next). `on_error(job, exc)`, when given, receives an `Exception` a job's call raised instead of
        it propagating (it may raise it), and the next job runs. Models are freed at the end unless `keep_models` was
        already set on the pipeline. Each result is bitwise the one its job gives alone."""
        arguments: Iterable[dict[str, Any]] = (_job_arguments(job) for job in jobs)
        if prompts is None:
            arguments = list(arguments)
            prompts = [job_prompts(job) for job in arguments]
        kept = self.keep_models
        self.prompt_encoder.encode_ahead(prompts)
        self.keep_models = kept or keep_models
        try:
            for job in arguments:
                try:
                    result = self(**job)
                except Exception as exc:
                    if on_error is None:
                        raise
                    on_error(job, exc)
                    continue
                yield job, result
        finally:
            self.keep_models = kept

    def _request(
        self, seed: int, height: int, width: int, num_frames: int | AutoDuration, frame_rate: float, divisor: int
    ) -> VideoRequest:
        """The call's request, checked before any work: an automatic duration (`AutoDuration`, resolved after the
        prompt is encoded: `_with_duration`) needs files with a duration head."""
        request = VideoRequest(seed, height, width, num_frames, frame_rate).check(divisor)
        if isinstance(num_frames, AutoDuration):
            self.duration.require()
        return request

    def _check_generated_keyframes(self, count: int, num_frames: int | AutoDuration) -> None:
        """Refuse keyframe slots (`generated_keyframes=N`, spec new_pipelines §8) before any model is built: on files
        without the keyframe embedding, and (for a given length) when the clip has no room for N interior frames."""
        if count == 0:
            return
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise InputError(f"generated_keyframes {count!r} must be a whole number of 0 or more")
        check_generated_keyframes(count, self.checkpoint_path, num_frames, f"{count} generated keyframe slot(s)")

    def _keyframe_slots(self, count: int, run: Run) -> list[ConditioningItem]:
        """The generated keyframe slots of a stage at `run`'s frame count: `count` evenly spaced interior frames
        (none for 0), appended after the images' conditionings."""
        if count == 0:
            return []
        return [VideoGeneratedKeyframeSlots.at(evenly_spaced_keyframes(count, run.num_frames))]

    def _with_duration(self, request: VideoRequest, contexts: Any, *, audio_only: bool = False) -> VideoRequest:
        """`request` with an automatic duration predicted from the positive prompt's contexts (spec delta C.4; the
        audio context alone with `audio_only`); a frame count given as a number is kept."""
        if not isinstance(request.num_frames, AutoDuration):
            return request
        frames = self.duration(contexts, request.frame_rate, request.num_frames, audio_only=audio_only)
        return request.with_frames(frames)

    def _run(self, request: VideoRequest, phases: Phases, color_space: HDRColorSpace | None = None) -> Run:
        """This call's `Run`: its generator seeded with the request's seed on the pipeline's device, the call's
        recorder and its HDR colour space (None: SDR)."""
        generator = torch.Generator(device=self.device).manual_seed(request.seed)
        return Run(request, generator, phases, current_recorder(), color_space)

    def _encode_prompts(
        self,
        prompts: Sequence[Any],
        images: Sequence[ImageConditioningInput],
        phases: Phases,
        *,
        enhance_prompt: bool,
        enhance_seed: int = DEFAULT_ENHANCE_SEED,
    ) -> list[Any]:
        """Contexts per prompt (the first one optionally enhanced, looking at the first image); precomputed
        `PromptContexts` pass through without building Gemma."""
        with phases("prompt"):
            return self.prompt_encoder(
                list(prompts),
                enhance_first_prompt=enhance_prompt,
                enhance_prompt_image=first_image_path(images) if enhance_prompt else None,
                enhance_prompt_seed=enhance_seed,
            )

    def _conditionings(self, images: Sequence[ImageConditioningInput], run: Run, stage: int) -> list:
        """The images encoded at this stage's size (`run`'s), conditioning as `conditionings_fn` says (recorded under
        `stage{stage}_`)."""
        how = self.conditionings_fn
        with recording_under(f"stage{stage}_"):
            return encode_image_conditionings(
                self.image_conditioner, images, run.height, run.width, how, color_space=run.color_space
            )

    def _first_stage(
        self,
        stage: DiffusionStage,
        denoiser: Denoiser,
        sigmas: torch.Tensor,
        run: Run,
        *,
        video: ModalitySpec | None,
        audio: ModalitySpec | None,
        max_batch_size: int = 1,
        sampler: Sampler = EULER,
    ) -> StageResult:
        """Stage 1 at the run's size (`run.half()` in a two-stage flow): progress and time under "stage 1", records
        under `stage1_`; stepped by `sampler`'s loop."""
        with run.phases("stage 1", counted=False):
            return run.diffuse(
                stage,
                denoiser,
                sigmas,
                "stage 1",
                prefixed(run.record, "stage1_"),
                video=video,
                audio=audio,
                max_batch_size=max_batch_size,
                sampler=sampler,
            )

    def _upsample_and_refine(
        self,
        stage: DiffusionStage,
        stage_1: StageResult,
        contexts: Any,
        sigmas: torch.Tensor,
        run: Run,
        *,
        images: Sequence[ImageConditioningInput],
        conditionings: Sequence[ConditioningItem] | None = None,
        audio: ModalitySpec | None = None,
        sampler: Sampler = EULER,
    ) -> StageResult:
        """The two-stage tail (spec 13.0): x2 upsampling, then the unguided refinement at the run's (full) size with
        the images re-encoded there (or the given `conditionings`) and the stage-1 audio re-noised (or the given
        `audio`); stepped by `sampler`'s loop."""
        assert self.upsampler is not None, "a two-stage pipeline needs the spatial upsampler"
        assert stage_1.video_latent is not None
        with run.phases("upsample"):
            upscaled = self.upsampler(stage_1.video_latent[:1])  # the first batch entry
            if run.record is not None:
                run.record("upsampled_video_latent", upscaled)
        with run.phases("stage 2", counted=False):
            rec = prefixed(run.record, "stage2_")
            if conditionings is None:
                conditionings = self._conditionings(images, run, stage=2)
            noise_scale = float(sigmas[0])  # the video (and audio) re-noised to the schedule's first sigma
            if audio is None:
                audio = ModalitySpec(contexts.audio_context, (), noise_scale, initial_latent=stage_1.audio_latent)
            video = ModalitySpec(contexts.video_context, tuple(conditionings), noise_scale, initial_latent=upscaled)
            denoiser = SimpleDenoiser(contexts.video_context, contexts.audio_context)
            return run.diffuse(stage, denoiser, sigmas, "stage 2", rec, video=video, audio=audio, sampler=sampler)

    def _decode_tiling(self, tiling_config: Any) -> Any:
        """The tiling a call decodes with: the caller's; when not given (`DEFAULT_TILING`), the AUTO plan under 1.2.0
        numerics (delta A.9.3, every pipeline); None (given, or the 1.1.3 default) is untiled unless the offload
        choice hints tiling (little free memory)."""
        if tiling_config is DEFAULT_TILING:
            if self.numerics.decode_auto_tiling:
                from ltx_core.model.video_vae import AUTO_TILING

                return AUTO_TILING
            tiling_config = None
        return hinted_tiling(tiling_config, self)

    def _decode_video(self, run: Run, latent: torch.Tensor, tiling_config: Any) -> Any:
        """The video latent → lazily decoded frames, tiled as `_decode_tiling` says: in the pipeline dtype, or for an
        HDR run (`run.color_space`) in float32, decoder and latent (spec NP 5.3; its decode noise drawn in float32)."""
        tiling = self._decode_tiling(tiling_config)
        if run.color_space is None:
            return self.video_decoder(latent, tiling, run.generator)
        return self.hdr_video_decoder(latent.float(), tiling, run.generator)

    def _decode(
        self,
        run: Run,
        result: StageResult,
        prompt: str,
        tiling_config: Any,
        generated_keyframes: torch.Tensor | None = None,
    ) -> PipelineResult:
        """Audio now; video lazily (the decoder draws from the pipeline generator, after all diffusion draws), tiled
        as `_decode_tiling` says. An HDR run decodes in float32 (decoder and latent; its decode noise is drawn in
        float32 too) and its frames are the working space's codes in [0, 1] (`PipelineResult.color_space`).
        `generated_keyframes` (a stage's slot latents) are handed back undecoded."""
        video_latent, audio_latent = result.video_latent, result.audio_latent
        assert video_latent is not None and audio_latent is not None
        with run.phases("decode audio"):
            audio = self.audio_decoder(audio_latent)
        video = self._decode_video(run, video_latent, tiling_config)
        slots = generated_keyframes if generated_keyframes is not None else result.generated_keyframes
        return PipelineResult(
            video,
            audio,
            video_latent,
            audio_latent,
            prompt,
            run.frame_rate,
            run.phases.seconds,
            run.color_space,
            generated_keyframes=slots,
        )


class GuidedPipelineBase(PipelineBase):
    """Blocks and recipe steps every guided pipeline has; adds the (positive, negative) prompt pair."""

    def _prompts(
        self,
        prompt: Any,
        negative_prompt: Any,
        images: Sequence[ImageConditioningInput],
        enhance_prompt: bool,
        seed: int,
        phases: Phases,
    ) -> tuple[Any, Any]:
        """(positive, negative) contexts; the enhancement (of the positive prompt) samples with the run's seed."""
        positive, negative = self._encode_prompts(
            [prompt, negative_prompt], images, phases, enhance_prompt=enhance_prompt, enhance_seed=seed
        )
        return positive, negative


class TwoStageGuidedBase(GuidedPipelineBase):
    """Two-stage, HQ and keyframe interpolation: a guided stage 1 with `stage_1_loras`, then the shared two-stage
    tail (`_upsample_and_refine`) on `stage_2` with `stage_2_loras`."""

    def __init__(
        self,
        checkpoint_path: str | Path,
        spatial_upsampler_path: str | Path,
        gemma_root: str | Path | None,
        stage_1_loras: Sequence[LoraSpec],
        stage_2_loras: Sequence[LoraSpec],
        device: torch.device | str | None,
        **options: Unpack[PipelineOptions],
    ) -> None:
        super().__init__(
            checkpoint_path, gemma_root, device=device, spatial_upsampler_path=spatial_upsampler_path, **options
        )
        self.stage_1 = self._stage(stage_1_loras)
        self.stage_2 = self._stage(stage_2_loras)


def job_prompts(job: Mapping[str, Any]) -> list[str]:
    """The texts a job's call encodes together that can be encoded ahead: its `prompt` and `negative_prompt` when
    they are strings, none when Gemma rewrites the prompt first (`enhance_prompt`)."""
    if job.get("enhance_prompt"):
        return []
    return [job[key] for key in ("prompt", "negative_prompt") if isinstance(job.get(key), str)]


def _job_arguments(job: Any) -> dict[str, Any]:
    """A job's keyword arguments: a dict as it is, a dataclass field by field (not deep: a `PromptContexts` value
    stays one)."""
    if is_dataclass(job) and not isinstance(job, type):
        return {f.name: getattr(job, f.name) for f in fields(job)}
    return dict(job)
