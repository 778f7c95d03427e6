"""The distilled two-stage pipeline (spec 13.4): prompt (and images) → video with sound, no guidance.

Recipe: encode the prompt → stage 1 at half resolution on the 8-step distilled schedule → x2 latent upsampling →
stage 2 at full resolution on the 3-step schedule (video re-noised from the upsampled latent, audio from the stage-1
audio) → decode audio, then video (lazily, chunk by chunk, while the file is written).

Run it: `python -m ltx_pipelines.distilled --help`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ltx_core.components.noisers import GaussianNoiser
from ltx_core.errors import InputError
from ltx_core.loader import LoraSpec
from ltx_core.types import Audio
from ltx_pipelines.utils.blocks import (
    AudioDecoder,
    DiffusionStage,
    FrameChunks,
    ImageConditioner,
    ModalitySpec,
    PromptEncoder,
    Recorder,
    VideoDecoder,
    VideoEncodeFn,
    VideoUpsampler,
    resolve_device,
)
from ltx_pipelines.utils.constants import distilled_sigmas, stage_2_distilled_sigmas
from ltx_pipelines.utils.denoisers import SimpleDenoiser
from ltx_pipelines.utils.helpers import ImageConditioningInput, combined_image_conditionings

TWO_STAGE_DIVISOR = 64  # stage 1 runs at half size, and the x2-upsampled latent must equal the full-size one
Progress = Callable[[str, int, int], None]  # (phase, done, total): "prompt", "stage 1", "upsample", "stage 2", ...


@dataclass
class DistilledResult:
    """`video` yields `[f, h, w, 3]` chunks in [0, 1] as it decodes (iterate once, or `close()` it to free the
    decoder); `audio` is the stereo waveform (float32) and its rate; the latents are the stage-2 results."""

    video: FrameChunks
    audio: Audio
    video_latent: torch.Tensor
    audio_latent: torch.Tensor
    prompt: str
    frame_rate: float
    seconds: dict[str, float] = field(default_factory=dict)


def check_two_stage_size(height: int, width: int, num_frames: int) -> None:
    """Height and width multiples of 64 and 8k+1 frames; `InputError` naming the nearest valid values."""
    for name, value in (("height", height), ("width", width)):
        if value < TWO_STAGE_DIVISOR or value % TWO_STAGE_DIVISOR:
            low = max(TWO_STAGE_DIVISOR, value // TWO_STAGE_DIVISOR * TWO_STAGE_DIVISOR)
            near = sorted({low, low + TWO_STAGE_DIVISOR} if value > low else {low})
            raise InputError(
                f"{name} {value} must be a positive multiple of {TWO_STAGE_DIVISOR} for the two-stage pipeline; "
                f"nearest valid: {' or '.join(map(str, near))}"
            )
    if num_frames < 1 or (num_frames - 1) % 8:
        low = max(1, (num_frames - 1) // 8 * 8 + 1)
        raise InputError(f"num_frames {num_frames} must be 8k+1; nearest valid: {low} or {low + 8}")


def _load_image(
    source: str | Path | np.ndarray, height: int, width: int, dtype: torch.dtype, device: Any, crf: int
) -> torch.Tensor:
    """An image path, or an already-decoded uint8 `[H, W, 3]` array, → `[1, 3, 1, height, width]` in [-1, 1]."""
    from ltx_pipelines.media.image import load_image_and_preprocess, preprocess_image

    if isinstance(source, np.ndarray):
        return preprocess_image(source, height, width, dtype, device, crf)
    return load_image_and_preprocess(source, height, width, dtype, device, crf)


class DistilledPipeline:
    """Distilled model, two stages, one conditional pass per step (spec 13.4).

    One `DiffusionStage` (user LoRAs) serves both stages; the transformer is built once per call and freed at the
    end (`cache_transformer=True` keeps it for the next call). Every other model is built for its step and freed.
    """

    def __init__(
        self,
        distilled_checkpoint_path: str | Path,
        gemma_root: str | Path | None,
        spatial_upsampler_path: str | Path,
        loras: Sequence[LoraSpec] = (),
        device: torch.device | str | None = None,
        *,
        dtype: torch.dtype = torch.bfloat16,
        cache_transformer: bool = False,
        memory_efficient_decode: bool = True,
    ) -> None:
        self.device = resolve_device(device)
        self.dtype = dtype
        ckpt = distilled_checkpoint_path
        self.prompt_encoder = PromptEncoder(ckpt, gemma_root, dtype=dtype, device=self.device)
        self.image_conditioner = ImageConditioner(ckpt, dtype=dtype, device=self.device)
        self.stage = DiffusionStage(ckpt, loras=loras, dtype=dtype, device=self.device, cache=cache_transformer)
        self.upsampler = VideoUpsampler(ckpt, spatial_upsampler_path, dtype=dtype, device=self.device)
        self.video_decoder = VideoDecoder(
            ckpt, dtype=dtype, device=self.device, memory_efficient=memory_efficient_decode
        )
        self.audio_decoder = AudioDecoder(ckpt, dtype=dtype, device=self.device)

    @torch.inference_mode()
    def __call__(
        self,
        prompt: Any,
        seed: int,
        height: int,
        width: int,
        num_frames: int,
        frame_rate: float,
        images: Sequence[ImageConditioningInput] = (),
        tiling_config: Any = None,
        enhance_prompt: bool = False,
        stage_1_sigmas: torch.Tensor | None = None,
        stage_2_sigmas: torch.Tensor | None = None,
        *,
        record: Recorder | None = None,
        progress: Progress | None = None,
    ) -> DistilledResult:
        """`prompt` is a string or precomputed `PromptContexts`. An image's `path` may also be a decoded uint8
        `[H, W, 3]` array. `record(name, tensor)` receives every intermediate state under the golden-case names
        (`stage1_video_noise`, `upsampled_video_latent`, ...)."""
        check_two_stage_size(height, width, num_frames)
        if frame_rate <= 0:
            raise InputError(f"frame_rate {frame_rate} must be > 0")
        stage_1_sigmas = distilled_sigmas() if stage_1_sigmas is None else stage_1_sigmas
        stage_2_sigmas = stage_2_distilled_sigmas() if stage_2_sigmas is None else stage_2_sigmas
        report = progress or (lambda phase, done, total: None)
        seconds: dict[str, float] = {}
        clock = _Clock(seconds)

        generator = torch.Generator(device=self.device).manual_seed(seed)
        noiser = GaussianNoiser(generator)

        with clock("prompt"):
            report("prompt", 0, 1)
            contexts = self.prompt_encoder(
                [prompt],
                enhance_first_prompt=enhance_prompt,
                enhance_prompt_image=_first_image_path(images) if enhance_prompt else None,
            )[0]
            report("prompt", 1, 1)
        denoiser = SimpleDenoiser(contexts.video_context, contexts.audio_context)

        with self.stage.session():
            with clock("stage 1"):
                half_h, half_w = height // 2, width // 2
                conditionings = self._image_conditionings(images, half_h, half_w, _prefixed(record, "stage1_"))
                stage_1 = self.stage(
                    denoiser,
                    stage_1_sigmas,
                    noiser,
                    width=half_w,
                    height=half_h,
                    frames=num_frames,
                    fps=frame_rate,
                    video=ModalitySpec(contexts.video_context, conditionings),
                    audio=ModalitySpec(contexts.audio_context),
                    on_step=_steps(report, "stage 1"),
                    record=_prefixed(record, "stage1_"),
                )
            with clock("upsample"):
                report("upsample", 0, 1)
                upscaled = self.upsampler(stage_1.video_latent[:1])  # type: ignore[index]
                if record is not None:
                    record("upsampled_video_latent", upscaled)
                report("upsample", 1, 1)
            with clock("stage 2"):
                conditionings = self._image_conditionings(images, height, width, _prefixed(record, "stage2_"))
                noise_scale = float(stage_2_sigmas[0])
                stage_2 = self.stage(
                    denoiser,
                    stage_2_sigmas,
                    noiser,
                    width=width,
                    height=height,
                    frames=num_frames,
                    fps=frame_rate,
                    video=ModalitySpec(contexts.video_context, conditionings, noise_scale, initial_latent=upscaled),
                    audio=ModalitySpec(contexts.audio_context, (), noise_scale, initial_latent=stage_1.audio_latent),
                    on_step=_steps(report, "stage 2"),
                    record=_prefixed(record, "stage2_"),
                )

        assert stage_2.video_latent is not None and stage_2.audio_latent is not None
        with clock("decode audio"):
            report("decode audio", 0, 1)
            audio = self.audio_decoder(stage_2.audio_latent)
            report("decode audio", 1, 1)
        video = self.video_decoder(stage_2.video_latent, tiling_config, generator)
        return DistilledResult(
            video=video,
            audio=audio,
            video_latent=stage_2.video_latent,
            audio_latent=stage_2.audio_latent,
            prompt=getattr(contexts, "prompt", "") or (prompt if isinstance(prompt, str) else ""),
            frame_rate=frame_rate,
            seconds=seconds,
        )

    def _image_conditionings(
        self, images: Sequence[ImageConditioningInput], height: int, width: int, record: Recorder | None
    ) -> list:
        """Encode every image at this stage's size (encoder built for this call, then freed)."""
        if not images:
            return []

        def conditionings(encode: VideoEncodeFn) -> list:
            return combined_image_conditionings(
                images, height, width, _recorded_encoder(encode, record, len(images)), self.dtype, self.device,
                load_image=_load_image,
            )  # fmt: skip

        return self.image_conditioner(conditionings)


