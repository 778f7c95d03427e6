"""Pipeline building blocks: each owns one model (or a pair) for exactly as long as it is needed.

A block is constructed from file paths only (nothing is read then) and builds its model(s) when called, on its
device, and frees them (moved to the meta device) before returning, so no model persists by accident. The two
exceptions are explicit: `DiffusionStage(cache=True)` / `DiffusionStage.session()` keep the transformer between
calls, and `VideoDecoder` returns a lazy iterator that frees its decoder when exhausted or closed. Pipelines never
move tensors between devices themselves: the blocks return their results on their device.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, TypeVar

import torch
from torch import nn

from ltx_core.batch_split import BatchSplitAdapter, X0Callable
from ltx_core.components.diffusion_steps import EulerDiffusionStep
from ltx_core.components.latent_tools import AudioLatentTools, LatentTools, VideoLatentTools
from ltx_core.components.noisers import ConditioningItem, GaussianNoiser, create_noised_state
from ltx_core.components.patchifiers import AudioPatchifier, VideoLatentPatchifier
from ltx_core.errors import CheckpointError, InputError
from ltx_core.loader import Checkpoint, LoraSpec, open_checkpoint, release
from ltx_core.model.transformer import X0Model
from ltx_core.types import Audio, AudioLatentShape, LatentState, VideoLatentShape, VideoPixelShape
from ltx_pipelines.utils.denoisers import Denoiser
from ltx_pipelines.utils.recording import Recorder, RecordingDenoiser
from ltx_pipelines.utils.samplers import StepCallback, euler_denoising_loop

logger = logging.getLogger(__name__)
T = TypeVar("T")
CheckpointLike = str | Path | Checkpoint


def default_device() -> torch.device:
    """The current CUDA device when there is one, else Apple MPS when present, else the CPU (the official
    `get_device` never picks MPS, so on a Mac it silently ran on the CPU)."""
    if torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def resolve_device(device: torch.device | str | None) -> torch.device:
    if device is None:
        return default_device()
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise InputError(f"device {device!r} is not a torch device; use e.g. cpu, cuda or cuda:1") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {device!r} was asked for but CUDA is not available; use cpu")
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise InputError(f"device {device!r} was asked for but Apple MPS is not available; use cpu")
    if resolved.type == "mps" and resolved.index not in (None, 0):
        raise InputError(f"device {device!r}: Apple MPS has a single device; use mps")
    return resolved


def free(*models: nn.Module | None) -> None:
    """Drop the models' storage (moved to meta) and return cached memory to the system."""
    for model in models:
        if model is not None:
            release(model)
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    elif torch.backends.mps.is_available():
        torch.mps.empty_cache()


@contextmanager
def built(factory: Callable[[], T]) -> Iterator[T]:
    """Build with `factory`, yield, free on exit (also on error)."""
    model = factory()
    try:
        yield model
    finally:
        _free_all(model)


def _free_all(models: Any) -> None:
    """Free the modules among `models` (one or a tuple); other objects with a `release()` are released."""
    items = models if isinstance(models, tuple) else (models,)
    for item in items:
        if not isinstance(item, nn.Module) and hasattr(item, "release"):
            item.release()
    free(*(m for m in items if isinstance(m, nn.Module)))


class KeptModels:
    """A block's models: built for each use and freed after (the default), or, with `keep`, built on first use and
    kept until `release()` (a pipeline reused for many prompts, when memory allows)."""

    def __init__(self) -> None:
        self.keep = False
        self._models: Any = None

    @property
    def is_built(self) -> bool:
        return self._models is not None

    @contextmanager
    def use(self, factory: Callable[[], T]) -> Iterator[T]:
        if self._models is None and not self.keep:
            with built(factory) as models:
                yield models
            return
        yield self.get(factory)

    def get(self, factory: Callable[[], T]) -> T:
        """The kept models, built now if needed (only with `keep`: the caller then never frees them)."""
        assert self.keep or self._models is not None, "get() is for kept models; use use()"
        if self._models is None:
            self._models = factory()
        return self._models  # type: ignore[no-any-return]

    def release(self) -> None:
        models, self._models = self._models, None
        if models is not None:
            _free_all(models)


