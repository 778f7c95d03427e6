"""What the guided pipelines share (one-stage, two-stage, HQ, keyframe interpolation; spec 13.1-13.3, 13.5).

The pipelines differ only in their recipe; the pieces here are the ones that would otherwise be copied: input
checks, schedules, guider construction from the negative prompt, image conditionings (replace-or-append vs all
appended), the unguided stage-2 refinement, per-call recording for parity tests, the distilled-checkpoint warning and
the command-line runner.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ltx_core.components.diffusion_steps import Res2sDiffusionStep
from ltx_core.components.guiders import (
    MultiModalGuider,
    MultiModalGuiderFactory,
    MultiModalGuiderParams,
    create_multimodal_guider_factory,
)
from ltx_core.components.noisers import GaussianNoiser
from ltx_core.components.schedulers import LTX2Scheduler, validate_sigmas
from ltx_core.errors import InputError
from ltx_core.loader import LoraSpec
from ltx_core.types import Audio, LatentState, VideoLatentShape, VideoPixelShape
from ltx_pipelines.utils.blocks import (
    AudioDecoder,
    DiffusionStage,
    FrameChunks,
    ImageConditioner,
    ModalitySpec,
    PromptEncoder,
    Recorder,
    StageResult,
    VideoDecoder,
    VideoEncodeFn,
    VideoUpsampler,
    resolve_device,
)
from ltx_pipelines.utils.denoisers import PASS_ORDER, DenoiserOutput, SimpleDenoiser
from ltx_pipelines.utils.helpers import ImageConditioningInput, combined_image_conditionings
from ltx_pipelines.utils.res2s import get_new_noise, res2s_audio_video_denoising_loop

logger = logging.getLogger(__name__)

GuiderInput = MultiModalGuiderParams | MultiModalGuiderFactory
Progress = Callable[[str, int, int], None]  # (phase, done, total): "prompt", "stage 1", "upsample", ...
ConditioningsFn = Callable[..., list]  # a helpers.*_image_conditionings function

ONE_STAGE_DIVISOR = 32  # the VAE's spatial compression
TWO_STAGE_DIVISOR = 64  # stage 1 runs at half size and its x2-upsampled latent must equal the full-size one


# --- inputs ------------------------------------------------------------------------------------------------------


def check_video_size(height: int, width: int, num_frames: int, frame_rate: float, divisor: int) -> None:
    """Height/width positive multiples of `divisor`, 8k+1 frames, positive fps; `InputError` with valid values."""
    for name, value in (("height", height), ("width", width)):
        if value < divisor or value % divisor:
            low = max(divisor, value // divisor * divisor)
            near = sorted({low, low + divisor} if value > low else {low})
            raise InputError(f"{name} {value} must be a positive multiple of {divisor}; nearest valid: "
                             f"{' or '.join(map(str, near))}")  # fmt: skip
    if num_frames < 1 or (num_frames - 1) % 8:
        low = max(1, (num_frames - 1) // 8 * 8 + 1)
        raise InputError(f"num_frames {num_frames} must be 8k+1; nearest valid: {low} or {low + 8}")
    if not frame_rate > 0:
        raise InputError(f"frame_rate {frame_rate} must be > 0")


def check_images(images: Sequence[ImageConditioningInput], num_frames: int) -> None:
    """Every image targets a pixel frame of the clip with a strength in [0, 1]."""
    for image in images:
        name = "an array" if isinstance(image.path, np.ndarray) else str(image.path)
        if not 0 <= image.frame_idx < num_frames:
            raise InputError(f"image {name}: frame index {image.frame_idx} is outside the video; valid: 0 to "
                             f"{num_frames - 1} (pixel frames of a {num_frames}-frame clip)")  # fmt: skip
        if not 0.0 <= image.strength <= 1.0:
            raise InputError(f"image {name}: strength {image.strength} is outside [0, 1]")


def require_distilled_lora(distilled_lora: Sequence[LoraSpec] | LoraSpec | None) -> tuple[LoraSpec, ...]:
    """The two-stage pipelines refine with the distilled LoRA; without it stage 2's 3 steps give noise."""
    if isinstance(distilled_lora, LoraSpec):
        distilled_lora = (distilled_lora,)
    loras = tuple(distilled_lora or ())
    if not loras:
        raise InputError("the distilled LoRA is required for stage 2: pass --distilled-lora PATH [STRENGTH] "
                         "(Python: distilled_lora=[LoraSpec(path, strength)])")  # fmt: skip
    return loras