def _first_image_path(images: Sequence[ImageConditioningInput]) -> str | Path | None:
    if not images or isinstance(images[0].path, np.ndarray):
        return None
    return images[0].path


def _prefixed(record: Recorder | None, prefix: str) -> Recorder | None:
    if record is None:
        return None
    return lambda name, tensor: record(prefix + name, tensor)


def _recorded_encoder(encode: VideoEncodeFn, record: Recorder | None, count: int) -> VideoEncodeFn:
    if record is None:
        return encode
    index = iter(range(count))

    def wrapped(pixels: torch.Tensor) -> torch.Tensor:
        i = next(index)
        suffix = "" if count == 1 else f"_{i}"
        record(f"image_pixels{suffix}", pixels)
        latent = encode(pixels)
        record(f"image_latent{suffix}", latent)
        return latent

    return wrapped


def _steps(report: Progress, phase: str) -> Callable[[int, int], None]:
    return lambda i, n: report(phase, i + 1, n)


class _Clock:
    """`with clock(name):` adds the block's wall time to `seconds[name]`."""

    def __init__(self, seconds: dict[str, float]) -> None:
        self.seconds = seconds
        self._name = ""
        self._start = 0.0

    def __call__(self, name: str) -> _Clock:
        self._name = name
        return self

    def __enter__(self) -> None:
        self._start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.seconds[self._name] = self.seconds.get(self._name, 0.0) + time.perf_counter() - self._start


