"""`python -m ltx_pipelines.a2vid_two_stage`: a video made to a given soundtrack."""

from __future__ import annotations

from pathlib import Path

import typer

from ltx_core.errors import InputError
from ltx_core.types import Audio
from ltx_pipelines.a2vid_two_stage import A2VidPipelineTwoStage
from ltx_pipelines.cli.app import PipelineCli
from ltx_pipelines.cli.options import TWO_STAGE, CommonArgs
from ltx_pipelines.cli.preflight import components, preflight
from ltx_pipelines.cli.runtime import Generation, checks, cli_images, pipeline
from ltx_pipelines.cli.values import input_file
from ltx_pipelines.utils.constants import LTX_2_3_PARAMS, NUM_FRAMES_WITHOUT_DURATION_HEAD
from ltx_pipelines.utils.source_media import is_silent, load_source_audio

_AUDIO_HELP = (
    "Soundtrack to animate: any audio or video file PyAV reads (its first audio stream). Mono is used as both "
    "channels; a track shorter than the video is padded with silence; a silent track, a file without audio or an "
    "unreadable file is refused. The MP4 carries this audio unchanged."
)


def a2vid_preflight(args: CommonArgs, audio_path: Path, audio_start_time: float, audio_max_duration: float) -> Audio:
    """Checks on headers and small files before any model is built (a failure exits with 2); returns the soundtrack
    so that an unreadable, empty or silent one is reported now."""
    needed = components(
        "transformer",
        "text projection",
        "video VAE encoder",
        "video VAE decoder",
        "video latent statistics",
        "audio VAE encoder",
    )
    preflight(
        args,
        args.models,
        needed,
        upsampler=args.upsampler,
        loras=(*args.loras, *args.distilled_loras),
        images=args.images,
    )
    if audio_start_time < 0:
        raise InputError(f"--audio-start-time {audio_start_time} is negative; valid: 0 or more seconds")
    if audio_max_duration <= 0:
        raise InputError(f"--audio-max-duration {audio_max_duration} must be positive (seconds)")
    track = load_source_audio(audio_path, audio_start_time, audio_max_duration)
    assert track is not None
    if is_silent(track):
        raise InputError(
            f"--audio-path {audio_path.name} is silent from {audio_start_time} s on: nothing to "
            "animate; use a text/image-to-video pipeline instead"
        )
    return track


AUDIO_PATH = typer.Option(..., "--audio-path", help=_AUDIO_HELP, parser=input_file, metavar="PATH")
AUDIO_START_TIME = typer.Option(0.0, "--audio-start-time", help="Where the soundtrack starts (s).")
AUDIO_MAX_DURATION = typer.Option(
    None, "--audio-max-duration", help="Seconds of audio to use. Default: the video's length."
)


def a2vid_two_stage(
    args: CommonArgs,
    audio_path: Path = AUDIO_PATH,
    audio_start_time: float = AUDIO_START_TIME,
    audio_max_duration: float | None = AUDIO_MAX_DURATION,
) -> Generation:
    """Stage 1 at half size (video guidance; the audio stays frozen), x2 upsampling, stage 2 with the distilled
    LoRA, MP4 with the original soundtrack. Audio guidance flags are accepted for compatibility but have no
    effect: the audio is never denoised."""
    duration = audio_max_duration if audio_max_duration is not None else args.num_frames / args.frame_rate
    with checks():  # the soundtrack is read and cut to [start, start + duration) here
        soundtrack = a2vid_preflight(args, audio_path, audio_start_time, duration)
    checkpoints = (args.models, args.distilled_loras, args.upsampler, args.gemma_root, args.loras)
    build = pipeline(args, A2VidPipelineTwoStage, *checkpoints, args.device)
    names = (
        "seed",
        "height",
        "width",
        "num_frames",
        "frame_rate",
        "negative_prompt",
        "num_inference_steps",
        "enhance_prompt",
        "max_batch_size",
    )
    call = {
        "prompt": args.prompt,
        "audio": soundtrack,
        **args.pick(*names),
        "video_guider_params": args.video_guider_params(),
        "images": cli_images(args),
        "color_space": args.hdr,
    }
    return Generation(args, build, call)


COMMANDS = {
    # The official 1.2.0 A2Vid CLI takes its defaults from the checkpoint; 1.1.3's always used LTX-2.3's (delta
    # A.14). No auto duration: 121 frames by default.
    "a2vid_two_stage": PipelineCli(
        "Audio to video (LTX-2 / LTX-2.3 full model, two stages): a video made to a soundtrack.",
        (*TWO_STAGE, "hdr"),
        a2vid_two_stage,
        params=LTX_2_3_PARAMS,
        detect_under_1_1_3=False,
        two_stage=True,
        defaults={"num_frames": NUM_FRAMES_WITHOUT_DURATION_HEAD},
    )
}