# --- distilled checkpoint warning --------------------------------------------------------------------------------

_warned: set[str] = set()


def looks_distilled(checkpoint: str | Path) -> bool:
    """True when the file name, or a metadata entry other than the model `config`, says "distill".

    The released distilled files are named `*-distilled*.safetensors`; the metadata check catches renamed copies whose
    header says so. Unreadable files give False (loading reports them properly later).
    """
    path = Path(checkpoint)
    if "distill" in path.name.lower():
        return True
    try:
        from ltx_core.loader import SafetensorsFile

        metadata = SafetensorsFile(path).metadata
    except Exception:  # only a hint; the loader reports bad files with a proper error
        return False
    return any("distill" in str(v).lower() for k, v in metadata.items() if k != "config")


def warn_if_distilled(checkpoint: str | Path, pipeline: str) -> bool:
    """Warn once per checkpoint and process when a distilled model is run through a CFG pipeline."""
    key = str(Path(checkpoint).expanduser().resolve())
    if key in _warned or not looks_distilled(checkpoint):
        return False
    _warned.add(key)
    logger.warning(
        "%s looks like a DISTILLED checkpoint, but %s runs CFG/STG guidance over many steps, which makes a distilled "
        "model's output grainy and over-saturated. Use the full (dev) checkpoint here, or run this file with "
        "python -m ltx_pipelines.distilled.",
        Path(checkpoint).name,
        pipeline,
    )
    return True


# --- schedules and guiders ---------------------------------------------------------------------------------------


def given_sigmas(sigmas: torch.Tensor | Sequence[float] | None, what: str) -> torch.Tensor | None:
    """A user schedule, checked (≥ 2 values in [0, 1], strictly decreasing, ending at 0), or None."""
    return None if sigmas is None else validate_sigmas(sigmas, what=what)


def scheduler_sigmas(steps: int, latent_shape: VideoLatentShape | None = None) -> torch.Tensor:
    """`LTX2Scheduler` with `steps`; the shift depends on the latent's token count only when a shape is given (HQ)."""
    latent = None if latent_shape is None else torch.empty(latent_shape.to_torch_shape(), device="meta")
    return LTX2Scheduler().execute(steps=steps, latent=latent)


def stage_latent_shape(height: int, width: int, num_frames: int, frame_rate: float, channels: int) -> VideoLatentShape:
    pixel = VideoPixelShape(1, num_frames, height, width, frame_rate)
    return VideoLatentShape.from_pixel_shape(pixel, channels=channels)


def guider_factories(
    video: GuiderInput, audio: GuiderInput, negative: Any
) -> tuple[MultiModalGuiderFactory, MultiModalGuiderFactory]:
    """Sigma-dependent guider factories carrying the negative prompt's contexts (one-stage, two-stage, keyframe)."""
    return (
        create_multimodal_guider_factory(video, negative.video_context),
        create_multimodal_guider_factory(audio, negative.audio_context),
    )


def static_guiders(video: GuiderInput, audio: GuiderInput, negative: Any) -> tuple[MultiModalGuider, MultiModalGuider]:
    """Fixed guiders (HQ): plain params only."""
    for name, params in (("video_guider_params", video), ("audio_guider_params", audio)):
        if not isinstance(params, MultiModalGuiderParams):
            raise InputError(f"{name} must be MultiModalGuiderParams for the HQ pipeline (sigma-dependent factories "
                             f"are not supported there), got {type(params).__name__}")  # fmt: skip
    return MultiModalGuider(video, negative.video_context), MultiModalGuider(audio, negative.audio_context)


# --- images ------------------------------------------------------------------------------------------------------


def load_image(
    source: str | Path | np.ndarray, height: int, width: int, dtype: torch.dtype, device: Any, crf: int
) -> torch.Tensor:
    """An image path, or an already-decoded uint8 `[H, W, 3]` array, → `[1, 3, 1, height, width]` in [-1, 1]."""
    from ltx_pipelines.media.image import load_image_and_preprocess, preprocess_image

    if isinstance(source, np.ndarray):
        return preprocess_image(source, height, width, dtype, device, crf)
    return load_image_and_preprocess(source, height, width, dtype, device, crf)


