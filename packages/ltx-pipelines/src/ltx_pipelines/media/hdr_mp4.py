"""Writing an HDR result (spec NP 5.3): half-float EXR frames in `<output stem>_exr/` and a 10-bit BT.2020 / HLG
HEVC master at the output path, streamed chunk by chunk, both atomic.

Each decoded chunk `[f, H, W, 3]` (ACEScct codes in [0, 1], float32) becomes the EXR pixels of the colour space
(`ltx_core.hdr.spaces.exr_pixels`) and Rec.709 scene-linear light → the HLG planes (`ltx_core.hdr.hlg.hlg_planes`:
Rec.2020, HLG OETF, BT.2020 NCL, 4:2:0, 10-bit limited range), encoded by libx265 (`yuv420p10le`, CRF 12, preset
ultrafast, tagged `hvc1`) with the colour tags in the stream (primaries BT.2020, transfer ARIB STD-B67, matrix
BT.2020 NCL, limited range) and in the HEVC headers. The frame rate is `Fraction(fps)` limited to denominator 1000.
The EXR folder is written under a temporary name and renamed when complete (an existing one is replaced); the MP4
appears under its final name only when complete.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch

from ltx_core.errors import InputError
from ltx_core.hdr.hlg import hlg_planes
from ltx_core.hdr.primaries import Primaries
from ltx_core.hdr.spaces import HDRColorSpace, decode_hdr_video, exr_pixels
from ltx_core.types import Audio
from ltx_pipelines.media._errors import first_line
from ltx_pipelines.media.atomic import umask_mode
from ltx_pipelines.media.exr import exr_frames_folder, openexr, write_exr_frames
from ltx_pipelines.media.mp4 import _stereo_int16, _write_audio

HDR_CRF = 12
HDR_PRESET = "ultrafast"
HDR_PIX_FMT = "yuv420p10le"
# the official parameters, plus log-level=error (x265 prints its settings to stderr otherwise; no effect on the stream)
X265_PARAMS = (
    "colorprim=bt2020:transfer=arib-std-b67:colormatrix=bt2020nc:range=limited:repeat-headers=1:info=0:log-level=error"
)
# AVColorPrimaries / AVColorTransferCharacteristic / AVColorSpace / AVColorRange values
BT2020_PRIMARIES = 9
ARIB_STD_B67 = 18
BT2020_NCL = 9
LIMITED_RANGE = 1
_COLOR_TAGS = (
    ("color_primaries", BT2020_PRIMARIES),
    ("color_trc", ARIB_STD_B67),
    ("colorspace", BT2020_NCL),
    ("color_range", LIMITED_RANGE),
)


def hdr_rate(fps: float) -> Fraction:
    """The master's frame rate: `Fraction(fps)` limited to denominator 1000 (23.976 stays 2997/125)."""
    rate = Fraction(fps).limit_denominator(1000)
    if rate <= 0:
        raise InputError(f"frame rate {fps} must be positive")
    return rate


def write_hdr(
    output_path: str | Path,
    video: torch.Tensor | Iterable[torch.Tensor],
    fps: float,
    color_space: HDRColorSpace,
    audio: Audio | None = None,
    *,
    on_frames: Callable[[int], None] | None = None,
) -> tuple[Path, Path]:
    """Decoded chunks (`[f, H, W, 3]` ACEScct codes in [0, 1]) → the EXR frames and the HLG master; returns (master
    path, EXR folder). `on_frames(n)` after each chunk. Any failure leaves neither behind."""
    openexr()  # the extra is needed before anything is written
    rate = hdr_rate(fps)
    stereo = _stereo_int16(audio.waveform) if audio is not None else None
    final = Path(output_path).expanduser().resolve()
    folder = exr_frames_folder(final)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=".partial.mp4", dir=final.parent)
        os.close(fd)
        temp_folder = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".partial", dir=final.parent))
    except OSError as exc:
        raise InputError(f"cannot write {str(final)!r}: {exc.strerror or first_line(exc)}") from exc
    temp = Path(temp_name)
    try:
        with av.open(str(temp), "w", format="mp4", options={"movflags": "+faststart"}) as container:
            _write(container, _chunks(video), rate, color_space, temp_folder, audio, stereo, on_frames)
        os.chmod(temp, umask_mode())
        _replace_folder(temp_folder, folder)
        os.replace(temp, final)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        shutil.rmtree(temp_folder, ignore_errors=True)
        raise InputError(f"cannot write {str(final)!r}: {first_line(exc)}") from exc
    except BaseException:
        temp.unlink(missing_ok=True)
        shutil.rmtree(temp_folder, ignore_errors=True)
        raise
    return final, folder


