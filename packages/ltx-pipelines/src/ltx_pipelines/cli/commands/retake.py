"""`python -m ltx_pipelines.retake`: regenerate a time window of a clip, with the distilled or the full model; with
--hdr the clip may be a folder of EXR frames (spec NP 5)."""

from __future__ import annotations

from pathlib import Path

import typer

from ltx_core.errors import InputError
from ltx_core.loader.model_paths import ModelPaths
from ltx_pipelines.cli.app import PipelineCli, given_on_command_line
from ltx_pipelines.cli.options import BASIC, GUIDANCE, CommonArgs
from ltx_pipelines.cli.preflight import check_hdr, components, preflight
from ltx_pipelines.cli.runtime import Generation, checks, pipeline
from ltx_pipelines.cli.values import input_file_or_dir
from ltx_pipelines.media.video import read_video_info
from ltx_pipelines.retake import RetakePipeline
from ltx_pipelines.utils.source_media import check_source_geometry

_VIDEO_HELP = (
    "The clip to retake. Its size (multiples of 32), frame count (8k+1) and fps are kept; a clip that does not fit "
    "is refused with the nearest valid values. Without an audio track the soundtrack is generated for the whole clip "
    "(or left out with --no-regenerate-audio). With --hdr, a folder of EXR frames (every *.exr, sorted by name; "
    "give its --frame-rate; no audio track)."
)
_FRAME_RATE_HELP = "Frames per second of an EXR frame folder (--video-path DIR with --hdr; required there, as a folder "
_FRAME_RATE_HELP += "has none). A video file keeps its own frame rate."


def checkpoint_choice(args: CommonArgs) -> tuple[Path | ModelPaths, bool]:
    """(model files, distilled) from exactly one of --distilled-checkpoint-path and --checkpoint-path; split files
    (--transformer-path ...) run as the full model, guided (nothing in a split file says it is distilled)."""
    if args.split_flags:
        return args.models, False
    given = [(p, d) for p, d in ((args.distilled_checkpoint_path, True), (args.checkpoint_path, False)) if p]
    if len(given) != 1:
        raise InputError(
            "give exactly one of --distilled-checkpoint-path (distilled model, 8 fixed steps) and --checkpoint-path "
            f"(full model, guided); got {len(given)}"
        )
    return args.models, given[0][1]


def retake_preflight(args: CommonArgs, video_path: Path, start_time: float, end_time: float) -> None:
    """Checks on headers before any model is built or any frame decoded (a failure exits with 2)."""
    checkpoint, _ = checkpoint_choice(args)
    needed = components(
        "transformer",
        "text projection",
        "video VAE encoder",
        "video VAE decoder",
        "audio VAE encoder",
        "audio VAE decoder",
        "vocoder",
    )
    preflight(args, checkpoint, needed, loras=args.loras)
    frames, fps = check_source(args, video_path)
    if start_time < 0:
        raise InputError(f"--start-time {start_time} is negative; valid: 0 or more seconds")
    if not start_time < end_time:
        raise InputError(f"--start-time {start_time} must be before --end-time {end_time}")
    duration = frames / fps
    if start_time >= duration or end_time <= 0:
        raise InputError(
            f"window [{start_time}, {end_time}) s lies outside {video_path.name}, which lasts {duration:.3f} s; "
            f"valid start times: 0 to {duration:.3f}"
        )


def check_frame_rate(args: CommonArgs, video_path: Path) -> bool:
    """--frame-rate goes with an EXR frame folder (required: a folder has no frame rate) and only with one (a video
    file keeps its own); whether the source is EXR frames (they need --hdr; spec NP 5)."""
    exr = check_hdr(args, [video_path])
    if exr and not video_path.is_dir():
        raise InputError(f"--video-path {video_path.name}: give a folder of EXR frames, not one EXR file")
    if exr and args.frame_rate is None:
        raise InputError(
            f"--video-path {video_path.name} is a folder of EXR frames, which has no frame rate: give --frame-rate"
        )
    if not exr and args.frame_rate is not None:
        raise InputError(
            f"--frame-rate is only for a folder of EXR frames (with --hdr): --video-path {video_path.name} keeps its "
            "own frame rate; drop --frame-rate"
        )
    return exr