def image_conditionings(
    conditioner: ImageConditioner,
    how: ConditioningsFn,
    images: Sequence[ImageConditioningInput],
    height: int,
    width: int,
    record: Recorder | None = None,
) -> list:
    """Encode every image at this stage's size (encoder built for the call, then freed) into conditioning items."""
    if not images:
        return []

    def items(encode: VideoEncodeFn) -> list:
        encoder = _recorded_encoder(encode, record, len(images))
        return how(images, height, width, encoder, conditioner.dtype, conditioner.device, load_image=load_image)

    return conditioner(items)


def _recorded_encoder(encode: VideoEncodeFn, record: Recorder | None, count: int) -> VideoEncodeFn:
    if record is None:
        return encode
    index = iter(range(count))

    def wrapped(pixels: torch.Tensor) -> torch.Tensor:
        suffix = "" if count == 1 else f"_{next(index)}"
        latent = encode(pixels)
        record(f"image_pixels{suffix}", pixels)
        record(f"image_latent{suffix}", latent)
        return latent

    return wrapped


def first_image_path(images: Sequence[ImageConditioningInput]) -> str | Path | None:
    """The prompt-enhancement image (the first one, when it is a file)."""
    if not images or isinstance(images[0].path, np.ndarray):
        return None
    return images[0].path


# --- stages ------------------------------------------------------------------------------------------------------


def refine_stage(
    stage: DiffusionStage,
    contexts: Any,
    sigmas: torch.Tensor,
    noiser: GaussianNoiser,
    *,
    upscaled: torch.Tensor,
    audio_latent: torch.Tensor,
    conditionings: Sequence[Any],
    height: int,
    width: int,
    num_frames: int,
    frame_rate: float,
    res2s: bool = False,
    on_step: Callable[[int, int], None] | None = None,
    record: Recorder | None = None,
) -> StageResult:
    """Stage 2 of every two-stage flow: video re-noised from the upsampled latent and audio from the stage-1 audio
    to the schedule's first sigma, then refined with one unguided pass per step (spec 13.0 step 8); Euler steps, or
    the res_2s sampler when `res2s` (HQ)."""
    noise_scale = float(sigmas[0])
    denoiser = RecordingDenoiser(SimpleDenoiser(contexts.video_context, contexts.audio_context), record)
    result = stage(
        denoiser,
        sigmas,
        noiser,
        width=width,
        height=height,
        frames=num_frames,
        fps=frame_rate,
        video=ModalitySpec(contexts.video_context, tuple(conditionings), noise_scale, initial_latent=upscaled),
        audio=ModalitySpec(contexts.audio_context, (), noise_scale, initial_latent=audio_latent),
        stepper=Res2sDiffusionStep() if res2s else None,
        loop=Res2sLoop(record) if res2s else None,
        on_step=on_step,
        record=record,
    )
    denoiser.flush()
    return result


@dataclass
class RecordingDenoiser:
    """Passes calls through to `inner` and, at `flush()`, records each call's sigma, step index and predictions.

    Names follow the golden cases: `calls_sigma`, `calls_step_index`, `calls_{video,audio}_{denoised,cond,uncond,ptb,
    mod,skipped}` (the per-pass and skip records only for guided denoisers).
    """

    inner: Any
    record: Recorder | None = None
    calls: list[tuple[float, int, DenoiserOutput]] = field(default_factory=list)

    def __call__(
        self, transformer: Any, video_state: Any, audio_state: Any, sigmas: torch.Tensor, step_index: int
    ) -> DenoiserOutput:
        out = self.inner(transformer, video_state, audio_state, sigmas, step_index)
        if self.record is not None:
            self.calls.append((float(sigmas[step_index]), step_index, out))
        return out

    def flush(self) -> None:
        if self.record is None or not self.calls:
            return
        record, calls = self.record, self.calls
        record("calls_sigma", torch.tensor([c[0] for c in calls], dtype=torch.float32))
        record("calls_step_index", torch.tensor([c[1] for c in calls], dtype=torch.int64))
        guided = not isinstance(self.inner, SimpleDenoiser)
        for index, name in enumerate(("video", "audio")):
            results = [c[2][index] for c in calls]
            if any(r is None for r in results):
                continue
            record(f"calls_{name}_denoised", torch.stack([r.denoised for r in results]))  # type: ignore[union-attr]
            if not guided:
                continue
            record(f"calls_{name}_skipped", torch.tensor([r.skipped for r in results]))  # type: ignore[union-attr]
            for pass_name in PASS_ORDER:
                preds = [getattr(r, pass_name) for r in results]
                present = [p for p in preds if p is not None]
                if present:
                    filler = torch.zeros_like(present[0])  # a call where both modalities were skipped ran no pass
                    record(f"calls_{name}_{pass_name}", torch.stack([filler if p is None else p for p in preds]))
        self.calls = []