# --- command line --------------------------------------------------------------------------------------------------

_COMPONENTS = (  # (what, key prefix) every distilled run reads from the checkpoint
    ("transformer", "model.diffusion_model.transformer_blocks."),
    ("text projection", "text_embedding_projection."),
    ("video VAE encoder", "vae.encoder."),
    ("video VAE decoder", "vae.decoder."),
    ("video latent statistics", "vae.per_channel_statistics."),
    ("audio VAE decoder", "audio_vae.decoder."),
    ("vocoder", "vocoder."),
)


def check_checkpoint(path: Path, components: Sequence[tuple[str, str]] = _COMPONENTS) -> None:
    """The file is a full LTX checkpoint with every component the pipeline reads (header only, no tensor read)."""
    from ltx_core.errors import CheckpointError
    from ltx_core.loader import open_checkpoint

    ckpt = open_checkpoint(path)
    keys = ckpt.keys()
    if any(k.endswith((".lora_A.weight", ".lora_B.weight")) for k in keys):
        raise CheckpointError(f"{path} is a LoRA file, not a model checkpoint; pass it with --lora PATH [STRENGTH]")
    if "initial_conv.weight" in keys and "final_conv.weight" in keys:
        raise CheckpointError(
            f"{path} is a latent upsampler, not a model checkpoint; pass it with --spatial-upsampler-path"
        )
    if "transformer" not in ckpt.config:
        raise CheckpointError(f"{path} has no LTX config metadata (no 'transformer' section); is it an LTX-2 file?")
    for what, prefix in components:
        if not any(k.startswith(prefix) for k in keys):
            raise CheckpointError(f"{path} lacks the {what} (no {prefix}* weights), which this pipeline needs")


def check_lora_file(path: Path) -> None:
    from ltx_core.errors import LoraError
    from ltx_core.loader import SafetensorsFile

    keys = SafetensorsFile(path).keys()
    if not any(k.endswith(".lora_A.weight") for k in keys):
        what = "a model checkpoint" if any(k.startswith("model.diffusion_model.") for k in keys) else "not a LoRA"
        raise LoraError(f"{path} is {what}, not a LoRA file (no '<module>.lora_A.weight' tensors)")


