"""Retake and A2Vid end to end on a generated tiny LTX-2.3 checkpoint set: the MP4s they write, what is kept and
what is regenerated, the soundtrack handling (window, mono, too short, silent, missing, unreadable), and one-line
errors with exit code 2 and no file for each class of bad input (determinism and shapes: the shared pipeline tester).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from ltx_core.errors import InputError
from ltx_core.types import Audio
from ltx_pipelines.a2vid_two_stage import A2VidPipelineTwoStage
from ltx_pipelines.cli.commands import build_app
from ltx_pipelines.media.mp4 import write_mp4
from ltx_pipelines.media.video import VideoClip
from ltx_pipelines.retake import RetakePipeline

SIZE, FRAMES, FPS = 64, 9, 24.0  # 2 latent frames: [0, 1/24) and [1/24, 9/24) s
WINDOW = (0.1, 0.3)  # overlaps latent frame 1 only
RATE = 16000


@pytest.fixture(scope="module")
def tiny(tiny_sets: dict[str, Path]) -> Path:
    return tiny_sets["ltx23"]


def _frames(frames: int = FRAMES, size: int = SIZE) -> torch.Tensor:
    rng = np.random.default_rng(0)
    small = torch.from_numpy(rng.random((1, 3, 3, 3, 3), dtype=np.float32))
    big = torch.nn.functional.interpolate(small, size=(frames, size, size), mode="trilinear")
    return (big[0].permute(1, 2, 3, 0) * 255).to(torch.uint8)


def _tones(seconds: float, channels: int = 2, rate: int = RATE) -> torch.Tensor:
    t = torch.arange(round(seconds * rate)) / rate
    wave = torch.stack([0.5 * torch.sin(2 * torch.pi * f * t) for f in (220.0, 330.0)[:channels]])
    return wave.float()


def _write_wav(path: Path, wave: torch.Tensor, rate: int = RATE) -> Path:
    layout = "stereo" if wave.shape[0] == 2 else "mono"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=rate, layout=layout)
        pcm = (wave.clamp(-1, 1) * 32767).to(torch.int16).T.contiguous().numpy().reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout=layout)
        frame.sample_rate, frame.pts, frame.time_base = rate, 0, Fraction(1, rate)
        container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("media")
    seconds = FRAMES / FPS
    files = {
        "clip": write_mp4(d / "clip.mp4", _frames().float() / 255, FPS, Audio(_tones(seconds), RATE)),
        "silent_clip": write_mp4(d / "silent_clip.mp4", _frames().float() / 255, FPS),  # no audio stream
        "ten_frames": write_mp4(d / "ten.mp4", _frames(10).float() / 255, FPS),
        "odd_size": write_mp4(d / "odd.mp4", _frames(9, 80).float() / 255, FPS),
        "tones": _write_wav(d / "tones.wav", _tones(1.0)),
        "silence": _write_wav(d / "silence.wav", torch.zeros(2, RATE)),
        "garbage": d / "garbage.wav",
    }
    files["garbage"].write_bytes(b"RIFF0000WAVEnot really audio")
    return files


def _invoke(app: object, args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(app, args)  # type: ignore[arg-type]
    return result.exit_code, " ".join(result.output.replace("│", " ").split())


def _read_mp4(path: Path) -> tuple[int, int, int, float, int | None]:
    """(frames, height, width, fps, audio channels or None)."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        frames = sum(1 for _ in container.decode(video=0))
        fps = float(video.average_rate)
        channels = container.streams.audio[0].channels if container.streams.audio else None
        return frames, video.height, video.width, fps, channels


# --- retake ------------------------------------------------------------------------------------------------------


def _retake_args(tiny: Path, video: Path, out: Path, *extra: str, distilled: bool = True) -> list[str]:
    flag, name = ("--distilled-checkpoint-path", "distilled") if distilled else ("--checkpoint-path", "dev")
    return [
        flag,
        str(tiny / f"{name}.safetensors"),
        "--gemma-root",
        str(tiny / "gemma"),
        "--video-path",
        str(video),
        "--start-time",
        str(WINDOW[0]),
        "--end-time",
        str(WINDOW[1]),
        "--prompt",
        "a fox",
        "--output-path",
        str(out),
        "--quiet",
        *extra,
    ]


def test_retake_cli_distilled_source_without_audio(tiny: Path, media: dict[str, Path], tmp_path: Path) -> None:
    """No audio track: the soundtrack is generated for the whole clip; the MP4 keeps the source's geometry."""
    out = tmp_path / "out.mp4"
    code, text = _invoke(build_app("retake"), _retake_args(tiny, media["silent_clip"], out))
    assert code == 0, text
    assert _read_mp4(out) == (FRAMES, SIZE, SIZE, FPS, 2)
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