class Res2sLoop:
    """The res_2s loop as a `DiffusionStage` loop; with a recorder, also records the SDE noise it draws
    (`sde_noise_{video,audio}`: per step the substep draw, then the step draw, as the golden cases store them)."""

    def __init__(self, record: Recorder | None = None) -> None:
        self.record = record

    def __call__(
        self,
        sigmas: torch.Tensor,
        video_state: LatentState | None,
        audio_state: LatentState | None,
        stepper: Any,
        transformer: Any,
        denoiser: Any,
        *,
        on_step: Callable[[int, int], None] | None = None,
    ) -> tuple[LatentState | None, LatentState | None]:
        drawn: list[torch.Tensor] = []

        def noise(latent: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
            z = get_new_noise(latent, generator)
            drawn.append(z)
            return z

        out = res2s_audio_video_denoising_loop(
            sigmas, video_state, audio_state, stepper, transformer, denoiser,
            new_noise_fn=get_new_noise if self.record is None else noise, on_step=on_step,
        )  # fmt: skip
        names = [n for n, state in (("video", video_state), ("audio", audio_state)) if state is not None]
        if self.record is not None and drawn:
            for i, name in enumerate(names):  # draws interleave the present modalities, video first
                self.record(f"sde_noise_{name}", torch.stack(drawn[i :: len(names)]))
        return out


def prefixed(record: Recorder | None, prefix: str) -> Recorder | None:
    if record is None:
        return None
    return lambda name, tensor: record(prefix + name, tensor)


# --- results -----------------------------------------------------------------------------------------------------


@dataclass
class GuidedResult:
    """`video` yields `[f, h, w, 3]` chunks in [0, 1] as it decodes (iterate once, or `close()` it to free the
    decoder); `audio` is the stereo waveform (float32) and its rate; the latents are the last stage's results."""

    video: FrameChunks
    audio: Audio
    video_latent: torch.Tensor
    audio_latent: torch.Tensor
    prompt: str
    frame_rate: float
    seconds: dict[str, float] = field(default_factory=dict)


class Phases:
    """Progress reports and wall times per phase: `with phases("stage 1"):`, `phases.steps("stage 1")`."""

    def __init__(self, progress: Progress | None) -> None:
        self.report: Progress = progress or (lambda phase, done, total: None)
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str, counted: bool = True) -> Iterator[None]:
        start = time.perf_counter()
        if counted:
            self.report(name, 0, 1)
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start
        if counted:
            self.report(name, 1, 1)

    def steps(self, name: str) -> Callable[[int, int], None]:
        return lambda i, n: self.report(name, i + 1, n)


def prompt_text(contexts: Any, prompt: Any) -> str:
    return getattr(contexts, "prompt", "") or (prompt if isinstance(prompt, str) else "")


# --- shared recipe steps ------------------------------------------------------------------------------------------


class GuidedPipelineBase:
    """Blocks and recipe steps every guided pipeline has: prompts (positive + negative), image conditionings,
    decoding. Subclasses set `conditionings_fn` (how images condition) and write the recipe in `__call__`."""

    conditionings_fn: ConditioningsFn = staticmethod(combined_image_conditionings)  # type: ignore[assignment]

    def __init__(
        self,
        checkpoint_path: str | Path,
        gemma_root: str | Path | None,
        device: torch.device | str | None,
        dtype: torch.dtype,
        memory_efficient_decode: bool,
    ) -> None:
        self.device = resolve_device(device)
        self.dtype = dtype
        ckpt = checkpoint_path
        self.checkpoint_path = ckpt
        self.prompt_encoder = PromptEncoder(ckpt, gemma_root, dtype=dtype, device=self.device)
        self.image_conditioner = ImageConditioner(ckpt, dtype=dtype, device=self.device)
        self.video_decoder = VideoDecoder(
            ckpt, dtype=dtype, device=self.device, memory_efficient=memory_efficient_decode
        )
        self.audio_decoder = AudioDecoder(ckpt, dtype=dtype, device=self.device)

    def _prompts(
        self,
        prompt: Any,
        negative_prompt: Any,
        images: Sequence[ImageConditioningInput],
        enhance_prompt: bool,
        seed: int,
        phases: Phases,
    ) -> tuple[Any, Any]:
        """(positive, negative) contexts; precomputed `PromptContexts` pass through without building Gemma."""
        with phases("prompt"):
            positive, negative = self.prompt_encoder(
                [prompt, negative_prompt],
                enhance_first_prompt=enhance_prompt,
                enhance_prompt_image=first_image_path(images) if enhance_prompt else None,
                enhance_prompt_seed=seed,
            )
        return positive, negative

    def _conditionings(
        self, images: Sequence[ImageConditioningInput], height: int, width: int, record: Recorder | None
    ) -> list:
        return image_conditionings(self.image_conditioner, type(self).conditionings_fn, images, height, width, record)

    def _decode(
        self,
        result: StageResult,
        prompt: str,
        frame_rate: float,
        tiling_config: Any,
        generator: torch.Generator,
        phases: Phases,
    ) -> GuidedResult:
        """Audio now; video lazily (the decoder draws from the pipeline generator, after all diffusion draws)."""
        assert result.video_latent is not None and result.audio_latent is not None
        with phases("decode audio"):
            audio = self.audio_decoder(result.audio_latent)
        video = self.video_decoder(result.video_latent, tiling_config, generator)
        return GuidedResult(video, audio, result.video_latent, result.audio_latent, prompt, frame_rate, phases.seconds)