def preflight(args: Any) -> None:
    """Every check that needs only headers and small files, before any model is built (errors exit with 2)."""
    from ltx_core.loader import open_checkpoint
    from ltx_core.model.upsampler.loading import check_is_upsampler
    from ltx_core.text_encoders.gemma import check_gemma_fits, find_gemma_root
    from ltx_core.text_encoders.gemma.loading import text_path_config
    from ltx_pipelines.media.image import read_image

    for flag, value, valid in (
        ("--offload", args.offload, "none"),
        ("--quantization", args.quantization, None),
        ("--compile", args.compile, False),
    ):
        if value != valid:
            raise InputError(f"{flag} {value} is not supported by the distilled pipeline yet; leave it out")
    resolve_device(args.device)
    check_checkpoint(args.distilled_checkpoint_path)
    check_is_upsampler(open_checkpoint(args.spatial_upsampler_path))
    for lora in args.loras:
        check_lora_file(lora.path)
    ckpt = open_checkpoint(args.distilled_checkpoint_path)
    check_gemma_fits(find_gemma_root(args.gemma_root), text_path_config(ckpt), ckpt.path)
    for image in args.images:
        read_image(image.path)


class _RichProgress:
    """One rich progress bar per phase (stage, step i/n, elapsed, ETA), then the video decode by frames."""

    def __init__(self, console: Any) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("[bold]{task.description:<13}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> _RichProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase not in self.tasks:
            self.tasks[phase] = self.progress.add_task(phase, total=total)
        self.progress.update(self.tasks[phase], completed=done, total=total)


def _peak_memory(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB GPU"
    import resource

    return f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB RAM (process peak)"


def run_command(args: Any) -> Path:
    """The CLI's work after parsing: checks (exit 2 on failure), generation, writing, summary."""
    import typer
    from rich.console import Console

    from ltx_core.errors import LTXError
    from ltx_core.model.video_vae import TilingConfig
    from ltx_pipelines.cli.app import EXIT_USAGE, print_error
    from ltx_pipelines.media.mp4 import write_mp4

    try:
        preflight(args)
    except LTXError as exc:
        print_error(str(exc))
        raise typer.Exit(EXIT_USAGE) from None

    console = Console(stderr=True, quiet=args.quiet)
    device = resolve_device(args.device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    started = time.perf_counter()
    pipeline = DistilledPipeline(
        args.distilled_checkpoint_path, args.gemma_root, args.spatial_upsampler_path, args.loras, device
    )
    images = [ImageConditioningInput(i.path, i.frame_idx, i.strength, i.crf) for i in args.images]
    with _RichProgress(console) as progress:
        result = pipeline(
            args.prompt,
            seed=args.seed,
            height=args.height,
            width=args.width,
            num_frames=args.num_frames,
            frame_rate=args.frame_rate,
            images=images,
            tiling_config=TilingConfig.default(),
            enhance_prompt=args.enhance_prompt,
            progress=progress,
        )
        total = result.video.num_frames
        write_started = time.perf_counter()
        with result.video:
            path = write_mp4(
                args.output_path,
                result.video,
                result.frame_rate,
                result.audio,
                on_frames=lambda n: progress("decode video", n, total),
            )
        result.seconds["decode video + write"] = time.perf_counter() - write_started
    _summary(console, args, result, path, time.perf_counter() - started, device)
    return path


def _summary(console: Any, args: Any, result: DistilledResult, path: Path, seconds: float, device: Any) -> None:
    from rich.table import Table

    table = Table(show_header=False, box=None, padding=(0, 2))
    fps, rate = int(result.frame_rate), result.audio.sampling_rate
    table.add_row("output", str(path))
    table.add_row("video", f"{result.video.width}x{result.video.height}, {result.video.num_frames} frames at {fps} fps "
                  f"({result.video.num_frames / fps:.2f} s)")  # fmt: skip
    table.add_row(
        "audio",
        f"stereo {rate} Hz ({result.audio.waveform.shape[-1] / rate:.2f} s)",
    )
    table.add_row("seed", str(args.seed))
    if args.enhance_prompt:
        table.add_row("enhanced prompt", result.prompt)
    for phase, secs in result.seconds.items():
        table.add_row(f"time {phase}", f"{secs:.1f} s")
    table.add_row("time total", f"{seconds:.1f} s")
    table.add_row("peak memory", _peak_memory(device))
    console.print(table)


def _app() -> Any:
    from ltx_pipelines.cli.app import create_app, pipeline_command
    from ltx_pipelines.cli.options import DISTILLED_TWO_STAGE

    app = create_app(help="Distilled LTX-2 / LTX-2.3: prompt (and images) to an MP4 with sound, in two stages.")

    @pipeline_command(app, DISTILLED_TWO_STAGE, two_stage=True)
    def distilled(args: Any) -> None:
        """Half-size stage 1 (8 steps), x2 latent upsampling, full-size stage 2 (3 steps), decode, write the MP4."""
        run_command(args)

    return app


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line (`argv` None: `sys.argv`). Exits with the command's code, as a script does."""
    _app()(args=None if argv is None else list(argv), prog_name="python -m ltx_pipelines.distilled")


if __name__ == "__main__":
    main()