def _replace_folder(new: Path, target: Path) -> None:
    """`new` renamed to `target`; an existing `target` is moved aside first and removed after."""
    file_mode = umask_mode()
    os.chmod(new, file_mode | (file_mode & 0o444) >> 2)  # mkdtemp's 0700 → as a new folder under the umask
    if target.exists():
        aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
        aside.rmdir()
        os.replace(target, aside)
        os.replace(new, target)
        shutil.rmtree(aside, ignore_errors=True)
    else:
        os.replace(new, target)


def _chunks(video: torch.Tensor | Iterable[torch.Tensor]) -> Iterable[torch.Tensor]:
    return [video] if isinstance(video, torch.Tensor) else video


def _write(
    container: av.container.OutputContainer,
    chunks: Iterable[torch.Tensor],
    rate: Fraction,
    color_space: HDRColorSpace,
    folder: Path,
    audio: Audio | None,
    stereo: np.ndarray | None,
    on_frames: Callable[[int], None] | None,
) -> None:
    """Both streams are added before the first packet (the container header is written then)."""
    iterator = iter(chunks)
    chunk = next(iterator, None)
    if chunk is None:
        raise InputError("no video frames to write; the video iterator was empty")
    _check_chunk(chunk, None)
    height, width = chunk.shape[1], chunk.shape[2]
    stream = _video_stream(container, rate, width=width, height=height)
    audio_stream = None
    if audio is not None:
        audio_stream = container.add_stream("aac", rate=audio.sampling_rate, layout="stereo")
        audio_stream.time_base = Fraction(1, audio.sampling_rate)
    written = 0
    while chunk is not None:
        _check_chunk(chunk, (height, width))
        codes = chunk.float()
        write_exr_frames(folder, [exr_pixels(codes, color_space)], color_space, start=written)
        y, u, v = hlg_planes(decode_hdr_video(codes, color_space, Primaries.REC709), Primaries.REC709)
        for planes in zip(y.cpu().numpy(), u.cpu().numpy(), v.cpu().numpy(), strict=True):
            for packet in stream.encode(_frame(*planes)):
                container.mux(packet)
        written += codes.shape[0]
        if on_frames is not None:
            on_frames(written)
        chunk = next(iterator, None)
    for packet in stream.encode():
        container.mux(packet)
    if audio_stream is not None and stereo is not None and audio is not None:
        _write_audio(container, audio_stream, stereo, audio.sampling_rate)


def _check_chunk(chunk: torch.Tensor, size: tuple[int, int] | None) -> None:
    if chunk.ndim != 4 or chunk.shape[-1] != 3:
        raise InputError(f"video chunk of shape {tuple(chunk.shape)} is not [frames, height, width, 3]")
    height, width = chunk.shape[1], chunk.shape[2]
    if height % 2 or width % 2:
        raise InputError(f"video size {width}x{height} must be even in both dimensions for 4:2:0 chroma")
    if size is not None and (height, width) != size:
        raise InputError(f"video chunk of size {width}x{height} differs from the first chunk's {size[1]}x{size[0]}")


def _video_stream(
    container: av.container.OutputContainer, rate: Fraction, width: int, height: int
) -> av.video.stream.VideoStream:
    options = {"crf": str(HDR_CRF), "preset": HDR_PRESET, "x265-params": X265_PARAMS, "tag": "hvc1"}
    stream = container.add_stream("libx265", rate=rate, options=options)
    stream.width, stream.height = width, height
    stream.pix_fmt = HDR_PIX_FMT
    stream.codec_tag = "hvc1"
    for name, value in _COLOR_TAGS:
        setattr(stream.codec_context, name, value)
    return stream


def _frame(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> av.VideoFrame:
    """uint16 planes → a `yuv420p10le` frame (each plane copied row by row into the frame's padded lines)."""
    frame = av.VideoFrame(y.shape[1], y.shape[0], HDR_PIX_FMT)
    for plane, values in zip(frame.planes, (y, u, v), strict=True):
        stride = plane.line_size // 2
        padded = np.zeros((values.shape[0], stride), dtype="<u2")
        padded[:, : values.shape[1]] = values
        plane.update(padded.tobytes())
    for name, value in _COLOR_TAGS:
        if hasattr(frame, name):  # PyAV < 13 frames carry only the matrix and range (the stream has all four)
            setattr(frame, name, value)
    return frame