def test_retake_cli_full_model_keeping_audio(tiny: Path, media: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    guide = ["--num-inference-steps", "2", "--video-stg-blocks", "1", "--audio-stg-blocks", "1"]
    args = _retake_args(tiny, media["clip"], out, *guide, "--no-regenerate-audio", distilled=False)
    code, text = _invoke(build_app("retake"), args)
    assert code == 0, text
    assert _read_mp4(out) == (FRAMES, SIZE, SIZE, FPS, 2)


def test_retake_keeps_outside_and_regenerates_inside(components: Any) -> None:
    contexts = components.positive
    pipeline = RetakePipeline(components.distilled, None, device="cpu", cache_transformer=True)
    clip, audio = VideoClip(_frames(), FPS), Audio(_tones(FRAMES / FPS), RATE)
    rec: dict[str, torch.Tensor] = {}
    result = pipeline(clip, contexts, *WINDOW, 3, source_audio=audio, record=rec.__setitem__)
    result.video.close()
    video_latent, audio_latent = result.video_latent, result.audio_latent
    source = rec["source_video_latent"]
    assert torch.equal(video_latent[:, :, 0], source[:, :, 0])  # the kept latent frame: exactly the source's
    assert not torch.allclose(video_latent[:, :, 1], source[:, :, 1], atol=0.1)  # the window: regenerated
    keep = rec["stage1_audio_denoise_mask"][0, :, 0] == 0
    kept_audio = audio_latent[0, :, keep]  # type: ignore[index]
    assert keep.any() and (~keep).any()
    assert torch.equal(kept_audio, rec["source_audio_latent"][0, :, keep])


def test_retake_options(components: Any) -> None:
    contexts = components.positive
    pipeline = RetakePipeline(components.distilled, None, device="cpu", cache_transformer=True)
    clip, audio = VideoClip(_frames(), FPS), Audio(_tones(FRAMES / FPS), RATE)
    recorded: dict[str, torch.Tensor] = {}
    result = pipeline(
        clip,
        contexts,
        *WINDOW,
        1,
        source_audio=audio,
        regenerate_audio=False,
        num_inference_steps=20,
        record=recorded.__setitem__,
    )
    result.video.close()
    assert any("ignored" in note for note in result.notes)  # the fixed 8-step table, said so
    assert recorded["stage1_calls_sigma"].shape == (8,)
    assert not recorded["stage1_audio_denoise_mask"].any()  # audio frozen: walked back to the source
    assert torch.allclose(result.audio_latent.float(), recorded["source_audio_latent"].float(), atol=0.02)
    # no source audio and regenerate_audio off: a video-only stage, no audio in the result
    without = pipeline(clip, contexts, *WINDOW, 1, regenerate_audio=False)
    without.video.close()
    assert without.audio is None and without.audio_latent is None
    assert any("no audio track" in n for n in without.notes)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("frames", "frame count 10 must be 8k+1 (1, 9, 17, ..., 121, ...); nearest valid: 9"),
        ("size", "height 80 must be a positive multiple of 32; nearest valid: 64 or 96"),
        ("window_order", "must be before --end-time"),
        ("window_outside", "lies outside"),
        ("negative_start", "--start-time -0.1 is negative; valid: 0 or more seconds"),
        ("both_checkpoints", "exactly one of"),
        ("nothing", "leaves nothing to do"),
    ],
)
def test_retake_bad_input_exit_2(tiny: Path, media: dict[str, Path], tmp_path: Path, case: str, expected: str) -> None:
    out = tmp_path / "out.mp4"
    video, extra = media["clip"], []
    if case == "frames":
        video = media["ten_frames"]
    elif case == "size":
        video = media["odd_size"]
    elif case == "window_order":
        extra = ["--start-time", "0.3", "--end-time", "0.1"]
    elif case == "window_outside":
        extra = ["--start-time", "5", "--end-time", "6"]
    elif case == "negative_start":
        extra = ["--start-time", "-0.1", "--end-time", "0.3"]
    elif case == "both_checkpoints":
        extra = ["--checkpoint-path", str(tiny / "dev.safetensors")]
    elif case == "nothing":
        extra = ["--no-regenerate-video", "--no-regenerate-audio"]
    code, text = _invoke(build_app("retake"), _retake_args(tiny, video, out, *extra))
    assert code == 2, text
    assert expected in text and text.startswith("error:"), text
    assert not out.exists()


# --- A2Vid -------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def a2vid(components: Any) -> A2VidPipelineTwoStage:
    return A2VidPipelineTwoStage(components.dev, [components.lora], components.dev, None, device="cpu")


@pytest.fixture(scope="module")
def prompts(components: Any) -> dict[str, object]:
    """Precomputed prompt and negative prompt (the shared tester's in-memory contexts)."""
    return {"prompt": components.positive, "negative_prompt": components.negative}


