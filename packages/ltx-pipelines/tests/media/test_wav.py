"""The WAV writer of text to audio: 16-bit PCM stereo, the official sample conversion, written atomically."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
import torch

from ltx_core.errors import InputError
from ltx_core.types import Audio
from ltx_pipelines.media.wav import write_wav


def _read(path: Path) -> tuple[np.ndarray, int, int]:
    with wave.open(str(path)) as w:
        assert w.getsampwidth() == 2
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, w.getnchannels())
        return samples, w.getframerate(), w.getnchannels()


def test_samples_are_clipped_scaled_and_truncated(tmp_path: Path) -> None:
    """x → trunc(clip(x, -1, 1) · 32767): 0.5 → 16383 (16383.5 truncated), -1.5 → -32767, 0.99999 → 32766."""
    left = torch.tensor([0.5, -1.5, 1.0, 0.99999, -0.25])
    waveform = torch.stack([left, -left])
    path = write_wav(tmp_path / "sub" / "tone.wav", Audio(waveform, 22050))
    samples, rate, channels = _read(path)
    assert (rate, channels) == (22050, 2) and path.parent.is_dir()
    assert samples[:, 0].tolist() == [16383, -32767, 32767, 32766, -8191]
    assert samples[:, 1].tolist() == [-16383, 32767, -32767, -32766, 8191]


def test_mono_is_written_on_both_channels(tmp_path: Path) -> None:
    samples, _, channels = _read(write_wav(tmp_path / "mono.wav", Audio(torch.tensor([[0.25, -0.5]]), 16000)))
    assert channels == 2 and samples.tolist() == [[8191, 8191], [-16383, -16383]]


def test_an_unwritable_place_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    with pytest.raises(InputError, match="cannot write") as info:
        write_wav(blocker / "out.wav", Audio(torch.zeros(2, 4), 16000))
    assert "\n" not in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a file"]