class TwoStageGuidedBase(GuidedPipelineBase):
    """Adds the two-stage tail shared by two-stage, HQ and keyframe interpolation: x2 upsampling of the stage-1
    video latent, then the unguided stage-2 refinement at full size with the images re-encoded there."""

    def __init__(
        self,
        checkpoint_path: str | Path,
        spatial_upsampler_path: str | Path,
        gemma_root: str | Path | None,
        stage_1_loras: Sequence[LoraSpec],
        stage_2_loras: Sequence[LoraSpec],
        device: torch.device | str | None,
        dtype: torch.dtype,
        memory_efficient_decode: bool,
    ) -> None:
        super().__init__(checkpoint_path, gemma_root, device, dtype, memory_efficient_decode)
        ckpt = checkpoint_path
        self.stage_1 = DiffusionStage(ckpt, loras=stage_1_loras, dtype=dtype, device=self.device)
        self.stage_2 = DiffusionStage(ckpt, loras=stage_2_loras, dtype=dtype, device=self.device)
        self.upsampler = VideoUpsampler(ckpt, spatial_upsampler_path, dtype=dtype, device=self.device)

    def _upsample_and_refine(
        self,
        stage_1: StageResult,
        positive: Any,
        sigmas: torch.Tensor,
        noiser: GaussianNoiser,
        images: Sequence[ImageConditioningInput],
        height: int,
        width: int,
        num_frames: int,
        frame_rate: float,
        phases: Phases,
        record: Recorder | None,
        res2s: bool = False,
    ) -> StageResult:
        assert stage_1.video_latent is not None and stage_1.audio_latent is not None
        with phases("upsample"):
            upscaled = self.upsampler(stage_1.video_latent[:1])
            if record is not None:
                record("upsampled_video_latent", upscaled)
        with phases("stage 2", counted=False):
            stage_record = prefixed(record, "stage2_")
            return refine_stage(
                self.stage_2,
                positive,
                sigmas,
                noiser,
                upscaled=upscaled,
                audio_latent=stage_1.audio_latent,
                conditionings=self._conditionings(images, height, width, stage_record),
                height=height,
                width=width,
                num_frames=num_frames,
                frame_rate=frame_rate,
                res2s=res2s,
                on_step=phases.steps("stage 2"),
                record=stage_record,
            )


# --- command line ------------------------------------------------------------------------------------------------


def parse_sigmas_option(values: Sequence[torch.Tensor], flag: str) -> torch.Tensor | None:
    """The parsed `--stage-N-sigmas` values (the option may be given once) → the schedule, or None."""
    import typer

    if not values:
        return None
    if len(values) > 1:
        raise typer.BadParameter(f"given {len(values)} times; give it once with the whole schedule", param_hint=flag)
    return values[0]


def sigmas_option(flag: str, what: str) -> Any:
    """A Typer option `FLAG SIGMA [SIGMA...]`: floats, checked at parse time (exit 2 with the rule broken)."""
    import typer

    from ltx_pipelines.cli.app import multi_value_option
    from ltx_pipelines.cli.values import MultiValue, parse_float

    def build(values: list[str]) -> torch.Tensor:
        try:
            return validate_sigmas([parse_float("SIGMA", v) for v in values], what=flag)
        except InputError as exc:
            raise typer.BadParameter(str(exc)) from None

    parser = MultiValue(("SIGMA",), ("SIGMA",), build, repeat_last=True)
    return multi_value_option(parser, flag, f"{what}, e.g. {flag} 1.0 0.7 0.1 0.0 (strictly decreasing values in "
                              "[0, 1] ending at 0).")  # fmt: skip


