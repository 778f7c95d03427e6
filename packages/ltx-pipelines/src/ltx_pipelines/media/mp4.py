"""Writing the result: H.264 yuv420p video + AAC stereo audio in an MP4, streamed chunk by chunk, atomically.

Frames arrive as an iterator of chunks `[f, h, w, 3]` (the decoder's tiles in time), so a long video never has to
sit in memory at once. Colour conversion follows the reference (spec 12.8): BT.709 matrix in the chunk's dtype,
2x2 chroma averaging, limited range, truncation to uint8. Encoding runs on a background thread while the next
chunk is produced. The file appears under its final name only when complete (temp file + rename).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch

from ltx_core.errors import InputError
from ltx_core.types import Audio
from ltx_pipelines.media.atomic import atomic_output, final_path

DEFAULT_VIDEO_CRF = 19
DEFAULT_PRESET = "veryfast"

# BT.709 RGB → YUV, rows Y, U, V.
_BT709 = ((0.2126, 0.7152, 0.0722), (-0.1146, -0.3854, 0.5), (0.5, -0.4542, -0.0458))
_COLORSPACE_BT709 = 1
_COLOR_RANGE_MPEG = 1
_STOP = object()


def rgb_to_i420(chunk: torch.Tensor) -> torch.Tensor:
    """RGB frames `[f, h, w, 3]` → packed I420 uint8 `[f, 3h/2, w]` (Y rows, then U, then V planes).

    Float chunks hold values in [0, 1] and are converted in their own dtype (bf16 for the pipelines, as the
    reference does, which decides the exact uint8 values); uint8 chunks are first scaled to float32 in [0, 1].
    """
    if chunk.ndim != 4 or chunk.shape[-1] != 3:
        raise InputError(f"video chunk of shape {tuple(chunk.shape)} is not [frames, height, width, 3]")
    height, width = chunk.shape[1], chunk.shape[2]
    if height % 2 or width % 2:
        raise InputError(f"video size {width}x{height} must be even in both dimensions for yuv420p")
    rgb = chunk.float() / 255.0 if chunk.dtype == torch.uint8 else chunk
    matrix = torch.tensor(_BT709, dtype=rgb.dtype, device=rgb.device)
    yuv = (rgb @ matrix.T).permute(0, 3, 1, 2)  # [f, 3, h, w]
    y = yuv[:, :1]
    uv = torch.nn.functional.avg_pool2d(yuv[:, 1:], kernel_size=2, stride=2)  # [f, 2, h/2, w/2]
    y = y * 219 + 16
    uv = uv * 224 + 128
    frames = chunk.shape[0]
    packed = torch.cat([y.reshape(frames, height, width), uv.reshape(frames, height // 2, width)], dim=1)
    return packed.clamp(0, 255).to(torch.uint8)


def write_mp4(
    output_path: str | Path,
    video: torch.Tensor | Iterable[torch.Tensor],
    fps: float,
    audio: Audio | None = None,
    *,
    crf: int = DEFAULT_VIDEO_CRF,
    preset: str = DEFAULT_PRESET,
    on_frames: Callable[[int], None] | None = None,
) -> Path:
    """Encode `video` (one tensor or an iterator of chunks, `[f, h, w, 3]`) and optional `audio` to `output_path`.

    The frame rate is `int(fps)` as in the reference, so the file's rate is always an integer. Audio is AAC stereo
    at `audio.sampling_rate`; a mono waveform is duplicated to both channels. `on_frames(n)` is called after each
    chunk with the number of frames handed to the encoder so far (for progress). Any exception, Ctrl-C included,
    leaves no file behind; the parent folder is created when missing. Returns the final path.
    """
    rate = int(fps)
    if rate < 1:
        raise InputError(f"frame rate {fps} is too low; the MP4 writer needs at least 1 fps")
    if not 0 <= crf <= 51:
        raise InputError(f"video CRF {crf} is out of range; valid: 0 to 51")
    stereo = _stereo_int16(audio.waveform) if audio is not None else None
    source_errors: list[BaseException] = []  # the frames' producer failed, not the writing: not a write error
    with (
        atomic_output(output_path, ".mp4", passthrough=source_errors) as temp,
        av.open(str(temp), "w", format="mp4") as container,
    ):
        chunks = _recording_errors(_chunks(video), source_errors)
        _write_streams(container, chunks, rate, audio, stereo, crf, preset, on_frames)
    return final_path(output_path)


def _recording_errors(chunks: Iterator[torch.Tensor], errors: list[BaseException]) -> Iterator[torch.Tensor]:
    """`chunks`, with what producing them raised appended to `errors` (so it is not taken for a write error)."""
    while True:
        try:
            chunk = next(chunks)
        except StopIteration:
            return
        except BaseException as exc:
            errors.append(exc)
            raise
        yield chunk


def _write_streams(
    container: av.container.OutputContainer,
    chunks: Iterator[torch.Tensor],
    rate: int,
    audio: Audio | None,
    stereo: np.ndarray | None,
    crf: int,
    preset: str,
    on_frames: Callable[[int], None] | None,
) -> None:
    first = next(chunks, None)
    if first is None:
        raise InputError("no video frames to write; the video iterator was empty")
    packed = rgb_to_i420(first)
    height, width = packed.shape[1] * 2 // 3, packed.shape[2]
    stream = container.add_stream("libx264", rate=rate, options={"crf": str(crf), "preset": preset})
    stream.width, stream.height = width, height
    stream.pix_fmt = "yuv420p"
    stream.codec_context.thread_count = 0
    stream.codec_context.thread_type = "FRAME"
    stream.codec_context.colorspace = _COLORSPACE_BT709
    stream.codec_context.color_range = _COLOR_RANGE_MPEG
    audio_stream = None
    if audio is not None:
        audio_stream = container.add_stream("aac", rate=audio.sampling_rate, layout="stereo")
        audio_stream.time_base = Fraction(1, audio.sampling_rate)

    encoder = _EncoderThread(container, stream)
    written = 0
    try:
        while packed is not None:
            if packed.shape[1:] != (height * 3 // 2, width):
                raise InputError(
                    f"video chunk of size {packed.shape[2]}x{packed.shape[1] * 2 // 3} differs from "
                    f"the first chunk's {width}x{height}"
                )
            for frame in packed.cpu().numpy():
                encoder.put(frame)
            written += packed.shape[0]
            if on_frames is not None:
                on_frames(written)
            nxt = next(chunks, None)
            packed = None if nxt is None else rgb_to_i420(nxt)
    except BaseException:
        encoder.finish(raise_error=False)
        raise
    encoder.finish()
    for packet in stream.encode():
        container.mux(packet)
    if audio_stream is not None and stereo is not None and audio is not None:
        _write_audio(container, audio_stream, stereo, audio.sampling_rate)


def _write_audio(
    container: av.container.OutputContainer, stream: av.audio.stream.AudioStream, stereo: np.ndarray, rate: int
) -> None:
    """One interleaved s16 stereo frame → resampled to the encoder's sample format → AAC packets."""
    frame = av.AudioFrame.from_ndarray(stereo.reshape(1, -1), format="s16", layout="stereo")
    frame.sample_rate = rate
    resampler = av.AudioResampler(format=stream.codec_context.format, layout=stream.codec_context.layout, rate=rate)
    pts = 0
    for out in [*resampler.resample(frame), *resampler.resample(None)]:
        out.pts = pts
        pts += out.samples
        for packet in stream.encode(out):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)


