"""Reading video files (frames + fps) and preprocessing frames for video conditioning (spec 12.2, 12.3)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch

from ltx_core.errors import InputError
from ltx_pipelines.media._errors import existing_file, reading
from ltx_pipelines.media.image import normalize_pixels, resize_and_center_crop


@dataclass(frozen=True)
class VideoClip:
    """Decoded frames, uint8 `[F, H, W, 3]` RGB, with the stream's average frame rate."""

    frames: torch.Tensor
    fps: float


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about the first video stream (frames counted by decoding when the header lacks it)."""

    frames: int
    height: int
    width: int
    fps: float


def iter_video_frames(path: str | Path, starting_frame: int = 0, frame_cap: int | None = None) -> Iterator[np.ndarray]:
    """Yield uint8 `[H, W, 3]` RGB frames of the first video stream in decode order, ignoring timestamps.

    Skips `starting_frame` frames and stops after `frame_cap` frames (None = all), so long files stream.
    """
    if starting_frame < 0:
        raise InputError(f"starting frame {starting_frame} is negative; valid: 0 or more")
    if frame_cap is not None and frame_cap < 0:
        raise InputError(f"frame cap {frame_cap} is negative; valid: 0 or more (or none)")
    p = existing_file(path, "video")
    if frame_cap == 0:
        return
    with reading(p, "video"), av.open(str(p)) as container:
        stream = _video_stream(container, p)
        stream.thread_type = "AUTO"
        kept = 0
        for index, frame in enumerate(container.decode(stream)):
            if index < starting_frame:
                continue
            yield frame.to_ndarray(format="rgb24")
            kept += 1
            if frame_cap is not None and kept >= frame_cap:
                return


def read_video(path: str | Path, frame_cap: int | None = None, starting_frame: int = 0) -> VideoClip:
    """All frames (up to `frame_cap`) of the first video stream as one uint8 tensor, plus its fps."""
    fps = video_fps(path)
    frames = list(iter_video_frames(path, starting_frame, frame_cap))
    if not frames:
        raise InputError(f"video file {str(path)!r} has no frames from frame {starting_frame} on")
    return VideoClip(torch.from_numpy(np.stack(frames)), fps)


def read_video_window(path: str | Path, start_time: float = 0.0, max_duration: float | None = None) -> VideoClip:
    """Frames whose timestamps fall in `[start_time, start_time + max_duration)` (spec 12.3, used by retake).

    Seeks to the start; falls back to counting frames at the average rate when the stream carries no timestamps.
    """
    if start_time < 0:
        raise InputError(f"start time {start_time} is negative; valid: 0 or more seconds")
    if max_duration is not None and max_duration <= 0:
        raise InputError(f"max duration {max_duration} must be positive (seconds) or unset")
    p = existing_file(path, "video")
    fps = video_fps(p)
    end = None if max_duration is None else start_time + max_duration
    frames: list[np.ndarray] = []
    with reading(p, "video"), av.open(str(p)) as container:
        stream = _video_stream(container, p)
        time_base = stream.time_base or Fraction(1, 1)
        if start_time > 0:
            container.seek(int(start_time / time_base), stream=stream)
        for frame in container.decode(stream):
            if frame.pts is None:
                return _window_by_count(p, start_time, max_duration, fps)
            t = float(frame.pts * time_base)
            if t < start_time:
                continue
            if end is not None and t >= end:
                break
            frames.append(frame.to_ndarray(format="rgb24"))
    if not frames:
        raise InputError(f"video file {str(path)!r} has no frames at or after {start_time} s")
    return VideoClip(torch.from_numpy(np.stack(frames)), fps)


def video_fps(path: str | Path) -> float:
    """Average frame rate of the first video stream."""
    p = existing_file(path, "video")
    with reading(p, "video"), av.open(str(p)) as container:
        rate = _video_stream(container, p).average_rate
    if not rate:
        raise InputError(f"video file {str(path)!r} does not state a frame rate")
    return float(rate)


def read_video_info(path: str | Path) -> VideoInfo:
    """Frame count, size and fps of the first video stream (frames counted by decoding when the header says 0)."""
    p = existing_file(path, "video")
    with reading(p, "video"), av.open(str(p)) as container:
        stream = _video_stream(container, p)
        frames = stream.frames
        height, width = stream.codec_context.height, stream.codec_context.width
        rate = stream.average_rate
        if frames == 0:
            frames = sum(1 for _ in container.decode(stream))
    if not rate:
        raise InputError(f"video file {str(path)!r} does not state a frame rate")
    return VideoInfo(frames=frames, height=height, width=width, fps=float(rate))


def video_preprocess(
    frames: Iterable[np.ndarray | torch.Tensor],
    height: int,
    width: int,
    dtype: torch.dtype,
    device: torch.device | str,
) -> torch.Tensor:
    """uint8 frames `[H, W, 3]` (or `[1, H, W, 3]`) → `[1, 3, F, height, width]` in [-1, 1] (spec 12.2).

    Each frame is resized and cropped on its own, as the reference does; no compression emulation for video.
    """
    processed = []
    for frame in frames:
        t = torch.as_tensor(frame, device=device)
        if t.ndim == 4:
            if t.shape[0] != 1:
                raise InputError(f"frame of shape {tuple(t.shape)} holds several frames; pass them one by one")
            t = t[0]
        processed.append(normalize_pixels(resize_and_center_crop(t.float(), height, width), dtype, device))
    if not processed:
        raise InputError("no video frames to preprocess; the clip is empty")
    return torch.cat(processed, dim=2)


def _window_by_count(p: Path, start_time: float, max_duration: float | None, fps: float) -> VideoClip:
    cap = None if max_duration is None else round(max_duration * fps)
    frames = list(iter_video_frames(p, starting_frame=round(start_time * fps), frame_cap=cap))
    if not frames:
        raise InputError(f"video file {str(p)!r} has no frames at or after {start_time} s")
    return VideoClip(torch.from_numpy(np.stack(frames)), fps)


def _video_stream(container: av.container.InputContainer, p: Path) -> av.video.stream.VideoStream:
    if not container.streams.video:
        raise InputError(f"file {str(p)!r} has no video stream")
    return container.streams.video[0]
