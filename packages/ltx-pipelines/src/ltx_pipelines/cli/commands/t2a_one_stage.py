"""`python -m ltx_pipelines.t2a_one_stage`: text to audio, written as a WAV."""

from __future__ import annotations

from ltx_pipelines.cli.app import PipelineCli
from ltx_pipelines.cli.options import TEXT_TO_AUDIO, CommonArgs
from ltx_pipelines.cli.preflight import components, preflight
from ltx_pipelines.cli.runtime import Generation, checks, pipeline
from ltx_pipelines.cli.values import wav_output_file
from ltx_pipelines.t2a_one_stage import T2AOneStagePipeline

# What text to audio reads from the checkpoint (no video VAE, no video transformer).
NEEDED = components("audio transformer", "text projection", "audio VAE decoder", "vocoder")


def t2a_one_stage(args: CommonArgs) -> Generation:
    """One guided stage of the audio stream (CFG, STG; no video: no modality pass), audio decode, write the WAV."""
    with checks():
        preflight(args, args.models, NEEDED, loras=args.loras)  # --auto-duration without a head: refused in parsing
    build = pipeline(args, T2AOneStagePipeline, args.models, args.gemma_root, args.loras, args.device)
    values = args.pick("seed", "num_frames", "frame_rate", "num_inference_steps", "enhance_prompt", "max_batch_size")
    call = {
        "prompt": args.prompt,
        "negative_prompt": args.negative_prompt,
        **values,
        "audio_guider_params": args.audio_guider_params(),
    }
    return Generation(args, build, call)


COMMANDS = {
    "t2a_one_stage": PipelineCli(
        "LTX-2.3 / LTX-2.5 full model: prompt to sound (speech, sound effects, music) as a stereo WAV, no video; one "
        "guided stage of the audio stream only. Takes a full checkpoint or an audio-only one.",
        TEXT_TO_AUDIO,
        t2a_one_stage,
        helps={
            "checkpoint_path": "Full (not distilled) LTX-2.3 / LTX-2.5 checkpoint or an audio-only one (.safetensors).",
            "output_path": "The .wav to write (16-bit PCM stereo at the vocoder's rate; missing folders are created; "
            "required unless --jobs).",
            "prompt": "What the audio should sound like (required unless --jobs gives it).",
            "num_frames": "Length in frames at --frame-rate, 8k+1 (the audio lasts num_frames / frame_rate seconds).",
            "frame_rate": "Frames per second of --num-frames and of the duration head's choice (sets the length only).",
        },
        parsers={"output_path": wav_output_file},
        output_suffix=".wav",
    )
}