def _stereo_int16(waveform: torch.Tensor) -> np.ndarray:
    """`[2, S]`, `[1, S]` or `[S]` float in [-1, 1] (or int16) → interleaved int16 `[S, 2]` (mono duplicated)."""
    w = waveform.detach().cpu()
    if w.ndim == 1:
        w = w.unsqueeze(0)
    if w.ndim != 2 or w.shape[0] not in (1, 2):
        raise InputError(f"audio waveform of shape {tuple(waveform.shape)} is not [channels (1 or 2), samples]")
    if w.shape[1] == 0:
        raise InputError("audio waveform is empty; pass None to write a video without sound")
    if w.shape[0] == 1:
        w = w.expand(2, -1)
    if w.dtype != torch.int16:
        w = (w.float().clamp(-1.0, 1.0) * 32767).to(torch.int16)
    return np.ascontiguousarray(w.T.numpy())


def _chunks(video: torch.Tensor | Iterable[torch.Tensor]) -> Iterator[torch.Tensor]:
    if isinstance(video, torch.Tensor):
        return iter([video])
    return iter(video)


class _EncoderThread:
    """Encodes and muxes frames on a background thread fed through a one-slot queue (overlaps with decoding)."""

    def __init__(self, container: av.container.OutputContainer, stream: av.video.stream.VideoStream) -> None:
        self._container = container
        self._stream = stream
        self._queue: queue.Queue[object] = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="mp4-encoder", daemon=True)
        self._thread.start()

    def put(self, frame: np.ndarray) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(frame)

    def finish(self, raise_error: bool = True) -> None:
        """Stop the thread after the queued frames; re-raise what it failed with, if anything and asked to."""
        self._queue.put(_STOP)
        self._thread.join()
        if raise_error and self._error is not None:
            raise self._error

    def _run(self) -> None:
        try:
            while (item := self._queue.get()) is not _STOP:
                frame = av.VideoFrame.from_ndarray(item, format="yuv420p")
                for packet in self._stream.encode(frame):
                    self._container.mux(packet)
        except BaseException as exc:
            self._error = exc
            while self._queue.get() is not _STOP:  # keep the producer unblocked until it stops
                pass
