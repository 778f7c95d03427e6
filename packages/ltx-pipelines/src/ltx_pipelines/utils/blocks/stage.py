"""The diffusion stage: the transformer's lifetime and runtime, the noised states a stage starts from, and the loop
that denoises them."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import torch

from ltx_core.batch_split import BatchSplitAdapter, X0Callable
from ltx_core.components.latent_tools import AudioLatentTools, LatentTools, VideoLatentTools
from ltx_core.components.noisers import ConditioningItem, GaussianNoiser, create_noised_state
from ltx_core.components.patchifiers import AudioPatchifier, VideoLatentPatchifier
from ltx_core.conditioning.generated_keyframes import extract_generated_keyframes
from ltx_core.errors import CheckpointError, InputError
from ltx_core.loader import LoraSpec, open_checkpoint
from ltx_core.loader.sources import ModelSource
from ltx_core.model.transformer import ModelType, X0Model, transformer_config
from ltx_core.numerics import DEFAULT_NUMERICS, Numerics
from ltx_core.parallel.layout import SINGLE_PROCESS, ParallelLayout
from ltx_core.parallel.sequence import SequenceParallelTransformer
from ltx_core.transformer_providers import PLAIN_RUNTIME, TransformerProvider, TransformerRuntime, provider_for
from ltx_core.types import AudioLatentShape, LatentState, VideoLatentShape, VideoPixelShape
from ltx_pipelines.utils.blocks.lifetime import CheckpointLike, resolve_device
from ltx_pipelines.utils.denoisers import Denoiser, Schedule
from ltx_pipelines.utils.recording import CallRecorder, Recorder
from ltx_pipelines.utils.samplers import Loop, LoopState, StepCallback, callbacks, euler_loop, progress_callback

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LatentGeometry:
    """Latent channel counts of a checkpoint (never hard-coded: tiny checkpoints use other widths)."""

    video_channels: int
    audio_channels: int
    audio_mel_bins: int

    @classmethod
    def of(
        cls, checkpoint: CheckpointLike, model_type: ModelType = ModelType.AUDIO_VIDEO, audio_vae_file: Any = None
    ) -> LatentGeometry:
        """The widths of `checkpoint`, its transformer config read as a `model_type` model's (an audio-only file's
        config need not hold the audio-video model's keys); the audio VAE's from the same file when it has one, else
        from `audio_vae_file` (split files: the transformer file holds only its own section)."""
        from ltx_core.model.audio_vae.loading import audio_vae_config

        ckpt = open_checkpoint(checkpoint)
        transformer = transformer_config(ckpt.config, model_type, source=ckpt.path)
        if "audio_vae" in ckpt.config or audio_vae_file is None:
            audio_vae = audio_vae_config(ckpt.config, ckpt.path)
        else:
            audio_config = audio_vae_file.config if isinstance(audio_vae_file, ModelSource) else None
            audio_ckpt = None if audio_config is not None else open_checkpoint(audio_vae_file)
            audio_vae = audio_vae_config(
                audio_config if audio_ckpt is None else audio_ckpt.config,
                audio_vae_file if audio_ckpt is None else audio_ckpt.path,
            )
        channels = audio_vae.latent_channels
        if transformer.audio_in_channels % channels:
            raise CheckpointError(
                f"{ckpt.path}: transformer audio_in_channels {transformer.audio_in_channels} is not a multiple of the "
                f"audio VAE z_channels {channels}"
            )
        return cls(transformer.in_channels, channels, transformer.audio_in_channels // channels)


@dataclass(frozen=True)
class ModalitySpec:
    """What one modality of a stage starts from. `context` is carried for the caller; the denoiser holds contexts."""

    context: torch.Tensor | None = None
    conditionings: Sequence[ConditioningItem] = ()
    noise_scale: float = 1.0
    frozen: bool = False
    initial_latent: torch.Tensor | None = None


@dataclass(frozen=True)
class StageResult:
    """Unpatchified latents (conditioning tokens dropped) and the final patchified states (with them)."""

    video_latent: torch.Tensor | None
    audio_latent: torch.Tensor | None
    video_state: LatentState | None = None
    audio_state: LatentState | None = None
    generated_keyframes: torch.Tensor | None = None  # (B, C, K, H, W): the keyframe slots' latents, when the stage had


class DiffusionStage:
    """Owns the transformer: built (LoRAs fused) for a call and freed after, unless cached.

    How it is held comes from one `TransformerProvider` (`ltx_core.transformer_providers`: resident, streamed or
    sharded), chosen at the first build from the runtime options and the offload policy, and kept. `cache=True`
    keeps the built transformer until `release()`; a later call with another LoRA set gets it from the provider
    (changed in place when resident and plain: no second copy of the weights; rebuilt otherwise). `session()` keeps
    it for the duration of a `with` block only (what a two-stage pipeline wants). `offload_choice` is the offload
    policy's decision (None for the plain runtime); its `vae_tiling` is the decoding hint pipelines apply when the
    caller gave no tiling.

    `model_type` says which streams the transformer is built with (`ModelType.AUDIO_ONLY`: only the audio stream's
    weights are read, from an audio-only file or a full one; text to audio).

    Under several processes (`parallel`, see `ltx_core.parallel`) every rank builds the stage: the blocks' weights
    sharded over the rank's sequence group (`sharded_weights`), the video tokens split over it (sequence degree > 1:
    the sequence-parallel wrapper goes around whatever the provider built) and the guidance passes spread over the
    guidance groups (guidance degree > 1).
    """

    def __init__(
        self,
        checkpoint: CheckpointLike,
        *,
        loras: Sequence[LoraSpec] = (),
        dtype: torch.dtype = torch.bfloat16,
        device: torch.device | str | None = None,
        cache: bool = False,
        transformer_dtype: torch.dtype | None = None,
        runtime: TransformerRuntime = PLAIN_RUNTIME,
        parallel: ParallelLayout = SINGLE_PROCESS,
        numerics: Numerics = DEFAULT_NUMERICS,
        model_type: ModelType = ModelType.AUDIO_VIDEO,
        audio_vae: Any = None,
    ) -> None:
        self.checkpoint = checkpoint
        self.audio_vae = audio_vae  # the audio VAE's file, for the audio latent shape when split from the transformer
        self.numerics = numerics  # the release whose arithmetic the model, the noising and the guiders follow
        self.model_type = model_type  # the streams the transformer has (audio only: text to audio)
        self.loras = tuple(loras)
        self.dtype = dtype  # latent / state dtype
        self.transformer_dtype = transformer_dtype  # None: the checkpoint's stored dtype (as official)
        self.device = resolve_device(device)
        self.cache = cache
        self.runtime = runtime
        self.parallel = parallel
        self._provider: TransformerProvider | None = None
        self._model: X0Model | None = None
        self._inner: Any = None  # what the provider built (inside X0Model and the sequence-parallel wrapper)
        self._model_loras: tuple[LoraSpec, ...] = ()
        self._sessions = 0

    # lifecycle

    @property
    def is_built(self) -> bool:
        return self._model is not None

    @property
    def offload_choice(self) -> Any:
        return None if self._provider is None else self._provider.offload_choice

    @property
    def provider(self) -> TransformerProvider:
        """The stage's provider, chosen at the first use (under several processes every process decides from the
        most constrained process's free memory, so they all decide alike) and kept."""
        if self._provider is None:
            self._provider = provider_for(
                self.checkpoint,
                self.runtime,
                device=self.device,
                dtype=self.transformer_dtype,
                sharded=self.parallel.sharded_weights,
                group=self.parallel.sequence_group,
                memory=self._agreed_memory(),
                echo=logger.info if self.parallel.is_main else None,
                numerics=self.numerics,
                model_type=self.model_type,
            )
        return self._provider

    def _agreed_memory(self) -> Any:
        """Under several processes, the free memory the offload policy decides from: the least of every process's
        (`ParallelLayout.most_constrained`). None in one process or for the plain runtime: nothing to decide."""
        if not self.parallel.is_parallel or self.runtime.is_plain:
            return None
        from ltx_core.offload import policy

        return self.parallel.most_constrained(policy.probe_memory(self.device), self.device)

    def _wrapped(self, inner: Any) -> X0Model:
        """The provider's transformer as the stage runs it: split over the sequence group when there is one."""
        self.parallel.wait_for_all()  # each process loads at its own pace: that is no exchange timing out
        if self.parallel.sequence_degree > 1:
            inner = SequenceParallelTransformer(inner, self.parallel.sequence_group)
        return X0Model(inner).eval()

    def transformer(self) -> X0Model:
        """The built transformer (building it now if needed); it stays until `release()` or the session's end."""
        if self._model is not None and self._model_loras != self.loras:
            inner = self.provider.swap_loras(self._inner, self.loras)
            if inner is not self._inner:  # rebuilt: wrap the new one
                self._unwrap()
                self._inner, self._model = inner, self._wrapped(inner)
            self._model_loras = self.loras
        if self._model is None:
            self._inner = self.provider.build(self.loras, reusable=self.cache)
            self._model_loras = self.loras
            self._model = self._wrapped(self._inner)
        return self._model

    def _unwrap(self) -> None:
        """Drop the wrappers around the provider's model (the sequence-parallel one unregisters its kernels)."""
        model, self._model = self._model, None
        if model is not None and model.model is not self._inner:
            model.model.release()  # type: ignore[operator]

    def release(self) -> None:
        if self._model is None:
            return
        self._unwrap()
        inner, self._inner = self._inner, None
        self.provider.release(inner)

    @contextmanager
    def session(self) -> Iterator[DiffusionStage]:
        """Keep the transformer built across the calls inside the block; freed at the end unless `cache`."""
        self._sessions += 1
        try:
            yield self
        finally:
            self._sessions -= 1
            if self._sessions == 0 and not self.cache:
                self.release()

    @contextmanager
    def model_context(self) -> Iterator[X0Model]:
        """The transformer for the duration of the block (freed after unless cached or inside a session)."""
        model = self.transformer()
        try:
            yield model
        finally:
            if not self.cache and self._sessions == 0:
                self.release()

    # running

    def __call__(self, denoiser: Denoiser, sigmas: torch.Tensor, noiser: GaussianNoiser, **options: Any) -> StageResult:
        """`run` (same keyword options) with this stage's transformer, built for the call unless kept."""
        if options.get("video") is None and options.get("audio") is None:
            raise InputError("a diffusion stage needs at least one of video and audio")
        with self.model_context() as transformer:
            return self.run(transformer, denoiser, sigmas, noiser, **options)

    def run(
        self,
        transformer: X0Callable,
        denoiser: Denoiser,
        sigmas: torch.Tensor,
        noiser: GaussianNoiser,
        *,
        height: int,
        width: int,
        num_frames: int,
        frame_rate: float,
        video: ModalitySpec | None = None,
        audio: ModalitySpec | None = None,
        loop: Loop = euler_loop,
        max_batch_size: int = 1,
        on_step: StepCallback | None = None,
        record: Recorder | None = None,
    ) -> StageResult:
        """Noise the states (video first, then audio: the draw order of the shared generator), run the loop.

        With `record`, every intermediate is recorded: the noised states, each denoiser call's predictions
        (`calls_*`), the final tokens and latents, and the video attention mask when there is one."""
        if video is None and audio is None:
            raise InputError("a diffusion stage needs at least one of video and audio")
        geometry = LatentGeometry.of(self.checkpoint, self.model_type, self.audio_vae)
        pixel = VideoPixelShape(1, num_frames, height, width, frame_rate)
        video_tools = VideoLatentTools(
            VideoLatentPatchifier(1),
            VideoLatentShape.from_pixel_shape(pixel, channels=geometry.video_channels),
            frame_rate,
        )
        audio_tools = AudioLatentTools(
            AudioPatchifier(1),
            AudioLatentShape.from_video_pixel_shape(
                pixel, channels=geometry.audio_channels, mel_bins=geometry.audio_mel_bins
            ),
        )
        if noiser.numerics != self.numerics:
            noiser = replace(noiser, numerics=self.numerics)
        video_state = self._noised(video_tools, video, noiser, "video", record)
        audio_state = self._noised(audio_tools, audio, noiser, "audio", record)
        schedule = Schedule.of(sigmas, self.device)
        if record is not None:
            record("sigmas", schedule.sigmas)
        denoise = partial(denoiser, self._batched(transformer, max_batch_size), numerics=self.numerics)
        recorder = CallRecorder() if record is not None else None
        callback = callbacks(recorder, progress_callback(on_step))
        state = LoopState(video_state, audio_state)
        video_state, audio_state = loop(denoise, state, schedule, callback=callback)
        if recorder is not None:
            recorder.flush(record)
        slots = None if video_state is None else extract_generated_keyframes(video_state, video_tools)
        video_latent = _final_latent(video_tools, video_state, "video", record)
        audio_latent = _final_latent(audio_tools, audio_state, "audio", record)
        if record is not None and video_state is not None and video_state.attention_mask is not None:
            record("video_attention_mask", video_state.attention_mask)
        if record is not None and slots is not None:
            record("video_generated_keyframes", slots)
        return StageResult(video_latent, audio_latent, video_state, audio_state, slots)

    def _batched(self, transformer: X0Callable, max_batch_size: int) -> X0Callable:
        """The guidance passes cut into batches of at most `max_batch_size` rows, spread over the guidance groups
        when there are several (bitwise the same rows either way)."""
        layout = self.parallel
        if layout.guidance_degree == 1:
            return BatchSplitAdapter(transformer, max_batch_size)
        from ltx_core.parallel.guidance import GuidanceParallelAdapter

        return GuidanceParallelAdapter(
            transformer,
            max_batch_size,
            index=layout.guidance_index,
            count=layout.guidance_degree,
            group=layout.guidance_group,
        )

    def _noised(
        self,
        tools: LatentTools,
        spec: ModalitySpec | None,
        noiser: GaussianNoiser,
        name: str,
        record: Recorder | None,
    ) -> LatentState | None:
        if spec is None:
            return None
        generator_state = noiser.generator.get_state() if record is not None else None
        state = create_noised_state(
            tools,
            noiser,
            conditionings=list(spec.conditionings),
            noise_scale=spec.noise_scale,
            initial_latent=spec.initial_latent,
            frozen=spec.frozen,
            device=self.device,
            dtype=self.dtype,
        )
        if record is not None:
            # Re-draw the same noise from a copy of the generator's state: the stream itself is not touched.
            replay = torch.Generator(device=noiser.generator.device)
            replay.set_state(generator_state)  # type: ignore[arg-type]
            noise = torch.randn(
                *state.latent.shape, device=state.latent.device, dtype=state.latent.dtype, generator=replay
            )
            record(f"{name}_noise", noise)
            record(f"{name}_positions", state.positions)
            record(f"{name}_denoise_mask", state.denoise_mask)
            record(f"{name}_clean_latent", state.clean_latent)
            record(f"{name}_noised_tokens", state.latent)
            if state.keyframes_mask is not None:
                record(f"{name}_keyframes_mask", state.keyframes_mask)
        return state


def hinted_tiling(tiling_config: Any, pipeline: object) -> Any:
    """The caller's tiling config; without one, the automatic plan (`AUTO_TILING`: the conv decoder's size-based
    plan, the diffusion decoder's from the free memory) when the offload choice of one of the pipeline's diffusion
    stages hinted VAE tiling (little free memory), else None (untiled)."""
    if tiling_config is not None:
        return tiling_config
    stages = [v for v in vars(pipeline).values() if isinstance(v, DiffusionStage)]
    if any(s.offload_choice is not None and s.offload_choice.vae_tiling for s in stages):
        from ltx_core.model.video_vae import AUTO_TILING

        return AUTO_TILING
    return None


def _final_latent(
    tools: LatentTools, state: LatentState | None, name: str, record: Recorder | None
) -> torch.Tensor | None:
    if state is None:
        return None
    latent = tools.unpatchify(tools.clear_conditioning(state)).latent
    if record is not None:
        record(f"{name}_final_tokens", state.latent)
        record(f"{name}_latent", latent)
    return latent