# --- latent geometry ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LatentGeometry:
    """Latent channel counts of a checkpoint (never hard-coded: tiny checkpoints use other widths)."""

    video_channels: int
    audio_channels: int
    audio_mel_bins: int

    @classmethod
    def of(cls, checkpoint: CheckpointLike) -> LatentGeometry:
        from ltx_core.model.audio_vae.loading import audio_vae_config
        from ltx_core.model.transformer import transformer_config

        ckpt = open_checkpoint(checkpoint)
        transformer = transformer_config(ckpt.config, source=ckpt.path)
        audio_vae = audio_vae_config(ckpt.config, ckpt.path)
        channels = audio_vae.latent_channels
        if transformer.audio_in_channels % channels:
            raise CheckpointError(
                f"{ckpt.path}: transformer audio_in_channels {transformer.audio_in_channels} is not a multiple of the "
                f"audio VAE z_channels {channels}"
            )
        return cls(transformer.in_channels, channels, transformer.audio_in_channels // channels)


# --- diffusion stage ---------------------------------------------------------------------------------------------


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


class Loop(Protocol):
    def __call__(
        self,
        sigmas: torch.Tensor,
        video_state: LatentState | None,
        audio_state: LatentState | None,
        stepper: Any,
        transformer: X0Callable,
        denoiser: Denoiser,
        *,
        on_step: StepCallback | None = None,
    ) -> tuple[LatentState | None, LatentState | None]: ...


@dataclass(frozen=True)
class TransformerRuntime:
    """How the transformer is held while it runs (`--offload`, `--quantization`, `--compile`).

    The default (everything resident, stored weights, eager) is the plain strict load. Any other setting goes through
    `ltx_core.offload.streaming.load_transformer_for_inference`: "auto" picks none/cpu/disk from the free memory and
    logs the choice and its reason in one line; "cpu"/"disk" stream the blocks (results bitwise identical).
    """

    offload: str = "none"  # none | cpu | disk | auto
    quantization: str | None = None  # None | "fp8-cast" | "fp8-scaled-mm"
    compile: bool = False

    @property
    def is_plain(self) -> bool:
        return self.offload == "none" and self.quantization is None and not self.compile


PLAIN_RUNTIME = TransformerRuntime()


class DiffusionStage:
    """Owns the transformer: built (LoRAs fused) for a call and freed after, unless cached.

    `cache=True` keeps the built transformer until `release()`; a later call with another LoRA set restores the
    touched weights from the checkpoint and fuses the new set (no second copy of the weights is kept; with a
    non-plain `runtime` the transformer is rebuilt instead). `session()` keeps it for the duration of a `with`
    block only (what a two-stage pipeline wants). `offload_choice` is the last build's `OffloadChoice` (None for the
    plain runtime); its `vae_tiling` is the decoding hint pipelines apply when the caller gave no tiling.
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
    ) -> None:
        self.checkpoint = checkpoint
        self.loras = tuple(loras)
        self.dtype = dtype  # latent / state dtype
        self.transformer_dtype = transformer_dtype  # None: the checkpoint's stored dtype (as official)
        self.device = resolve_device(device)
        self.cache = cache
        self.runtime = runtime
        self.offload_choice: Any = None
        self._model: X0Model | None = None
        self._model_loras: tuple[LoraSpec, ...] = ()
        self._touched: list[str] = []
        self._sessions = 0

    # lifecycle

    @property
    def is_built(self) -> bool:
        return self._model is not None

    def _effective_runtime(self) -> TransformerRuntime:
        """The runtime as given, except that a pre-quantized fp8 checkpoint with no quantization asked for runs with
        fp8-scaled-mm (the only way it can run; the official CLI makes the user say so)."""
        if self.runtime.quantization is not None:
            return self.runtime
        from ltx_core.loader import open_checkpoint
        from ltx_core.quantization import Quantization, quantization_for

        if quantization_for(None, open_checkpoint(self.checkpoint)) is Quantization.NONE:
            return self.runtime
        logger.info("pre-quantized fp8 checkpoint: using quantization fp8-scaled-mm")
        self.runtime = replace(self.runtime, quantization="fp8-scaled-mm")
        return self.runtime

    def _build(self) -> X0Model:
        from ltx_core.loader import fuse_loras_into_model
        from ltx_core.model.transformer import load_transformer

        if not self._effective_runtime().is_plain:
            from ltx_core.offload.streaming import load_transformer_for_inference

            inner, self.offload_choice = load_transformer_for_inference(
                self.checkpoint,
                device=self.device,
                offload=self.runtime.offload,
                dtype=self.transformer_dtype,
                loras=self.loras,
                quantization=self.runtime.quantization,
                compile=self.runtime.compile,
                echo=logger.info,
            )
            self._touched, self._model_loras = [], self.loras
            return X0Model(inner).eval()
        if not self.cache:  # fused while loading: one pass over the weights
            model = load_transformer(
                self.checkpoint, dtype=self.transformer_dtype, device=self.device, loras=self.loras
            )
            self._touched = []
        else:  # fused after loading, remembering which weights changed so another LoRA set can replace them
            model = load_transformer(self.checkpoint, dtype=self.transformer_dtype, device=self.device)
            self._touched = fuse_loras_into_model(model, self.loras, self.transformer_dtype) if self.loras else []
        self._model_loras = self.loras
        return X0Model(model).to(self.device).eval()

    def _swap_loras(self, model: X0Model) -> None:
        from ltx_core.loader import fuse_loras_into_model, restore_weights
        from ltx_core.model.transformer import transformer_key_map

        inner = model.model  # type: ignore[attr-defined]
        if self._touched:
            restore_weights(inner, self.checkpoint, transformer_key_map(inner.config), self._touched)
        self._touched = fuse_loras_into_model(inner, self.loras, self.transformer_dtype) if self.loras else []
        self._model_loras = self.loras

    def transformer(self) -> X0Model:
        """The built transformer (building it now if needed); it stays until `release()` or the session's end."""
        if self._model is not None and self._model_loras != self.loras:
            if self.cache and self.runtime.is_plain:
                self._swap_loras(self._model)
            else:
                self.release()
        if self._model is None:
            self._model = self._build()
        return self._model

    def release(self) -> None:
        if self._model is not None:
            model, self._model = self._model, None
            if self.runtime.is_plain:
                free(model)  # type: ignore[arg-type]
            else:
                from ltx_core.offload.streaming import release_transformer

                release_transformer(model.model)  # type: ignore[arg-type]
                free()

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

    def __call__(
        self,
        denoiser: Denoiser,
        sigmas: torch.Tensor,
        noiser: GaussianNoiser,
        *,
        width: int,
        height: int,
        frames: int,
        fps: float,
        video: ModalitySpec | None = None,
        audio: ModalitySpec | None = None,
        stepper: Any = None,
        loop: Loop | None = None,
        max_batch_size: int = 1,
        on_step: StepCallback | None = None,
        record: Recorder | None = None,
    ) -> StageResult:
        if video is None and audio is None:
            raise InputError("a diffusion stage needs at least one of video and audio")
        with self.model_context() as transformer:
            return self.run(
                transformer,
                denoiser,
                sigmas,
                noiser,
                width=width,
                height=height,
                frames=frames,
                fps=fps,
                video=video,
                audio=audio,
                stepper=stepper,
                loop=loop,
                max_batch_size=max_batch_size,
                on_step=on_step,
                record=record,
            )

    def run(
        self,
        transformer: X0Callable,
        denoiser: Denoiser,
        sigmas: torch.Tensor,
        noiser: GaussianNoiser,
        *,
        width: int,
        height: int,
        frames: int,
        fps: float,
        video: ModalitySpec | None = None,
        audio: ModalitySpec | None = None,
        stepper: Any = None,
        loop: Loop | None = None,
        max_batch_size: int = 1,
        on_step: StepCallback | None = None,
        record: Recorder | None = None,
    ) -> StageResult:
        """Noise the states (video first, then audio: the draw order of the shared generator), run the loop.

        With `record`, every intermediate is recorded: the noised states, each denoiser call's predictions
        (`calls_*`), the final tokens and latents, and the video attention mask when there is one."""
        if video is None and audio is None:
            raise InputError("a diffusion stage needs at least one of video and audio")
        geometry = LatentGeometry.of(self.checkpoint)
        pixel = VideoPixelShape(1, frames, height, width, fps)
        video_tools = VideoLatentTools(
            VideoLatentPatchifier(1), VideoLatentShape.from_pixel_shape(pixel, channels=geometry.video_channels), fps
        )
        audio_tools = AudioLatentTools(
            AudioPatchifier(1),
            AudioLatentShape.from_video_pixel_shape(
                pixel, channels=geometry.audio_channels, mel_bins=geometry.audio_mel_bins
            ),
        )
        video_state = self._noised(video_tools, video, noiser, "video", record)
        audio_state = self._noised(audio_tools, audio, noiser, "audio", record)
        sigmas = sigmas.to(dtype=torch.float32, device=self.device)
        if record is not None:
            record("sigmas", sigmas)
        model = BatchSplitAdapter(transformer, max_batch_size)
        recorder = RecordingDenoiser(denoiser) if record is not None else None
        active = recorder or denoiser
        if loop is None:
            video_state, audio_state = euler_denoising_loop(
                sigmas, video_state, audio_state, stepper or EulerDiffusionStep(), model, active, on_step=on_step
            )
        else:
            video_state, audio_state = loop(sigmas, video_state, audio_state, stepper, model, active, on_step=on_step)
        if recorder is not None:
            recorder.flush(record)
        video_latent = _final_latent(video_tools, video_state, "video", record)
        audio_latent = _final_latent(audio_tools, audio_state, "audio", record)
        if record is not None and video_state is not None and video_state.attention_mask is not None:
            record("video_attention_mask", video_state.attention_mask)
        return StageResult(video_latent, audio_latent, video_state, audio_state)

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
        return state


def hinted_tiling(tiling_config: Any, pipeline: object) -> Any:
    """The caller's tiling config; without one, `TilingConfig.default()` when the offload choice of one of the
    pipeline's diffusion stages hinted VAE tiling (little free memory), else None (untiled, as official)."""
    if tiling_config is not None:
        return tiling_config
    stages = [v for v in vars(pipeline).values() if isinstance(v, DiffusionStage)]
    if any(s.offload_choice is not None and s.offload_choice.vae_tiling for s in stages):
        from ltx_core.model.video_vae import TilingConfig

        return TilingConfig.default()
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


# --- text -------------------------------------------------------------------------------------------------------


class PromptEncoder:
    """Prompts → per-prompt contexts. Gemma is built for the call and freed before the text path is built (with
    `models.keep`, both stay built across calls).

    Items that are already `PromptContexts` (precomputed: encode once, generate many) are only moved to the
    block's device and dtype, and no model is built when every item is precomputed.
    """

    def __init__(
        self,
        checkpoint: CheckpointLike,
        gemma_root: str | Path | None,
        *,
        dtype: torch.dtype = torch.bfloat16,
        device: torch.device | str | None = None,
        text_encoder_device: torch.device | str | None = None,
        offload: str | None = "none",
    ) -> None:
        self.checkpoint = checkpoint
        self.gemma_root = gemma_root
        self.dtype = dtype
        self.device = resolve_device(device)
        self.text_encoder_device = text_encoder_device
        self.offload = offload  # Gemma's decoder layers may stream from RAM (none / cpu / disk / auto)
        self.models = KeptModels()  # with keep: a ResidentPromptEncoder (Gemma and the text path stay built)

    def __call__(
        self,
        prompts: Sequence[Any],
        *,
        enhance_first_prompt: bool = False,
        enhance_prompt_image: str | Path | None = None,
        enhance_prompt_seed: int = 42,
    ) -> list[Any]:
        from ltx_core.text_encoders.gemma import Enhancement, PromptContexts, encode_prompts

        texts = [(i, p) for i, p in enumerate(prompts) if not isinstance(p, PromptContexts)]
        out: list[Any] = [self._placed(p) if isinstance(p, PromptContexts) else None for p in prompts]
        if texts:
            if self.gemma_root is None:
                raise InputError("a text prompt needs a Gemma root folder (--gemma-root); or pass precomputed contexts")
            strings = [str(p) for _, p in texts]
            enhancement = Enhancement(enhance_first_prompt and texts[0][0] == 0, enhance_prompt_image,
                                      enhance_prompt_seed)  # fmt: skip
            if self.models.keep or self.models.is_built:
                encoded = self.models.get(self._resident).encode(strings, enhancement)
            else:
                encoded = encode_prompts(
                    strings,
                    self.gemma_root,
                    self.checkpoint,
                    device=self.device,
                    dtype=self.dtype,
                    text_encoder_device=self.text_encoder_device,
                    offload=self.offload,
                    enhance_prompt=enhancement.enabled,
                    enhance_image=enhancement.image,
                    enhance_seed=enhancement.seed,
                )
            for (i, _), contexts in zip(texts, encoded, strict=True):
                out[i] = contexts
        return out

    def _resident(self) -> Any:
        from ltx_core.text_encoders.gemma import ResidentPromptEncoder

        assert self.gemma_root is not None
        return ResidentPromptEncoder(
            self.gemma_root, self.checkpoint, device=self.device, dtype=self.dtype,
            text_encoder_device=self.text_encoder_device, offload=self.offload,
        )  # fmt: skip

    def _placed(self, contexts: Any) -> Any:
        from ltx_core.text_encoders.gemma import PromptContexts

        return PromptContexts(
            contexts.video_context.to(device=self.device, dtype=self.dtype),
            contexts.audio_context.to(device=self.device, dtype=self.dtype),
            contexts.mask.to(self.device),
            contexts.prompt,
        )


# --- encoders (conditioning) -------------------------------------------------------------------------------------


# (pixels (B, 3, F, H, W) in [-1, 1], tiling config or None) → normalised latent
VideoEncodeFn = Callable[..., torch.Tensor]
AudioEncodeFn = Callable[[torch.Tensor, int], torch.Tensor]  # (waveform, sample rate) → normalised latent


class ImageConditioner:
    """Builds the video VAE encoder for one callback (`fn(encode)`), then frees it; `encode(pixels, tiling=None)`
    tiles when given a tiling config (long reference and source videos)."""

    def __init__(
        self,
        checkpoint: CheckpointLike,
        *,
        dtype: torch.dtype = torch.bfloat16,
        device: torch.device | str | None = None,
    ) -> None:
        self.checkpoint = checkpoint
        self.dtype = dtype
        self.device = resolve_device(device)
        self.models = KeptModels()

    def __call__(self, fn: Callable[[VideoEncodeFn], T]) -> T:
        from ltx_core.model.video_vae import encode_video, load_video_encoder

        build = lambda: load_video_encoder(self.checkpoint, dtype=self.dtype, device=self.device)  # noqa: E731
        with self.models.use(build) as encoder:
            return fn(lambda pixels, tiling=None: encode_video(encoder, pixels, tiling))


class AudioConditioner:
    """Builds the audio VAE encoder for one callback (`fn(encode)`), then frees it."""

    def __init__(
        self,
        checkpoint: CheckpointLike,
        *,
        dtype: torch.dtype = torch.bfloat16,
        device: torch.device | str | None = None,
    ) -> None:
        self.checkpoint = checkpoint
        self.dtype = dtype
        self.device = resolve_device(device)
        self.models = KeptModels()

    def __call__(self, fn: Callable[[AudioEncodeFn], T]) -> T:
        from ltx_core.model.audio_vae import encode_audio, load_audio_encoder

        build = lambda: load_audio_encoder(self.checkpoint, dtype=self.dtype, device=self.device)  # noqa: E731
        with self.models.use(build) as encoder:
            return fn(lambda waveform, rate: encode_audio(encoder, waveform, rate))


# --- upsampling and decoding -------------------------------------------------------------------------------------


class VideoUpsampler:
    """x2 latent upsampling: the VAE's per-channel statistics and the upsampler, built together, freed together."""

    def __init__(
        self,
        checkpoint: CheckpointLike,
        upsampler_path: CheckpointLike,
        *,
        dtype: torch.dtype = torch.bfloat16,
        device: torch.device | str | None = None,
    ) -> None:
        self.checkpoint = checkpoint
        self.upsampler_path = upsampler_path
        self.dtype = dtype
        self.device = resolve_device(device)
        self.models = KeptModels()

    def __call__(self, latent: torch.Tensor) -> torch.Tensor:
        from ltx_core.model.upsampler import load_upsampler, upsample_video
        from ltx_core.model.video_vae import load_per_channel_statistics

        def build() -> tuple[nn.Module, nn.Module]:
            stats = load_per_channel_statistics(self.checkpoint, dtype=self.dtype, device=self.device)
            return stats, load_upsampler(self.upsampler_path, dtype=self.dtype, device=self.device)

        with self.models.use(build) as (stats, upsampler):
            return upsample_video(latent, upsampler, stats)  # type: ignore[arg-type]


class FrameChunks(Iterator[torch.Tensor]):
    """Decoded frames, chunk by chunk (`[f, h, w, 3]` in [0, 1]); frees the decoder when exhausted or closed (unless
    the decoder block keeps it).

    Nothing is decoded until the first `next()`. `num_frames`, `height` and `width` describe the whole video.
    """

    def __init__(
        self,
        decoder: nn.Module,
        chunks: Iterator[torch.Tensor],
        num_frames: int,
        height: int,
        width: int,
        owns_decoder: bool = True,
    ) -> None:
        self._decoder: nn.Module | None = decoder
        self._owns_decoder = owns_decoder  # False: a kept decoder, not freed here
        self._chunks = chunks
        self.num_frames, self.height, self.width = num_frames, height, width

    def __next__(self) -> torch.Tensor:
        if self._decoder is None:
            raise StopIteration
        try:
            return next(self._chunks)
        except BaseException:
            self.close()
            raise

    @property
    def is_open(self) -> bool:
        """False once exhausted or closed (the decoder is freed then)."""
        return self._decoder is not None

    def close(self) -> None:
        """Stop decoding and free the decoder (idempotent)."""
        if self._decoder is not None:
            decoder, self._decoder = self._decoder, None
            close = getattr(self._chunks, "close", None)
            if close is not None:
                close()
            if self._owns_decoder:
                free(decoder)

    def __enter__(self) -> FrameChunks:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class VideoDecoder:
    """Latent → an iterator of frame chunks; the decoder is built now and freed when the iterator ends."""

    def __init__(
        self,
        checkpoint: CheckpointLike,
        *,
        dtype: torch.dtype = torch.bfloat16,
        device: torch.device | str | None = None,
        memory_efficient: bool = True,
    ) -> None:
        self.checkpoint = checkpoint
        self.dtype = dtype
        self.device = resolve_device(device)
        self.memory_efficient = memory_efficient
        self.models = KeptModels()

    def __call__(
        self, latent: torch.Tensor, tiling_config: Any = None, generator: torch.Generator | None = None
    ) -> FrameChunks:
        from ltx_core.model.video_vae import decode_video, load_video_decoder

        def build() -> nn.Module:
            return load_video_decoder(
                self.checkpoint, dtype=self.dtype, device=self.device, memory_efficient=self.memory_efficient
            )

        kept = self.models.keep or self.models.is_built
        decoder = self.models.get(build) if kept else build()
        shape = VideoLatentShape.from_torch_shape(tuple(latent.shape)).upscale()
        chunks = decode_video(decoder, latent, tiling_config, generator)
        return FrameChunks(decoder, chunks, shape.frames, shape.height, shape.width, owns_decoder=not kept)


class AudioDecoder:
    """Audio latent → waveform: the audio VAE decoder and the vocoder, built together, freed together."""

    def __init__(
        self,
        checkpoint: CheckpointLike,
        *,
        dtype: torch.dtype = torch.bfloat16,
        device: torch.device | str | None = None,
    ) -> None:
        self.checkpoint = checkpoint
        self.dtype = dtype
        self.device = resolve_device(device)
        self.models = KeptModels()

    def __call__(self, latent: torch.Tensor) -> Audio:
        from ltx_core.model.audio_vae import decode_audio, load_audio_decoder, load_vocoder

        def build() -> tuple[nn.Module, nn.Module]:
            decoder = load_audio_decoder(self.checkpoint, dtype=self.dtype, device=self.device)
            return decoder, load_vocoder(self.checkpoint, dtype=self.dtype, device=self.device)

        with self.models.use(build) as (decoder, vocoder):
            waveform, rate = decode_audio(decoder, vocoder, latent)  # type: ignore[arg-type]
        return Audio(waveform=waveform, sampling_rate=rate)
