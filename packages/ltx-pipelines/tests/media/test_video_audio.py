"""Reading videos and audio back from files written here (exact values where the format is lossless)."""

from __future__ import annotations

import wave
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from ltx_core.errors import InputError
from ltx_core.types import Audio
from ltx_pipelines.media.audio import read_audio, read_audio_if_present
from ltx_pipelines.media.mp4 import write_mp4
from ltx_pipelines.media.video import (
    iter_video_frames,
    read_video,
    read_video_info,
    read_video_window,
    video_fps,
    video_preprocess,
)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10 frames at 25 fps, 32x48; frame i is a flat grey of level 20·i + 30 (survives H.264 to within a few)."""
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    levels = torch.tensor([20 * i + 30 for i in range(10)], dtype=torch.uint8)
    frames = levels.reshape(10, 1, 1, 1).expand(10, 32, 48, 3).contiguous()
    write_mp4(path, frames, 25)
    return path


def _level(frame: np.ndarray | torch.Tensor) -> int:
    return round(float(np.asarray(frame, dtype=np.float64).mean()))


def _write_wav(path: Path, samples: np.ndarray, rate: int, width: int) -> None:
    """samples: int array [S, C] already in the sample width's range."""
    with wave.open(str(path), "wb") as f:
        f.setnchannels(samples.shape[1])
        f.setsampwidth(width)
        f.setframerate(rate)
        f.writeframes(samples.astype({1: np.uint8, 2: "<i2"}[width]).tobytes())


def test_read_video_frames_fps_and_cap(clip: Path) -> None:
    full = read_video(clip)
    assert full.frames.dtype == torch.uint8 and full.frames.shape == (10, 32, 48, 3)
    assert full.fps == 25.0
    assert [_level(f) for f in full.frames] == pytest.approx([20 * i + 30 for i in range(10)], abs=3)
    capped = read_video(clip, frame_cap=4)
    assert capped.frames.shape[0] == 4
    later = list(iter_video_frames(clip, starting_frame=7))
    assert len(later) == 3 and abs(_level(later[0]) - 170) <= 3


def test_video_info_and_window(clip: Path) -> None:
    assert read_video_info(clip) == read_video_info(str(clip))
    info = read_video_info(clip)
    assert (info.frames, info.height, info.width, info.fps) == (10, 32, 48, 25.0)
    assert video_fps(clip) == 25.0
    window = read_video_window(clip, start_time=0.2, max_duration=0.16)  # frames at 0.20, 0.24, 0.28, 0.32
    assert window.frames.shape[0] == 4
    assert abs(_level(window.frames[0]) - (20 * 5 + 30)) <= 3


def test_video_preprocess_stacks_frames(clip: Path) -> None:
    frames = list(iter_video_frames(clip, frame_cap=3))
    out = video_preprocess(frames, 16, 16, torch.bfloat16, "cpu")
    assert out.shape == (1, 3, 3, 16, 16) and out.dtype == torch.bfloat16
    with pytest.raises(InputError, match="empty"):
        video_preprocess([], 16, 16, torch.float32, "cpu")


def test_video_errors(tmp_path: Path, clip: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42 truncated garbage")
    with pytest.raises(InputError, match=r"bad\.mp4"):
        read_video(bad)
    with pytest.raises(InputError, match="not found"):
        read_video(tmp_path / "nope.mp4")
    wav = tmp_path / "sound.wav"
    _write_wav(wav, np.zeros((100, 1), dtype=np.int16), 8000, 2)
    with pytest.raises(InputError, match="no video stream"):
        read_video(wav)
    assert read_audio_if_present(clip) is None
    with pytest.raises(InputError, match="no audio stream"):
        read_audio(clip)


def test_read_wav_s16_exact_and_mono_stays_mono(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    samples = rng.integers(-32768, 32767, size=(1000, 1), dtype=np.int16)
    path = tmp_path / "mono.wav"
    _write_wav(path, samples, 16000, 2)
    audio = read_audio(path)
    assert isinstance(audio, Audio) and audio.sampling_rate == 16000
    assert audio.waveform.dtype == torch.float32 and audio.waveform.shape == (1, 1000)
    torch.testing.assert_close(audio.waveform[0], torch.from_numpy(samples[:, 0] / 32768.0).float())


def test_read_wav_window_and_stereo(tmp_path: Path) -> None:
    rate = 8000
    ramp = np.arange(rate, dtype=np.int16)  # one second; sample k holds k
    samples = np.stack([ramp, -ramp], axis=1)
    path = tmp_path / "stereo.wav"
    _write_wav(path, samples, rate, 2)
    audio = read_audio(path, start_time=0.25, max_duration=0.5)
    assert audio.waveform.shape == (2, 4000)
    assert audio.waveform[0, 0].item() * 32768 == 2000 and audio.waveform[1, -1].item() * 32768 == -5999


def test_read_wav_u8_is_centred(tmp_path: Path) -> None:
    path = tmp_path / "u8.wav"
    _write_wav(path, np.array([[0], [128], [255]]), 8000, 1)
    torch.testing.assert_close(read_audio(path).waveform, torch.tensor([[-1.0, 0.0, 127 / 128]]))


def test_resample_and_compressed_formats(tmp_path: Path) -> None:
    rate = 48000
    t = np.arange(rate // 2) / rate
    tone = (np.sin(2 * np.pi * 440 * t) * 16000).astype(np.int16)[:, None].repeat(2, axis=1)
    wav = tmp_path / "tone.wav"
    _write_wav(wav, tone, rate, 2)
    down = read_audio(wav, sample_rate=16000)
    assert down.sampling_rate == 16000 and down.waveform.shape == (2, 8000)
    assert 0.45 < float(down.waveform.abs().max()) < 0.52

    flac = tmp_path / "tone.flac"
    with av.open(str(flac), "w") as container:
        stream = container.add_stream("flac", rate=rate, layout="stereo")
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(tone.reshape(1, -1)), format="s16", layout="stereo")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    lossless = read_audio(flac)
    assert lossless.sampling_rate == rate
    torch.testing.assert_close(lossless.waveform, torch.from_numpy(tone.T / 32768.0).float())


def test_audio_errors(tmp_path: Path) -> None:
    bad = tmp_path / "noise.mp3"
    bad.write_bytes(b"ID3 nope")
    with pytest.raises(InputError, match=r"noise\.mp3"):
        read_audio(bad)
    with pytest.raises(InputError, match="start time"):
        read_audio(bad, start_time=-1)
