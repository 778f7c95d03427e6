"""Reading audio from any container/format PyAV can open (spec 12.4): a time window, optionally resampled."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch

from ltx_core.errors import InputError
from ltx_core.model.audio_vae.resample import resample
from ltx_core.types import Audio
from ltx_pipelines.media._errors import existing_file, reading

# Full-scale value per integer sample format (planar and packed alike).
_INT_SCALE = {"u8": 128.0, "s16": 32768.0, "s32": 2147483648.0, "s64": 9223372036854775808.0}


def read_audio(
    path: str | Path,
    start_time: float = 0.0,
    max_duration: float | None = None,
    sample_rate: int | None = None,
) -> Audio:
    """The first audio stream as float32 `[channels, samples]` from `start_time` for at most `max_duration` seconds.

    `sample_rate=None` keeps the file's rate (what the official pipelines do: the audio VAE resamples itself);
    otherwise the waveform is resampled with the same band-limited sinc filter the audio VAE uses. Channels are kept
    as they are (mono stays mono). A file without an audio stream is an `InputError`; see `read_audio_if_present`.
    """
    audio = read_audio_if_present(path, start_time, max_duration, sample_rate)
    if audio is None:
        raise InputError(f"file {str(path)!r} has no audio stream")
    return audio


def read_audio_if_present(
    path: str | Path,
    start_time: float = 0.0,
    max_duration: float | None = None,
    sample_rate: int | None = None,
) -> Audio | None:
    """Like `read_audio`, but None when the file has no audio stream (retake then generates audio from scratch)."""
    if start_time < 0:
        raise InputError(f"audio start time {start_time} is negative; valid: 0 or more seconds")
    if max_duration is not None and max_duration <= 0:
        raise InputError(f"audio max duration {max_duration} must be positive (seconds) or unset")
    if sample_rate is not None and sample_rate <= 0:
        raise InputError(f"sample rate {sample_rate} must be a positive number of Hz")
    p = existing_file(path, "audio")
    with reading(p, "audio"), av.open(str(p)) as container:
        if not container.streams.audio:
            return None
        waveform, rate = _decode_window(container, container.streams.audio[0], start_time, max_duration)
    if waveform.shape[1] == 0:
        raise InputError(f"audio file {str(path)!r} has no samples at or after {start_time} s")
    wave = torch.from_numpy(waveform)
    if sample_rate is not None and sample_rate != rate:
        wave = resample(wave, rate, sample_rate)
        rate = sample_rate
    return Audio(waveform=wave, sampling_rate=rate)


def _decode_window(
    container: av.container.InputContainer,
    stream: av.audio.stream.AudioStream,
    start_time: float,
    max_duration: float | None,
) -> tuple[np.ndarray, int]:
    rate = stream.rate
    time_base = stream.time_base or Fraction(1, rate)
    if start_time > 0:
        container.seek(int(start_time / time_base), stream=stream)
    if max_duration is not None:
        end = start_time + max_duration
    elif stream.duration is not None:
        end = float(stream.duration * time_base)
    else:
        end = float("inf")
    chunks: list[np.ndarray] = []
    first_start: float | None = None
    for frame in container.decode(stream):
        if frame.pts is None:
            continue
        frame_start = float(frame.pts * time_base)
        frame_end = frame_start + frame.samples / rate
        if frame_end < start_time:
            continue
        if frame_start > end:
            break
        if first_start is None:
            first_start = frame_start
        chunks.append(_frame_to_float(frame))
    channels = stream.codec_context.channels or 1
    if not chunks:
        return np.zeros((channels, 0), dtype=np.float32), rate
    waveform = np.concatenate(chunks, axis=1)
    skip = round((start_time - (first_start or 0.0)) * rate)
    if skip > 0:
        waveform = waveform[:, skip:]
    if max_duration is not None:
        waveform = waveform[:, : round(max_duration * rate)]
    return np.ascontiguousarray(waveform), rate


def _frame_to_float(frame: av.AudioFrame) -> np.ndarray:
    """One decoded frame → float32 `[channels, samples]` in [-1, 1]."""
    fmt = frame.format
    channels = len(frame.layout.channels)
    data = frame.to_ndarray()
    if not fmt.is_planar:
        data = data.reshape(-1, channels).T
    base = fmt.name.rstrip("p")
    if base in _INT_SCALE:
        scale = _INT_SCALE[base]
        if base == "u8":
            # Unsigned 8-bit is centred on 128; the reference divides without removing the offset (see report).
            return (data.astype(np.float32) - 128.0) / scale
        return (data.astype(np.float64) / scale).astype(np.float32)
    return data.astype(np.float32)