def check_source(args: CommonArgs, video_path: Path) -> tuple[int, float]:
    """(frames, fps) of the source from its header or its first EXR frame, checked as the pipeline checks it."""
    if check_frame_rate(args, video_path):
        from ltx_pipelines.media.exr import exr_folder_files, read_exr

        files = exr_folder_files(video_path)
        height, width = read_exr(files[0]).shape[:2]
        check_source_geometry(len(files), height, width, where=f"--video-path {video_path.name}")
        assert args.frame_rate is not None
        return len(files), args.frame_rate
    info = read_video_info(video_path)
    check_source_geometry(info.frames, info.height, info.width, where=f"--video-path {video_path.name}")
    return info.frames, info.fps


VIDEO_PATH = typer.Option(..., "--video-path", help=_VIDEO_HELP, parser=input_file_or_dir, metavar="PATH")
START_TIME = typer.Option(..., "--start-time", help="Start of the window to regenerate (s).")
END_TIME = typer.Option(..., "--end-time", help="End of the window to regenerate (s, exclusive).")
REGENERATE_VIDEO = typer.Option(True, "--regenerate-video/--no-regenerate-video", help="Regenerate the video window.")
REGENERATE_AUDIO = typer.Option(True, "--regenerate-audio/--no-regenerate-audio", help="Regenerate the audio window.")


def retake(
    args: CommonArgs,
    video_path: Path = VIDEO_PATH,
    start_time: float = START_TIME,
    end_time: float = END_TIME,
    regenerate_video: bool = REGENERATE_VIDEO,
    regenerate_audio: bool = REGENERATE_AUDIO,
) -> Generation:
    """Regenerate [--start-time, --end-time) of --video-path at its own size, frame count and fps; everything
    outside the window is kept. --distilled-checkpoint-path: the fixed 8-step distilled table (no guidance;
    --num-inference-steps is ignored, with a note). --checkpoint-path: the full model with CFG/STG/modality
    guidance over --num-inference-steps steps."""
    with checks():
        if not (regenerate_video or regenerate_audio):
            raise InputError("--no-regenerate-video with --no-regenerate-audio leaves nothing to do; drop one")
        check_frame_rate(args, video_path)  # before the files are opened
        retake_preflight(args, video_path, start_time, end_time)
        checkpoint, distilled = checkpoint_choice(args)
    build = pipeline(args, RetakePipeline, checkpoint, args.gemma_root, args.loras, args.device, distilled=distilled)
    steps_given = given_on_command_line("num_inference_steps")
    call = {
        "video": video_path,
        "prompt": args.prompt,
        "start_time": start_time,
        "end_time": end_time,
        "seed": args.seed,
        "num_inference_steps": args.num_inference_steps if steps_given or not distilled else None,
        **args.pick("negative_prompt", "enhance_prompt", "max_batch_size"),
        "video_guider_params": args.video_guider_params(),
        "audio_guider_params": args.audio_guider_params(),
        "regenerate_video": regenerate_video,
        "regenerate_audio": regenerate_audio,
        "frame_rate": args.frame_rate,
        "color_space": args.hdr,
    }
    return Generation(args, build, call)


COMMANDS = {
    "retake": PipelineCli(
        "Retake (LTX-2 / LTX-2.3): regenerate a time window of an existing clip, keep the rest.",
        ("distilled_checkpoint_path", "checkpoint_path", "num_inference_steps", *BASIC, *GUIDANCE, "frame_rate", "hdr"),
        retake,
        defaults={"distilled_checkpoint_path": None, "checkpoint_path": None, "frame_rate": None},
        helps={"frame_rate": _FRAME_RATE_HELP},
    )
}
