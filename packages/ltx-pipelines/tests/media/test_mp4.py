"""MP4 writing: round trip through PyAV, colour conversion by hand, atomicity on failure."""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import pytest
import torch

from ltx_core.errors import InputError
from ltx_core.types import Audio
from ltx_pipelines.media.mp4 import rgb_to_i420, write_mp4


def _chunks(n: int, frames: int, height: int, width: int) -> Iterator[torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    for _ in range(n):
        yield torch.rand(frames, height, width, 3, generator=gen).to(torch.bfloat16)


def _tone(rate: int, seconds: float, channels: int = 2) -> Audio:
    t = torch.arange(int(rate * seconds)) / rate
    wave = torch.stack([torch.sin(2 * math.pi * (220 + 110 * c) * t) for c in range(channels)]) * 0.5
    return Audio(waveform=wave, sampling_rate=rate)


@pytest.mark.parametrize("rate", [24000, 48000])
def test_round_trip_with_audio(tmp_path: Path, rate: int) -> None:
    out = tmp_path / "nested" / "clip.mp4"
    progress: list[int] = []
    got = write_mp4(out, _chunks(3, 3, 32, 48), 24.0, _tone(rate, 0.5), on_frames=progress.append)
    assert got == out.resolve() and out.is_file()
    assert progress == [3, 6, 9]
    assert sorted(p.name for p in out.parent.iterdir()) == ["clip.mp4"]  # no temp file left behind
    with av.open(str(out)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert (video.codec_context.width, video.codec_context.height) == (48, 32)
        assert video.average_rate == 24
        assert video.codec_context.pix_fmt == "yuv420p"
        assert sum(1 for _ in container.decode(video)) == 9
        assert audio.codec_context.name == "aac"
        assert audio.rate == rate and audio.codec_context.channels == 2
        assert audio.duration * audio.time_base == Fraction(1, 2)


def test_frame_rate_is_truncated_and_mono_is_duplicated(tmp_path: Path) -> None:
    out = tmp_path / "mono.mp4"
    write_mp4(out, torch.rand(2, 16, 16, 3), 25.9, _tone(16000, 0.25, channels=1))
    with av.open(str(out)) as container:
        assert container.streams.video[0].average_rate == 25
        assert container.streams.audio[0].codec_context.channels == 2


def test_video_only_and_uint8_frames(tmp_path: Path) -> None:
    out = tmp_path / "silent.mp4"
    frames = torch.full((5, 16, 32, 3), 255, dtype=torch.uint8)
    write_mp4(out, frames, 30)
    with av.open(str(out)) as container:
        assert not container.streams.audio
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(decoded) == 5 and decoded[0].shape == (16, 32, 3)
    assert decoded[0].min() >= 245  # white stays (near) white through limited-range BT.709


def test_exception_mid_stream_leaves_no_file(tmp_path: Path) -> None:
    out = tmp_path / "broken.mp4"

    def failing() -> Iterator[torch.Tensor]:
        yield from _chunks(2, 2, 16, 16)
        raise RuntimeError("decoder crashed")

    with pytest.raises(RuntimeError, match="decoder crashed"):
        write_mp4(out, failing(), 24, _tone(24000, 0.2))
    assert list(tmp_path.iterdir()) == []


def test_interrupt_mid_stream_leaves_no_file_and_keeps_existing(tmp_path: Path) -> None:
    out = tmp_path / "keep.mp4"
    out.write_bytes(b"previous result")

    def interrupted() -> Iterator[torch.Tensor]:
        yield from _chunks(1, 2, 16, 16)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_mp4(out, interrupted(), 24)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.mp4"]
    assert out.read_bytes() == b"previous result"


def test_unwritable_output_is_one_line_input_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder that cannot be created (a file in the way) or written is an `InputError` naming the path, not an
    OSError traceback after the whole generation."""
    (tmp_path / "a_file").write_bytes(b"")
    with pytest.raises(InputError, match=r"cannot write '.*a_file/sub/out\.mp4': Not a directory"):
        write_mp4(tmp_path / "a_file" / "sub" / "out.mp4", torch.rand(1, 16, 16, 3), 24)

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("ltx_pipelines.media.atomic.tempfile.mkstemp", denied)
    with pytest.raises(InputError, match=r"cannot write '.*out\.mp4': Permission denied"):
        write_mp4(tmp_path / "out.mp4", torch.rand(1, 16, 16, 3), 24)
    assert [p.name for p in tmp_path.iterdir()] == ["a_file"]


def test_write_error_is_input_error_and_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "full.mp4"

    def rename_fails(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("ltx_pipelines.media.atomic.os.replace", rename_fails)
    with pytest.raises(InputError, match=r"cannot write '.*full\.mp4': .*No space left on device"):
        write_mp4(out, _chunks(2, 2, 16, 16), 24)
    assert list(tmp_path.iterdir()) == []


def test_an_os_error_of_the_frames_producer_is_not_taken_for_a_write_error(tmp_path: Path) -> None:
    def failing() -> Iterator[torch.Tensor]:
        yield from _chunks(1, 2, 16, 16)
        raise FileNotFoundError(2, "No such file or directory", "weights.safetensors")

    with pytest.raises(FileNotFoundError, match=r"weights\.safetensors"):
        write_mp4(tmp_path / "out.mp4", failing(), 24)
    assert list(tmp_path.iterdir()) == []


def test_invalid_inputs_raise_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="even"):
        write_mp4(tmp_path / "odd.mp4", torch.rand(1, 15, 16, 3), 24)
    with pytest.raises(InputError, match="empty"):
        write_mp4(tmp_path / "none.mp4", iter([]), 24)
    with pytest.raises(InputError, match="differs"):
        write_mp4(tmp_path / "mixed.mp4", iter([torch.rand(1, 16, 16, 3), torch.rand(1, 32, 16, 3)]), 24)
    with pytest.raises(InputError, match="channels"):
        write_mp4(tmp_path / "surround.mp4", torch.rand(1, 16, 16, 3), 24, Audio(torch.zeros(6, 100), 48000))
    with pytest.raises(InputError, match="frame rate"):
        write_mp4(tmp_path / "slow.mp4", torch.rand(1, 16, 16, 3), 0.5)
    assert list(tmp_path.iterdir()) == []


def test_rgb_to_i420_by_hand() -> None:
    # Black → Y 16, U = V = 128 (exact in any dtype); pure red (float32) → Y = 0.2126·219 + 16 = 62.56 → 62,
    # U = -0.1146·224 + 128 = 102.33 → 102, V = 0.5·224 + 128 = 240.
    black = torch.zeros(1, 4, 4, 3, dtype=torch.bfloat16)
    packed = rgb_to_i420(black)
    assert packed.shape == (1, 6, 4) and packed.dtype == torch.uint8
    assert torch.all(packed[0, :4] == 16) and torch.all(packed[0, 4:] == 128)
    red = torch.zeros(1, 2, 2, 3)
    red[..., 0] = 1.0
    packed = rgb_to_i420(red)
    assert packed[0, :2].unique().tolist() == [62]
    # chroma of a 2x2 frame: one U value then one V value, packed row-major into the single chroma row of width 2.
    assert packed[0, 2].tolist() == [102, 240]


def test_rgb_to_i420_averages_chroma_over_2x2() -> None:
    # Left column red, right column black → U averages to -0.1146 / 2 → -0.0573·224 + 128 = 115.16 → 115.
    frame = torch.zeros(1, 2, 2, 3)
    frame[:, :, 0, 0] = 1.0
    packed = rgb_to_i420(frame)
    assert packed[0, 0].tolist() == [62, 16]
    assert packed[0, 2, 0].item() == 115


def test_finished_file_follows_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        path = write_mp4(tmp_path / "masked.mp4", torch.zeros(1, 16, 16, 3), 24.0)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # 0666 & ~0027, not mkstemp's 0600