_GUIDE = ["--video-stg-blocks", "1", "--audio-stg-blocks", "1", "--num-inference-steps", "2"]


def _a2vid_args(tiny: Path, audio: Path, out: Path, *extra: str) -> list[str]:
    return [
        "--checkpoint-path",
        str(tiny / "dev.safetensors"),
        "--gemma-root",
        str(tiny / "gemma"),
        "--distilled-lora",
        str(tiny / "distilled_lora.safetensors"),
        "0.8",
        "--spatial-upsampler-path",
        str(tiny / "spatial_upsampler_x2.safetensors"),
        "--audio-path",
        str(audio),
        "--prompt",
        "a fox",
        "--height",
        str(SIZE),
        "--width",
        str(SIZE),
        "--num-frames",
        str(FRAMES),
        "--frame-rate",
        str(FPS),
        "--output-path",
        str(out),
        "--quiet",
        *_GUIDE,
        *extra,
    ]


def test_a2vid_cli_writes_mp4_with_the_soundtrack(tiny: Path, media: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    argv = _a2vid_args(tiny, media["tones"], out, "--audio-start-time", "0.25")
    code, text = _invoke(build_app("a2vid_two_stage"), argv)
    assert code == 0, text
    assert _read_mp4(out) == (FRAMES, SIZE, SIZE, FPS, 2)
    with av.open(str(out)) as container:
        stream = container.streams.audio[0]
        assert stream.rate == RATE
        samples = sum(f.samples for f in container.decode(audio=0))
    assert abs(samples / RATE - FRAMES / FPS) < 2048 / RATE  # cut to the video's length (AAC adds < 2 frames)
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


def test_a2vid_returns_the_input_audio_window_frozen(a2vid: A2VidPipelineTwoStage, prompts: dict) -> None:
    wave = _tones(1.0)
    recorded: dict[str, torch.Tensor] = {}
    result = a2vid(
        prompts["prompt"],
        5,
        SIZE,
        SIZE,
        FRAMES,
        FPS,
        Audio(wave, RATE),
        num_inference_steps=2,
        negative_prompt=prompts["negative_prompt"],
        audio_start_time=0.25,
        audio_max_duration=0.5,
        record=recorded.__setitem__,
    )
    result.video.close()
    assert torch.equal(result.audio.waveform, wave[:, 4000:12000]) and result.audio.sampling_rate == RATE
    for stage in (1, 2):  # frozen: never noised, never changed
        clean = recorded[f"stage{stage}_audio_clean_latent"]
        assert torch.equal(recorded[f"stage{stage}_audio_final_tokens"], clean)


def test_a2vid_mono_and_short_audio(a2vid: A2VidPipelineTwoStage, prompts: dict) -> None:
    short = _tones(0.2, channels=1)  # mono, shorter than the 0.375 s video
    result = a2vid(
        prompts["prompt"],
        5,
        SIZE,
        SIZE,
        FRAMES,
        FPS,
        Audio(short, RATE),
        num_inference_steps=2,
        negative_prompt=prompts["negative_prompt"],
    )
    result.video.close()
    wave = result.audio.waveform
    assert wave.shape == (1, int(np.ceil(FRAMES / FPS * RATE)))  # padded with silence to the video's length
    assert torch.equal(wave[:, : short.shape[1]], short) and not wave[:, short.shape[1] :].any()
    assert any("mono" in n for n in result.notes) and any("padded with silence" in n for n in result.notes)


def test_a2vid_refuses_silence(a2vid: A2VidPipelineTwoStage, prompts: dict) -> None:
    with pytest.raises(InputError, match="silent"):
        a2vid(prompts["prompt"], 5, SIZE, SIZE, FRAMES, FPS, Audio(torch.zeros(2, RATE), RATE), num_inference_steps=2)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("silence", "is silent"),
        ("garbage", "cannot read audio file"),
        ("no_audio_stream", "has no audio stream"),
        ("start_after_end", "has no samples"),
        ("height", "multiple of 64"),
    ],
)
def test_a2vid_bad_input_exit_2(tiny: Path, media: dict[str, Path], tmp_path: Path, case: str, expected: str):
    out = tmp_path / "out.mp4"
    audio, extra = media["tones"], []
    if case in ("silence", "garbage"):
        audio = media[case]
    elif case == "no_audio_stream":
        audio = media["silent_clip"]
    elif case == "start_after_end":
        extra = ["--audio-start-time", "5"]
    elif case == "height":
        extra = ["--height", "96"]
    code, text = _invoke(build_app("a2vid_two_stage"), _a2vid_args(tiny, audio, out, *extra))
    assert code == 2, text
    assert expected in text, text
    assert not out.exists()
