"""The shared command-line options, declared once: flag names as in the official CLI (spec 16.1), plus additions.

Each pipeline module picks a preset (or any list of names) and adds only its own options; the values arrive as one
`CommonArgs`. Defaults come from a `PipelineParams` set; the two that differ between LTX-2 and LTX-2.3 (steps, STG
blocks) default to None and are filled from the checkpoint's `model_version` after parsing (see app.py).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import typer

from ltx_core.components.guiders import MultiModalGuiderParams
from ltx_core.errors import InputError
from ltx_core.hdr.spaces import HDRColorSpace
from ltx_core.loader.lora import LoraSpec
from ltx_core.loader.model_paths import SLOT_FLAGS, SPLIT_ONLY, ModelPaths
from ltx_core.model.duration_head import AutoDuration
from ltx_pipelines.cli.values import (
    IMAGE,
    INT_LIST,
    LORA,
    SECONDS_RANGE,
    ImageConditioningArg,
    MultiValue,
    hdr_color_space,
    input_file,
    input_file_or_dir,
    output_dir,
    output_file,
)
from ltx_pipelines.utils.constants import (
    DEFAULT_NEGATIVE_PROMPT,
    NUM_FRAMES_WITHOUT_DURATION_HEAD,
    PipelineParams,
)

if TYPE_CHECKING:
    from ltx_pipelines.utils.blocks import PromptEnhancerSettings, TransformerRuntime

Offload = Literal["none", "cpu", "disk", "auto"]
Quantization = Literal["fp8-cast", "fp8-scaled-mm"]
NumericsName = Literal["1.2.0", "1.1.3"]

_MODEL, _GEN, _GUIDE, _RUN, _OUT = "Model files", "Generation", "Guidance", "Runtime", "Output"
_PAR = "Several GPUs (under torchrun, docs/multi-gpu.md)"
# the commands with --hdr (spec NP 5)
HDR_PIPELINES = (
    "distilled",
    "ti2vid_one_stage",
    "ti2vid_two_stages",
    "ti2vid_two_stages_hq",
    "keyframe_interpolation",
    "ic_lora",
    "a2vid_two_stage",
    "retake",
)
MAX_STEPS = 1000  # far above any useful count (the defaults are 30-40); a typo is refused instead of running for days


@dataclass(frozen=True)
class CommonArgs:
    """The parsed shared options. Options a command does not declare keep these defaults."""

    checkpoint_path: Path | None = None
    distilled_checkpoint_path: Path | None = None
    gemma_root: Path | None = None
    spatial_upsampler_path: Path | None = None
    transformer_path: Path | None = None
    text_encoder_path: Path | None = None
    video_vae_path: Path | None = None
    audio_vae_path: Path | None = None
    duration_head_path: Path | None = None
    distilled_loras: tuple[LoraSpec, ...] = ()
    distilled_lora_strength_stage_1: float = 0.25
    distilled_lora_strength_stage_2: float = 0.5
    loras: tuple[LoraSpec, ...] = ()
    prompt: str | None = None
    negative_prompt: str = DEFAULT_NEGATIVE_PROMPT
    seed: int = 10
    height: int = 512
    width: int = 768
    num_frames: int | AutoDuration = 121  # AutoDuration: chosen by the file's duration head (LTX-2.5)
    auto_duration: tuple[float, float] | None = None  # --auto-duration MIN_S MAX_S (read into num_frames)
    frame_rate: float = 24.0
    num_inference_steps: int | None = None
    images: tuple[ImageConditioningArg, ...] = ()
    num_generated_keyframes: int = 0
    enhance_prompt: bool = False
    prompt_enhancer_gemma_root: Path | None = None
    enhance_static_cache: bool = False
    video_cfg_guidance_scale: float = 3.0
    video_stg_guidance_scale: float = 1.0
    video_rescale_scale: float = 0.7
    video_stg_blocks: tuple[int, ...] | None = None
    a2v_guidance_scale: float = 3.0
    video_skip_step: int = 0
    audio_cfg_guidance_scale: float = 7.0
    audio_stg_guidance_scale: float = 1.0
    audio_rescale_scale: float = 0.7
    audio_stg_blocks: tuple[int, ...] | None = None
    v2a_guidance_scale: float = 3.0
    audio_skip_step: int = 0
    quantization: Quantization | None = None
    offload: Offload = "auto"
    compile: bool = False
    numerics: NumericsName = "1.2.0"
    max_batch_size: int = 1
    device: str | None = None
    cfg_parallel: int = 1
    shard_weights: bool = False
    dist_timeout: float = 300.0
    processes_per_job: int | None = None
    output_path: Path | None = None
    jobs: Path | None = None
    output_dir: Path | None = None
    overwrite: bool = False
    quiet: bool = False
    hdr: HDRColorSpace | None = None  # native HDR (spec NP 5): EXR in, EXR frames + HLG master out
    declared: frozenset[str] = field(default=frozenset(), compare=False)

    @property
    def model_checkpoint(self) -> Path | None:
        """The main checkpoint, whichever flag gave it."""
        return self.checkpoint_path or self.distilled_checkpoint_path

    @property
    def split_flags(self) -> list[str]:
        """The split-file flags given that only split mode takes (`--video-vae-path` is valid in both modes)."""
        return [SLOT_FLAGS[slot] for slot in SPLIT_ONLY if getattr(self, f"{slot}_path") is not None]

    @property
    def version_file(self) -> Path | None:
        """The file whose model_version picks the parser defaults (delta E.1): the single file, else the
        transformer."""
        return self.model_checkpoint or self.transformer_path

    @property
    def duration_head_file(self) -> Path | None:
        """The file the duration head would come from: the single file, else --duration-head-path."""
        return self.model_checkpoint if self.model_checkpoint is not None else self.duration_head_path

    @property
    def models(self) -> Path | ModelPaths:
        """What the pipeline is built from: the single file as a path (as always), a `ModelPaths` when
        --video-vae-path replaces its VAE or when split files are given (delta E.1; `check_model_flags` ran)."""
        if self.split_flags or (self.model_checkpoint is None and self.video_vae_path is not None):
            return ModelPaths(
                transformer=self.transformer_path,
                text_encoder=self.text_encoder_path,
                video_vae=self.video_vae_path,
                audio_vae=self.audio_vae_path,
                duration_head=self.duration_head_path,
            )
        checkpoint = self.checkpoint
        if self.video_vae_path is not None and self.video_vae_path != checkpoint:
            return ModelPaths(checkpoint=checkpoint, video_vae=self.video_vae_path)
        return checkpoint

    def pick(self, *names: str) -> dict[str, Any]:
        """The named values as keyword arguments of a pipeline call (the call's parameters carry these names)."""
        return {name: getattr(self, name) for name in names}

    @property
    def checkpoint(self) -> Path:
        """The main checkpoint of a command whose option set requires one."""
        return _given(self.model_checkpoint, "--checkpoint-path / --distilled-checkpoint-path")

    def check_model_flags(self) -> None:
        """Single file XOR split files (delta E.1), as one-line errors: no split-only flag beside a single file or
        --gemma-root, and without split files both the single file and --gemma-root. Which split files a pipeline
        needs is checked by its preflight (it knows the components it reads)."""
        declared = self.declared
        monolith = [f for f in ("checkpoint_path", "distilled_checkpoint_path") if f in declared]
        if not monolith:
            return
        split = self.split_flags
        single = [OPTIONS[f].flag for f in (*monolith, "gemma_root") if getattr(self, f) is not None]
        if split and single:
            raise InputError(
                f"{', '.join(single)} and {', '.join(split)} were both given: give either the single-file checkpoint "
                "with --gemma-root, or split files (--transformer-path, --text-encoder-path, --video-vae-path, "
                "--audio-vae-path, --duration-head-path), not both"
            )
        if split:
            return
        flags = " / ".join(OPTIONS[f].flag for f in monolith)
        if self.model_checkpoint is None:
            raise InputError(f"Missing option '{flags}' (or split files: --transformer-path and the others)")
        if self.gemma_root is None:
            raise InputError("Missing option '--gemma-root' (the text encoder of the single-file checkpoint)")

    @property
    def upsampler(self) -> Path:
        """--spatial-upsampler-path of a command whose option set requires it."""
        return _given(self.spatial_upsampler_path, "--spatial-upsampler-path")

    def runtime(self) -> TransformerRuntime:
        """`--offload`, `--quantization`, `--compile` as the pipelines' `TransformerRuntime`."""
        from ltx_pipelines.utils.blocks import TransformerRuntime

        offload = "none" if self.shard_weights and self.offload == "auto" else self.offload  # sharding is the plan
        return TransformerRuntime(offload=offload, quantization=self.quantization, compile=self.compile)

    def prompt_enhancer(self) -> PromptEnhancerSettings:
        """`--prompt-enhancer-gemma-root`, `--enhance-static-cache` as the pipelines' `PromptEnhancerSettings`."""
        from ltx_pipelines.utils.blocks import PromptEnhancerSettings

        return PromptEnhancerSettings(self.prompt_enhancer_gemma_root, self.enhance_static_cache)

    def video_guider_params(self) -> MultiModalGuiderParams:
        return MultiModalGuiderParams(
            cfg_scale=self.video_cfg_guidance_scale,
            stg_scale=self.video_stg_guidance_scale,
            stg_blocks=self.video_stg_blocks or (),
            rescale_scale=self.video_rescale_scale,
            modality_scale=self.a2v_guidance_scale,
            skip_step=self.video_skip_step,
        )

    def audio_guider_params(self) -> MultiModalGuiderParams:
        return MultiModalGuiderParams(
            cfg_scale=self.audio_cfg_guidance_scale,
            stg_scale=self.audio_stg_guidance_scale,
            stg_blocks=self.audio_stg_blocks or (),
            rescale_scale=self.audio_rescale_scale,
            modality_scale=self.v2a_guidance_scale,
            skip_step=self.audio_skip_step,
        )


def _given(path: Path | None, flag: str) -> Path:
    if path is None:
        raise InputError(f"{flag} is required")
    return path


@dataclass(frozen=True)
class OptionSpec:
    """One shared option: its `CommonArgs` field, flag, type, default (`...` = required) and help."""

    name: str
    flag: str
    annotation: Any
    default: Any
    help: str
    panel: str
    parser: Callable[[Any], Any] | None = None
    metavar: str | None = None
    min: int | float | None = None
    max: int | float | None = None
    multiple: bool = False
    default_from: Callable[[PipelineParams, bool], Any] | None = None  # (params, two_stage) → default
    from_checkpoint: Callable[[PipelineParams, bool], Any] | None = None  # LTX-2 vs 2.3 dependent default
    checkpoint_note: str = "28 for LTX-2.3, 29 for LTX-2"  # what `from_checkpoint` gives, for the help text
    shown_default: str | None = None  # what a None default means, for the help text (filled after parsing)
    absent: str = ""  # why a command may lack this option, for the usage error when it is given there

    def default_for(self, params: PipelineParams, two_stage: bool, detect: bool, overrides: Mapping[str, Any]) -> Any:
        """The default shown and used: an override, else derived from `params`, else the declared one.

        Checkpoint-dependent defaults stay None when `detect` (filled after parsing) and come from `params` otherwise.
        """
        if self.name in overrides:
            return overrides[self.name]
        if self.from_checkpoint is not None:
            return None if detect else self.from_checkpoint(params, two_stage)
        if self.default_from is not None:
            return self.default_from(params, two_stage)
        return self.default

    @property
    def multi_value(self) -> MultiValue[Any] | None:
        return self.parser if isinstance(self.parser, MultiValue) else None

    def parameter(
        self, default: Any, help: str | None = None, parser: Callable[[Any], Any] | None = None
    ) -> inspect.Parameter:
        """The keyword-only parameter Typer turns into this option, with `default` (`...` = required) and the
        pipeline's own `help` and `parser` where the shared ones do not fit it (a sound-only output path)."""
        help = help or self.help
        parser = parser or self.parser
        if self.from_checkpoint is not None and default is None:
            help += _FROM_CHECKPOINT.format(self.checkpoint_note)
        elif isinstance(default, tuple):
            help += f" \\[default: {' '.join(map(str, default)) or 'none'}]"  # escaped: rich markup otherwise
        option = typer.Option(
            default,
            self.flag,
            help=help,
            rich_help_panel=self.panel,
            parser=parser,
            metavar=self.metavar or (self.multi_value.metavar if self.multi_value else None),
            min=self.min,
            max=self.max,
            show_default=(self.shown_default if default is None else None)
            or not ((self.multiple and default == []) or isinstance(default, tuple)),
        )
        annotation = list[str] if self.multiple else self.annotation
        return inspect.Parameter(self.name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=annotation)


def _params_default(attr: str) -> Callable[[PipelineParams, bool], Any]:
    return lambda params, two_stage: getattr(params, attr)


def _size_default(axis: str) -> Callable[[PipelineParams, bool], Any]:
    return lambda params, two_stage: getattr(params, f"stage_{2 if two_stage else 1}_{axis}")


_FROM_CHECKPOINT = " Default: from the checkpoint's model_version ({})."

_BLOCKS_HELP = "Transformer blocks perturbed by {} STG (the flag alone: none)."
_IMAGE_HELP = (
    "Condition pixel frame FRAME_IDX on an image with STRENGTH in [0, 1] and the CRF of the compression emulation "
    "(0 = off; default from the checkpoint's model_version: 33, 18 from LTX-2.4 on). Repeatable."
)
_OFFLOAD_HELP = (
    "Where the transformer's weights live: none (all on the device), cpu (pinned RAM, streamed per block), disk "
    "(streamed from the file), or auto (chosen from the free memory; the choice and its reason are logged). Gemma's "
    "decoder layers follow: uploaded one at a time from RAM (cpu) or from its shards (disk); auto keeps Gemma "
    "resident when it fits. Results are bitwise identical."
)


def _guider(modality: str, attr: str) -> Callable[[PipelineParams, bool], Any]:
    return lambda params, two_stage: getattr(getattr(params, f"{modality}_guider_params"), attr)


_ALL = (
    # model files
    OptionSpec(
        "checkpoint_path",
        "--checkpoint-path",
        Path | None,
        None,
        "LTX-2 / LTX-2.3 / LTX-2.5 single-file checkpoint (.safetensors); required unless split files are given "
        "(--transformer-path ...).",
        _MODEL,
        parser=input_file,
        metavar="PATH",
    ),
    OptionSpec(
        "distilled_checkpoint_path",
        "--distilled-checkpoint-path",
        Path | None,
        None,
        "Distilled LTX-2 / LTX-2.3 / LTX-2.5 single-file checkpoint (.safetensors); required unless split files "
        "are given (--transformer-path ...).",
        _MODEL,
        parser=input_file,
        metavar="PATH",
    ),
    OptionSpec(
        "gemma_root",
        "--gemma-root",
        Path | None,
        None,
        "The Gemma text encoder of a single-file checkpoint: a folder (Gemma 3 or Gemma-4 unified: config, "
        "tokenizer, weights) or a packed single-file text encoder (.safetensors); required with one.",
        _MODEL,
        parser=input_file_or_dir,
        metavar="PATH",
    ),
    OptionSpec(
        "transformer_path",
        "--transformer-path",
        Path | None,
        None,
        "Split files: the transformer (model.diffusion_model.*, text connectors included); its model_version picks "
        "the defaults. Not with a single-file checkpoint or --gemma-root.",
        _MODEL,
        parser=input_file,
        metavar="PATH",
    ),
    OptionSpec(
        "text_encoder_path",
        "--text-encoder-path",
        Path | None,
        None,
        "Split files: the packed single-file text encoder (.safetensors with the text projection).",
        _MODEL,
        parser=input_file_or_dir,
        metavar="PATH",
    ),
    OptionSpec(
        "video_vae_path",
        "--video-vae-path",
        Path | None,
        None,
        "The video VAE (vae.* or bare encoder.* / decoder.* keys; conv or diffusion decoder): a split file, or "
        "the replacement of a single-file checkpoint's VAE. Its model_version picks the image CRF default.",
        _MODEL,
        parser=input_file,
        metavar="PATH",
    ),
    OptionSpec(
        "audio_vae_path",
        "--audio-vae-path",
        Path | None,
        None,
        "Split files: the audio VAE and vocoder (audio_vae.*, vocoder.*).",
        _MODEL,
        parser=input_file,
        metavar="PATH",
    ),
    OptionSpec(
        "duration_head_path",
        "--duration-head-path",
        Path | None,
        None,
        "Split files: the LTX-2.5 duration head (duration_head.*), for the automatic clip length.",
        _MODEL,
        parser=input_file,
        metavar="PATH",
    ),
    OptionSpec(
        "spatial_upsampler_path",
        "--spatial-upsampler-path",
        Path,
        ...,
        "Spatial x2 latent upsampler.",
        _MODEL,
        parser=input_file,
        metavar="PATH",
    ),
    OptionSpec(
        "distilled_loras",
        "--distilled-lora",
        list,
        ...,
        "Distilled LoRA for stage 2 and its strength (default 1.0). Repeatable.",
        _MODEL,
        parser=LORA,
        multiple=True,
    ),
    OptionSpec(
        "distilled_lora_strength_stage_1",
        "--distilled-lora-strength-stage-1",
        float,
        0.25,
        "Distilled LoRA strength in stage 1.",
        _MODEL,
    ),
    OptionSpec(
        "distilled_lora_strength_stage_2",
        "--distilled-lora-strength-stage-2",
        float,
        0.5,
        "Distilled LoRA strength in stage 2.",
        _MODEL,
    ),
    OptionSpec(
        "loras",
        "--lora",
        list,
        [],
        "LoRA file and its strength (default 1.0). Repeatable.",
        _MODEL,
        parser=LORA,
        multiple=True,
    ),
    # generation
    OptionSpec(
        "prompt",
        "--prompt",
        str | None,
        None,
        "What the video (and its sound) should show (required unless --jobs gives it).",
        _GEN,
    ),
    OptionSpec(
        "negative_prompt",
        "--negative-prompt",
        str | None,
        None,
        "What to steer away from.",
        _GEN,
        shown_default="the release's list: 1.2.0's 63 defects (has_subtitles, has_blurbox, ..., blurry, ...), "
        "1.1.3's 58 (blurry, out of focus, ...) with --numerics 1.1.3",
    ),
    OptionSpec(
        "seed",
        "--seed",
        int,
        ...,
        "Random seed.",
        _GEN,
        default_from=_params_default("seed"),
        min=-(2**63),
        max=2**64 - 1,
    ),  # what torch.Generator.manual_seed takes
    OptionSpec(
        "height",
        "--height",
        int,
        ...,
        "Output height (multiple of 32; two-stage pipelines: 64).",
        _GEN,
        default_from=_size_default("height"),
        min=1,
    ),
    OptionSpec(
        "width",
        "--width",
        int,
        ...,
        "Output width (multiple of 32; two-stage pipelines: 64).",
        _GEN,
        default_from=_size_default("width"),
        min=1,
    ),
    OptionSpec(
        "num_frames",
        "--num-frames",
        int | None,
        None,
        "Number of frames, 8k+1.",
        _GEN,
        min=1,
        shown_default=f"chosen by the duration head (LTX-2.5 files, 1-20 s), else {NUM_FRAMES_WITHOUT_DURATION_HEAD}",
    ),
    OptionSpec(
        "auto_duration",
        "--auto-duration",
        str,
        None,
        "Let the duration head choose the length between MIN_S and MAX_S seconds (LTX-2.5 files; "
        "--num-frames wins when both are given). Default without either: 1 to 20 s.",
        _GEN,
        parser=SECONDS_RANGE,
        shown_default="1 20 (when --num-frames is not given, on files with a duration head)",
    ),
    OptionSpec(
        "frame_rate",
        "--frame-rate",
        float,
        ...,
        "Frames per second (the MP4 keeps its integer part).",
        _GEN,
        default_from=_params_default("frame_rate"),
        absent="the output keeps the source video's own frame rate",
    ),
    OptionSpec(
        "num_inference_steps",
        "--num-inference-steps",
        int,
        None,
        "Denoising steps.",
        _GEN,
        min=1,
        max=MAX_STEPS,
        from_checkpoint=_params_default("num_inference_steps"),
        checkpoint_note="30 for LTX-2.3, 40 for LTX-2",
    ),
    OptionSpec("images", "--image", list, [], _IMAGE_HELP, _GEN, parser=IMAGE, multiple=True),
    OptionSpec(
        "num_generated_keyframes",
        "--num-generated-keyframes",
        int,
        0,
        "Generate N extra keyframe slots at evenly spaced interior frames together with the video (stage 1 of "
        "two-stage pipelines; each costs one latent frame of tokens). Needs a checkpoint with the keyframe "
        "embedding (LTX-2.5).",
        _GEN,
        min=0,
        metavar="N",
    ),
    OptionSpec("enhance_prompt", "--enhance-prompt", bool, False, "Let Gemma rewrite the prompt first.", _GEN),
    OptionSpec(
        "prompt_enhancer_gemma_root",
        "--prompt-enhancer-gemma-root",
        Path,
        None,
        "With --enhance-prompt: a separate model rewrites the prompt (a Gemma 3 folder, or a dense Gemma 4 "
        "instruct model as a folder or packed .safetensors), built and freed before the text encoder. Needed with "
        "a Gemma-4 (LTX-2.5) text encoder, which only encodes.",
        _GEN,
        metavar="PATH",
    ),
    OptionSpec(
        "enhance_static_cache",
        "--enhance-static-cache",
        bool,
        False,
        "With --enhance-prompt: generate with a static KV cache (faster repeated enhancement on GPU).",
        _GEN,
    ),
    # guidance
    OptionSpec(
        "video_cfg_guidance_scale",
        "--video-cfg-guidance-scale",
        float,
        ...,
        "Video CFG scale.",
        _GUIDE,
        default_from=_guider("video", "cfg_scale"),
    ),
    OptionSpec(
        "video_stg_guidance_scale",
        "--video-stg-guidance-scale",
        float,
        ...,
        "Video STG scale.",
        _GUIDE,
        default_from=_guider("video", "stg_scale"),
    ),
    OptionSpec(
        "video_rescale_scale",
        "--video-rescale-scale",
        float,
        ...,
        "Video guidance rescale.",
        _GUIDE,
        default_from=_guider("video", "rescale_scale"),
    ),
    OptionSpec(
        "video_stg_blocks",
        "--video-stg-blocks",
        str,
        None,
        _BLOCKS_HELP.format("video"),
        _GUIDE,
        parser=INT_LIST,
        from_checkpoint=_guider("video", "stg_blocks"),
    ),
    OptionSpec(
        "a2v_guidance_scale",
        "--a2v-guidance-scale",
        float,
        ...,
        "Audio-to-video modality guidance scale.",
        _GUIDE,
        default_from=_guider("video", "modality_scale"),
    ),
    OptionSpec(
        "video_skip_step",
        "--video-skip-step",
        int,
        ...,
        "Video guidance skip step (0 = never skip).",
        _GUIDE,
        default_from=_guider("video", "skip_step"),
        min=0,
    ),
    OptionSpec(
        "audio_cfg_guidance_scale",
        "--audio-cfg-guidance-scale",
        float,
        ...,
        "Audio CFG scale.",
        _GUIDE,
        default_from=_guider("audio", "cfg_scale"),
    ),
    OptionSpec(
        "audio_stg_guidance_scale",
        "--audio-stg-guidance-scale",
        float,
        ...,
        "Audio STG scale.",
        _GUIDE,
        default_from=_guider("audio", "stg_scale"),
    ),
    OptionSpec(
        "audio_rescale_scale",
        "--audio-rescale-scale",
        float,
        ...,
        "Audio guidance rescale.",
        _GUIDE,
        default_from=_guider("audio", "rescale_scale"),
    ),
    OptionSpec(
        "audio_stg_blocks",
        "--audio-stg-blocks",
        str,
        None,
        _BLOCKS_HELP.format("audio"),
        _GUIDE,
        parser=INT_LIST,
        from_checkpoint=_guider("audio", "stg_blocks"),
    ),
    OptionSpec(
        "v2a_guidance_scale",
        "--v2a-guidance-scale",
        float,
        ...,
        "Video-to-audio modality guidance scale.",
        _GUIDE,
        default_from=_guider("audio", "modality_scale"),
    ),
    OptionSpec(
        "audio_skip_step",
        "--audio-skip-step",
        int,
        ...,
        "Audio guidance skip step (0 = never skip).",
        _GUIDE,
        default_from=_guider("audio", "skip_step"),
        min=0,
    ),
    # runtime
    OptionSpec(
        "quantization",
        "--quantization",
        Quantization | None,
        None,
        "Transformer weight quantization "
        "(fp8-cast: a bf16 checkpoint's block weights stored in fp8, computed in bf16; fp8-scaled-mm: a "
        "pre-quantized fp8 checkpoint run with fp8 matmuls, chosen automatically for such a file).",
        _RUN,
    ),
    OptionSpec("offload", "--offload", Offload, "auto", _OFFLOAD_HELP, _RUN),
    OptionSpec("compile", "--compile", bool, False, "torch.compile the transformer blocks.", _RUN),
    OptionSpec(
        "numerics",
        "--numerics",
        NumericsName,
        "1.2.0",
        "Which official release's arithmetic to reproduce bit for bit: 1.2.0 (current) or 1.1.3 (the earlier "
        "one; docs/numerics.md lists what differs).",
        _RUN,
    ),
    OptionSpec("max_batch_size", "--max-batch-size", int, 1, "Most guidance passes run as one batch.", _RUN, min=1),
    OptionSpec(
        "device",
        "--device",
        str | None,
        None,
        "Torch device such as cuda:1 (unset: current CUDA device, else Apple MPS, else cpu).",
        _RUN,
    ),
    # several processes
    OptionSpec(
        "cfg_parallel",
        "--cfg-parallel",
        int,
        1,
        "Spread the guidance passes (conditional, unconditional, "
        "STG, modality) over K groups of the torchrun processes; the rest of each group splits the video "
        "tokens. K must divide the number of processes. Bitwise the one-process result.",
        _PAR,
        min=1,
        metavar="K",
        absent="it spreads the guidance passes of guided pipelines over the processes, and this "
        "one is not guided (under torchrun it already splits the video tokens over every process)",
    ),
    OptionSpec(
        "shard_weights",
        "--shard-weights",
        bool,
        False,
        "Split the transformer blocks' weights over the "
        "processes of a token group (FSDP2): N GPUs hold about 1/N each, each block gathered just before it "
        "runs. Not with --offload cpu|disk.",
        _PAR,
    ),
    OptionSpec(
        "processes_per_job",
        "--processes-per-job",
        int | None,
        None,
        "With --jobs under torchrun: how many "
        "processes make each job together (the processes form groups of that size, each group taking the next "
        "job). Default: all of them with --cfg-parallel or --shard-weights, else 1 (each process its own jobs).",
        _PAR,
        min=1,
        metavar="N",
    ),
    OptionSpec(
        "dist_timeout",
        "--dist-timeout",
        float,
        300.0,
        "Seconds an exchange between the processes may take, "
        "and a process may give no sign of life, before the run stops with an error naming the lost process "
        "(stopped, killed or hung). Waiting for the first process's own work (loading, prompt encoding, "
        "writing) does not count.",
        _PAR,
        min=1,
        metavar="SECONDS",
    ),
    # output
    OptionSpec(
        "output_path",
        "--output-path",
        Path | None,
        None,
        "The .mp4 to write (missing folders are created; required unless --jobs).",
        _OUT,
        parser=output_file,
        metavar="PATH",
    ),
    OptionSpec(
        "jobs",
        "--jobs",
        Path | None,
        None,
        "A JSON Lines file of jobs, one per line, each an object of this "
        'command\'s options overriding the ones given here (docs/pipelines.md, "Many videos"): models load '
        "once, bad jobs are reported by line and skipped, existing outputs are skipped (rerun to resume).",
        _OUT,
        parser=input_file,
        metavar="FILE",
    ),
    OptionSpec(
        "output_dir",
        "--output-dir",
        Path | None,
        None,
        "With --jobs: where jobs without an output_path "
        "write (named from their line, seed and prompt) and where the results file goes.",
        _OUT,
        parser=output_dir,
        metavar="DIR",
    ),
    OptionSpec("overwrite", "--overwrite", bool, False, "With --jobs: redo jobs whose output exists.", _OUT),
    OptionSpec("quiet", "--quiet", bool, False, "No progress and no summary (errors are still printed).", _OUT),
    OptionSpec(
        "hdr",
        "--hdr",
        str | None,
        None,
        "Native HDR in the given colour space (any case): SRGB_LINEAR (scene-linear Rec.709), ACESCG (scene-linear "
        "AP1) or ACESCCT (ACEScct codes). --image takes .exr stills in that space (IC-LoRA's --video-conditioning "
        "and Retake's --video-path folders of EXR frames; all inputs EXR or none); the "
        "output is a 10-bit BT.2020 / HLG HEVC master at --output-path plus half-float EXR frames in "
        "<output stem>_exr/. Needs the optional extra: pip install 'ltx-pipelines[hdr]'.",
        _OUT,
        parser=hdr_color_space,
        metavar="SRGB_LINEAR|ACESCG|ACESCCT",
        shown_default="SDR",
        absent=f"native HDR is available in {', '.join(HDR_PIPELINES)} (Dub-It has none, as in the official)",
    ),
)
OPTIONS: Mapping[str, OptionSpec] = {spec.name: spec for spec in _ALL}

# Presets mirroring the official parsers (spec 16.1).
MODEL_FILES = (
    "gemma_root",
    "transformer_path",
    "text_encoder_path",
    "video_vae_path",
    "audio_vae_path",
    "duration_head_path",
)
BASIC = (
    *MODEL_FILES,
    "prompt",
    "output_path",
    "seed",
    "loras",
    "enhance_prompt",
    "prompt_enhancer_gemma_root",
    "enhance_static_cache",
    "offload",
    "max_batch_size",
    "quantization",
    "compile",
    "numerics",
    "device",
    "shard_weights",
    "dist_timeout",
    "jobs",
    "output_dir",
    "overwrite",
    "processes_per_job",
    "quiet",
)
VIDEO_GEN = ("height", "width", "num_frames", "frame_rate", "images")
GUIDANCE = (
    "negative_prompt",
    "video_cfg_guidance_scale",
    "video_stg_guidance_scale",
    "video_rescale_scale",
    "video_stg_blocks",
    "a2v_guidance_scale",
    "video_skip_step",
    "audio_cfg_guidance_scale",
    "audio_stg_guidance_scale",
    "audio_rescale_scale",
    "audio_stg_blocks",
    "v2a_guidance_scale",
    "audio_skip_step",
    "cfg_parallel",
)
ONE_STAGE = ("checkpoint_path", "num_inference_steps", *BASIC, *VIDEO_GEN, *GUIDANCE)
TWO_STAGE = (*ONE_STAGE, "distilled_loras", "spatial_upsampler_path")
HQ_TWO_STAGE = (*TWO_STAGE, "distilled_lora_strength_stage_1", "distilled_lora_strength_stage_2")
DISTILLED_TWO_STAGE = ("distilled_checkpoint_path", *BASIC, *VIDEO_GEN, "spatial_upsampler_path")
VIDEO_EDITING = ("distilled_checkpoint_path", *BASIC)
AUTO_DURATION = ("auto_duration",)  # the pipelines whose length the duration head may choose (delta C.4)
# Text to audio (spec new_pipelines §3): no size, image, video guidance or modality flags.
TEXT_TO_AUDIO = (
    "checkpoint_path",
    "num_inference_steps",
    *BASIC,
    "num_frames",
    "auto_duration",
    "frame_rate",
    "negative_prompt",
    "audio_cfg_guidance_scale",
    "audio_stg_guidance_scale",
    "audio_rescale_scale",
    "audio_stg_blocks",
    "audio_skip_step",
    "cfg_parallel",
)