_COMPONENTS = (  # (what, key prefix) every guided run reads from the checkpoint
    ("transformer", "model.diffusion_model.transformer_blocks."),
    ("text projection", "text_embedding_projection."),
    ("video VAE decoder", "vae.decoder."),
    ("video latent statistics", "vae.per_channel_statistics."),
    ("audio VAE decoder", "audio_vae.decoder."),
    ("vocoder", "vocoder."),
)


def preflight(args: Any, pipeline: str, *, two_stage: bool) -> None:
    """Every check that needs only headers and small files, before any model is built."""
    from ltx_core.loader import open_checkpoint
    from ltx_core.model.upsampler.loading import check_is_upsampler
    from ltx_core.text_encoders.gemma import check_gemma_fits, find_gemma_root
    from ltx_core.text_encoders.gemma.loading import text_path_config
    from ltx_pipelines.distilled import check_checkpoint, check_lora_file
    from ltx_pipelines.media.image import read_image

    for flag, value, valid in (
        ("--offload", args.offload, "none"),
        ("--quantization", args.quantization, None),
        ("--compile", args.compile, False),
    ):
        if value != valid:
            raise InputError(f"{flag} {value} is not supported by the {pipeline} pipeline yet; leave it out")
    components = _COMPONENTS + ((("video VAE encoder", "vae.encoder."),) if args.images or two_stage else ())
    check_checkpoint(args.checkpoint_path, components)
    if two_stage:
        check_is_upsampler(open_checkpoint(args.spatial_upsampler_path))
        require_distilled_lora(args.distilled_loras)
    for lora in (*args.loras, *args.distilled_loras):
        check_lora_file(lora.path)
    ckpt = open_checkpoint(args.checkpoint_path)
    check_gemma_fits(find_gemma_root(args.gemma_root), text_path_config(ckpt), ckpt.path)
    for image in args.images:
        read_image(image.path)


def cli_images(args: Any) -> list[ImageConditioningInput]:
    return [ImageConditioningInput(i.path, i.frame_idx, i.strength, i.crf) for i in args.images]


class _PhaseBars:
    """Adapts `(phase, done, total)` reports to `RunProgress`: one counted task per phase, closed when complete."""

    def __init__(self, progress: Any) -> None:
        self.progress = progress
        self.stack = ExitStack()
        self.open: dict[str, tuple[Callable[[int], None], int]] = {}

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase not in self.open:
            self.stack.close()
            self.stack = ExitStack()
            advance = self.stack.enter_context(self.progress.task(phase, total))
            self.open = {phase: (advance, 0)}
        advance, seen = self.open[phase]
        if done > seen:
            advance(done - seen)
            self.open[phase] = (advance, done)
        if done >= total:
            self.stack.close()
            self.open = {}

    def close(self) -> None:
        self.stack.close()


def run_cli(args: Any, pipeline: str, generate: Callable[[Progress], GuidedResult], *, two_stage: bool) -> Path:
    """The CLI's work after parsing: checks (exit 2), generation with progress, atomic MP4, summary table."""
    import typer

    from ltx_core.errors import LTXError
    from ltx_pipelines.cli.app import EXIT_USAGE, print_error
    from ltx_pipelines.cli.progress import RunProgress, RunSummary
    from ltx_pipelines.media.mp4 import write_mp4

    try:
        preflight(args, pipeline, two_stage=two_stage)
    except LTXError as exc:
        print_error(str(exc))
        raise typer.Exit(EXIT_USAGE) from None
    progress = RunProgress(quiet=args.quiet)
    bars = _PhaseBars(progress)
    try:
        with progress.stage("generation"):
            result = generate(bars)
        with progress.stage("decode + write"), result.video:
            frames = progress.frames(result.video, result.video.num_frames, "decode video")
            path = write_mp4(args.output_path, frames, result.frame_rate, result.audio)
    finally:
        bars.close()
    progress.summary(RunSummary(path, result.video.num_frames, result.video.height, result.video.width,
                                float(int(result.frame_rate)), args.seed))  # fmt: skip
    return path
