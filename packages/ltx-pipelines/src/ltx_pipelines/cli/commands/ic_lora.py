"""The IC-LoRA commands (distilled model + an in-context LoRA and a reference video): `ic_lora` and `dubit` (with
`lipdub`, its old name)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
import typer

from ltx_core.errors import InputError
from ltx_pipelines.cli.app import PipelineCli, multi_value_option
from ltx_pipelines.cli.options import BASIC, DISTILLED_TWO_STAGE, CommonArgs
from ltx_pipelines.cli.preflight import GENERATION, check_hdr, components, preflight
from ltx_pipelines.cli.runtime import Generation, checks, cli_images, pipeline
from ltx_pipelines.cli.values import PATH_STRENGTH, SOURCE_STRENGTH, PathStrengthArg, input_file
from ltx_pipelines.dubit import DubItPipeline
from ltx_pipelines.ic_lora import ICLoraPipeline
from ltx_pipelines.media.exr import exr_folder_files, read_exr
from ltx_pipelines.utils.blocks import resolve_device
from ltx_pipelines.utils.constants import NUM_FRAMES_WITHOUT_DURATION_HEAD
from ltx_pipelines.utils.ic_reference import (
    VideoConditioningInput,
    check_attention_strength,
    check_distilled_checkpoint,
    load_attention_mask_video,
    lora_downscale_factor,
    probe_video,
)


def ic_preflight(
    args: CommonArgs,
    *,
    pipeline: str,
    needed: Sequence[tuple[str, str]] = components(*GENERATION, "video VAE encoder"),
    loras_required: bool = False,
    exactly_one_lora: bool = False,
) -> None:
    """Every check that needs only file headers and small files, before any model is built."""
    check_distilled_checkpoint(args.models, pipeline)
    if exactly_one_lora and len(args.loras) != 1:
        raise InputError(f"the {pipeline} pipeline takes exactly one IC-LoRA (--lora PATH); got {len(args.loras)}")
    if loras_required and not args.loras:
        raise InputError(f"the {pipeline} pipeline needs an IC-LoRA; pass it with --lora PATH [STRENGTH]")
    preflight(args, args.models, needed, upsampler=args.upsampler, loras=args.loras, images=args.images)
    for lora in args.loras:
        lora_downscale_factor(lora.path)


VIDEO_CONDITIONING = multi_value_option(
    SOURCE_STRENGTH,
    "--video-conditioning",
    "Reference (control) video and its strength in [0, 1]; with --hdr, a folder of EXR frames. Repeatable.",
    required=True,
)
ATTENTION_MASK = multi_value_option(
    PATH_STRENGTH,
    "--conditioning-attention-mask",
    "Mask video (white = attend to the reference) and the attention strength in [0, 1].",
)
SKIP_STAGE_2 = typer.Option(
    False, "--skip-stage-2", help="Stop after stage 1: half-resolution output, no upsampling or refinement."
)


def ic_lora(
    args: CommonArgs,
    video_conditioning: list[PathStrengthArg] = VIDEO_CONDITIONING,
    conditioning_attention_mask: list[PathStrengthArg] = ATTENTION_MASK,
    skip_stage_2: bool = SKIP_STAGE_2,
) -> Generation:
    """Stage 1 at half size with the IC-LoRA and the reference video(s), x2 upsampling, stage 2, MP4."""
    masks = conditioning_attention_mask
    with checks():
        if len(masks) > 1:
            raise InputError(f"--conditioning-attention-mask was given {len(masks)} times; give it once")
        for mask in masks:
            check_attention_strength(mask.strength)
        for reference in video_conditioning:
            if not 0.0 <= reference.strength <= 1.0:
                name, strength = reference.path.name, reference.strength
                raise InputError(f"--video-conditioning {name}: STRENGTH {strength} is outside [0, 1]")
        ic_preflight(args, pipeline="IC-LoRA", loras_required=True)
        references = [reference.path for reference in video_conditioning]
        if check_hdr(args, [*(image.path for image in args.images), *references]):
            for folder in references:
                read_exr(exr_folder_files(folder, frame_cap=1)[0])  # a folder with a readable first frame
        else:
            for reference in references:
                probe_video(reference, "--video-conditioning")
        for mask in masks:
            probe_video(mask.path, "--conditioning-attention-mask")
    device = resolve_device(args.device)
    build = pipeline(args, ICLoraPipeline, args.models, args.upsampler, args.gemma_root, args.loras, device)
    call = {
        "prompt": args.prompt,
        **args.pick("seed", "height", "width", "num_frames", "frame_rate", "enhance_prompt"),
        "images": cli_images(args),
        "video_conditioning": [VideoConditioningInput(r.path, r.strength) for r in video_conditioning],
        "conditioning_attention_strength": masks[0].strength if masks else 1.0,
        "skip_stage_2": skip_stage_2,
        "color_space": args.hdr,
    }

    def late() -> dict[str, Any]:
        """The mask video, decoded on the device when the job runs."""
        if not masks:
            return {}
        half = (args.height // 2, args.width // 2)
        mask = load_attention_mask_video(masks[0].path, args.num_frames, *half, torch.bfloat16, device)
        return {"conditioning_attention_mask": mask}

    return Generation(args, build, call, late)


REFERENCE_VIDEO = typer.Option(
    ...,
    "--reference-video",
    parser=input_file,
    metavar="PATH",
    help="The clip to dub: its frames (snapped down to 8k+1), fps and audio track set the output.",
)
REFERENCE_STRENGTH = typer.Option(1.0, "--reference-strength", help="Reference video conditioning strength in [0, 1].")


def dubit(
    args: CommonArgs, reference_video: Path = REFERENCE_VIDEO, reference_strength: float = REFERENCE_STRENGTH
) -> Generation:
    """Half-size stage 1, x2 upsampling, full-size stage 2, both with the Dub-It IC-LoRA; writes the MP4."""
    with checks():
        if not 0.0 <= reference_strength <= 1.0:
            raise InputError(f"--reference-strength {reference_strength} is outside [0, 1]")
        needed = components(*GENERATION, "video VAE encoder", "audio VAE encoder")
        ic_preflight(args, pipeline="Dub-It", needed=needed, exactly_one_lora=True)
        probe_video(reference_video, "--reference-video", audio=True)
    build = pipeline(args, DubItPipeline, args.models, args.upsampler, args.gemma_root, args.loras[0], args.device)
    call = {
        "prompt": args.prompt,
        **args.pick("seed", "height", "width", "enhance_prompt"),
        "images": [],
        "reference_video": reference_video,
        "reference_strength": reference_strength,
    }
    return Generation(args, build, call)


COMMANDS = {
    "ic_lora": PipelineCli(
        "IC-LoRA video-to-video (distilled LTX-2 / LTX-2.3): a control video steers the generation.",
        (*DISTILLED_TWO_STAGE, "hdr"),
        ic_lora,
        two_stage=True,
        defaults={"num_frames": NUM_FRAMES_WITHOUT_DURATION_HEAD},  # no auto duration (delta C.4)
        helps={"loras": "IC-LoRA file and its strength (default 1.0); at least one. Repeatable."},
    ),
    "dubit": PipelineCli(
        "Dub-It, formerly lip dubbing (distilled LTX-2.3 + Dub-It IC-LoRA): re-render a clip to match its audio.",
        ("distilled_checkpoint_path", *BASIC, "height", "width", "spatial_upsampler_path"),
        dubit,
        two_stage=True,
        helps={"loras": "The Dub-It (lip-dub) IC-LoRA and its strength (default 1.0); exactly one."},
    ),
}
COMMANDS["lipdub"] = replace(
    COMMANDS["dubit"], help="The old name of python -m ltx_pipelines.dubit (Dub-It, formerly lip dubbing)."
)
