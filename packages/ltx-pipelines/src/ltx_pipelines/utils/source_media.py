"""Source media (a clip to retake, a soundtrack to animate) → the clean latents a diffusion stage starts from.

Media arrive as files (decoded here with PyAV) or already decoded (`VideoClip` frames + fps, `Audio` waveform +
rate), which is how callers holding tensors and the golden tests feed them; everything after decoding is one code
path (spec 12.4, 12.5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from ltx_core.errors import InputError
from ltx_core.geometry import SPATIAL_SCALE, check_frame_count, check_multiple
from ltx_core.loader import open_checkpoint
from ltx_core.types import Audio
from ltx_pipelines.media.video import VideoClip, read_video, read_video_info, video_preprocess
from ltx_pipelines.utils.blocks import AudioConditioner, CheckpointLike, ImageConditioner
from ltx_pipelines.utils.recording import current_recorder

if TYPE_CHECKING:
    from ltx_core.hdr.spaces import HDRColorSpace

VideoSource = str | Path | VideoClip
AudioSource = str | Path | Audio

SILENCE_PEAK = 1e-4  # peak |sample| below this (-80 dBFS) counts as a silent track


# --- video ------------------------------------------------------------------------------------------------------


def load_source_video(source: VideoSource) -> VideoClip:
    """A path (every frame of the first video stream) or decoded frames → uint8 `[F, H, W, 3]` + fps."""
    if isinstance(source, VideoClip):
        frames = source.frames
        if frames.dtype != torch.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
            raise InputError(
                f"source frames must be uint8 [frames, height, width, 3]; got {frames.dtype} {tuple(frames.shape)}"
            )
        if not source.fps > 0:
            raise InputError(f"source frame rate {source.fps} must be > 0")
        return source

    info = read_video_info(source)  # header only: refuse a clip that does not fit before decoding it
    check_source_geometry(info.frames, info.height, info.width, where=f"video {str(source)!r}")
    return read_video(source)


def read_source(
    video: VideoSource, source_audio: Audio | None, start_time: float, end_time: float
) -> tuple[VideoClip, Audio | None]:
    """The source clip of a retake and its soundtrack (None when it has none), after checking that the window
    `[start_time, end_time)` overlaps the clip. A file's own audio track is its soundtrack; decoded frames
    (`VideoClip`) come with `source_audio` (None: a silent clip)."""
    clip = load_source_video(video)
    frames = int(clip.frames.shape[0])
    duration = frames / clip.fps
    if start_time >= duration or end_time <= 0:
        raise InputError(
            f"window [{start_time}, {end_time}) s lies outside the clip, which lasts {duration:.3f} s "
            f"({frames} frames at {clip.fps:g} fps)"
        )
    if isinstance(video, VideoClip):
        return clip, None if source_audio is None else load_source_audio(source_audio, 0.0, duration)
    return clip, load_source_audio(video, 0.0, duration, required=False)


def check_source_geometry(frames: int, height: int, width: int, *, where: str = "source video") -> None:
    """8k+1 frames and sides that are multiples of 32 (the VAE's grid); `InputError` with the nearest valid values."""
    check_frame_count(f"{where} frame count", frames)
    check_multiple(f"{where} height", height, SPATIAL_SCALE)
    check_multiple(f"{where} width", width, SPATIAL_SCALE)


def encode_source_video(conditioner: ImageConditioner, clip: VideoClip, *, tiling: Any = None) -> torch.Tensor:
    """Frames at their own size → normalised latent `(1, C, 1+F//8, H/32, W/32)`; the encoder lives for this call.

    Tiled as the official retake (`TilingConfig.default()` when `tiling` is None: one tile for small clips).
    """
    from ltx_core.model.video_vae import TilingConfig

    frames, height, width = clip.frames.shape[0], clip.frames.shape[1], clip.frames.shape[2]
    check_source_geometry(frames, height, width)
    pixels = video_preprocess(clip.frames, height, width, conditioner.dtype, conditioner.device)
    return conditioner(lambda encode: encode(pixels, tiling or TilingConfig.default()))


@dataclass(frozen=True)
class ExrSource:
    """A retake's source given as a folder of EXR frames (native HDR, spec NP 5.2): its frames (`*.exr` sorted by
    name), their size, and the frame rate the caller gave (a folder has none). It has no audio track."""

    folder: Path
    files: tuple[Path, ...]
    height: int
    width: int
    fps: float

    @property
    def frames(self) -> int:
        return len(self.files)


def read_exr_source(folder: str | Path, fps: float | None, start_time: float, end_time: float) -> ExrSource:
    """A folder of EXR frames as a retake's whole source (spec 12.5 with NP 5.2: from frame round(0·fps) = 0, at most
    max(1, round(duration·fps)) frames = every frame), checked as a video source is (8k+1 frames, sides multiples
    of 32, a window that overlaps it); the first frame is read for the size."""
    from ltx_pipelines.media.exr import exr_folder_files, read_exr

    path = Path(folder).expanduser()
    if not path.is_dir():
        raise InputError(f"retake takes a folder of EXR frames as its HDR source; {str(folder)!r} is not a folder")
    if fps is None:
        raise InputError(f"the EXR frame folder {path.name!r} has no frame rate of its own: give one (--frame-rate)")
    if not fps > 0:
        raise InputError(f"source frame rate {fps} must be > 0")
    files = exr_folder_files(path)  # every frame: the cap max(1, round(frames / fps · fps)) is the frame count
    height, width = read_exr(files[0]).shape[:2]
    check_source_geometry(len(files), height, width, where=f"EXR frame folder {path.name}")
    duration = len(files) / fps
    if start_time >= duration or end_time <= 0:
        raise InputError(
            f"window [{start_time}, {end_time}) s lies outside the clip, which lasts {duration:.3f} s "
            f"({len(files)} EXR frames at {fps:g} fps)"
        )
    return ExrSource(path, tuple(files), height, width, float(fps))


def encode_exr_source_video(
    conditioner: ImageConditioner, source: ExrSource, color_space: HDRColorSpace, *, tiling: Any = None
) -> torch.Tensor:
    """EXR frames → normalised latent `(1, C, 1+F//8, H/32, W/32)` as `encode_source_video` encodes decoded frames:
    centre-cropped to the source size (a no-op: the frames are that size), into the working space (ACEScct codes),
    `2c - 1` in the pipeline dtype (spec NP 5.2); records `source_pixels`, the VAE's input."""
    from ltx_core.model.video_vae import TilingConfig
    from ltx_pipelines.media.exr import ResizeMode, load_exr_frames

    pixels = load_exr_frames(
        source.folder,
        source.height,
        source.width,
        conditioner.dtype,
        conditioner.device,
        color_space,
        frame_cap=source.frames,
        resize_mode=ResizeMode.CENTER_CROP,
    )
    if (record := current_recorder()) is not None:
        record("source_pixels", pixels)
    return conditioner(lambda encode: encode(pixels, tiling or TilingConfig.default()))


# --- audio ------------------------------------------------------------------------------------------------------


def load_source_audio(
    source: AudioSource, start_time: float = 0.0, max_duration: float | None = None, *, required: bool = True
) -> Audio | None:
    """A file's first audio stream, or a decoded waveform, cut to `[start, start + max_duration)` → `(C, N)` float32.

    A file without an audio stream gives None unless `required` (then an `InputError`).
    """
    if start_time < 0:
        raise InputError(f"audio start time {start_time} is negative; valid: 0 or more seconds")
    if max_duration is not None and max_duration <= 0:
        raise InputError(f"audio max duration {max_duration} must be positive (seconds) or unset")
    if isinstance(source, Audio):
        return window_audio(source, start_time, max_duration)
    from ltx_pipelines.media.audio import read_audio, read_audio_if_present

    if required:
        return read_audio(source, start_time, max_duration)
    return read_audio_if_present(source, start_time, max_duration)


def window_audio(audio: Audio, start_time: float = 0.0, max_duration: float | None = None) -> Audio:
    """Decoded audio → `(C, N)` float32 from `start_time` for at most `max_duration` s (as the file reader cuts)."""
    wave = audio.waveform
    if wave.ndim == 3 and wave.shape[0] == 1:
        wave = wave[0]
    if wave.ndim == 1:
        wave = wave[None]
    if wave.ndim != 2 or not 1 <= wave.shape[0] <= 2:
        raise InputError(f"audio waveform must be (channels, samples) with 1 or 2 channels; got {tuple(wave.shape)}")
    if audio.sampling_rate <= 0:
        raise InputError(f"audio sampling rate {audio.sampling_rate} must be a positive number of Hz")
    rate = int(audio.sampling_rate)
    start = round(start_time * rate)
    wave = wave[:, start:]
    if max_duration is not None:
        wave = wave[:, : round(max_duration * rate)]
    if wave.shape[1] == 0:
        raise InputError(f"the audio has no samples at or after {start_time} s")
    return Audio(waveform=wave.float(), sampling_rate=rate)


def audio_seconds(audio: Audio) -> float:
    return audio.waveform.shape[-1] / audio.sampling_rate


def is_silent(audio: Audio) -> bool:
    return float(audio.waveform.abs().max()) < SILENCE_PEAK


def pad_with_silence(audio: Audio, seconds: float) -> Audio:
    """Append zeros so the track lasts at least `seconds` (unchanged when it already does)."""
    need = math.ceil(seconds * audio.sampling_rate) - audio.waveform.shape[-1]
    if need <= 0:
        return audio
    return Audio(waveform=F.pad(audio.waveform, (0, need)), sampling_rate=audio.sampling_rate)


def read_soundtrack(
    audio: AudioSource, start: float, max_duration: float | None, video_seconds: float, notes: list[str]
) -> Audio:
    """The A2Vid soundtrack: the window of `audio`, refused when silent, padded with silence to the video's length;
    what was decided for the user is appended to `notes`."""
    track = load_source_audio(audio, start, max_duration)
    assert track is not None
    where = audio if isinstance(audio, str | Path) else "the input audio"
    if is_silent(track):
        raise InputError(
            f"{where} is silent from {start} s on (peak below -80 dBFS): there is nothing to animate; use a "
            "text/image-to-video pipeline instead"
        )
    if track.waveform.shape[0] == 1:
        notes.append("mono audio: used as both stereo channels")
    seconds = audio_seconds(track)
    if seconds < video_seconds:
        notes.append(f"the audio lasts {seconds:.2f} s, the video {video_seconds:.2f} s: padded with silence")
        track = pad_with_silence(track, video_seconds)
    return track


def encode_source_audio(
    conditioner: AudioConditioner,
    audio: Audio,
    latent_frames: int,
    *,
    mel_name: str = "source_mel",
    full_name: str | None = None,
) -> torch.Tensor:
    """Waveform (any rate, mono or stereo) → normalised latent fitted to `latent_frames` (trimmed, or zero-padded).

    The current recorder receives the log-mel the encoder sees (`mel_name`) and, when `full_name` is set, the latent
    before fitting.
    """
    from ltx_core.model.audio_vae import fit_audio_latent

    latent = conditioner(lambda encode: encode(audio.waveform, audio.sampling_rate))
    if (record := current_recorder()) is not None:
        record(mel_name, _mel(conditioner.checkpoint, audio))
        if full_name is not None:
            record(full_name, latent)
    return fit_audio_latent(latent, latent_frames, pad=True)


def encode_source(
    images: ImageConditioner, sound: AudioConditioner, clip: VideoClip, audio: Audio | None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A retake's source → clean video latent and audio latent (None without a soundtrack) fitted to the clip's
    length; records `source_video_latent`, `source_mel`, `source_audio_latent`."""
    record = current_recorder()
    video_latent = encode_source_video(images, clip)
    if record is not None:
        record("source_video_latent", video_latent)
    if audio is None:
        return video_latent, None
    from ltx_core.model.audio_vae import audio_latent_frames_for_video

    frames = int(clip.frames.shape[0])
    latent_frames = audio_latent_frames_for_video(frames, clip.fps)
    audio_latent = encode_source_audio(sound, audio, latent_frames)
    if record is not None:
        record("source_audio_latent", audio_latent)
    return video_latent, audio_latent


def _mel(checkpoint: CheckpointLike, audio: Audio) -> torch.Tensor:
    """The encoder's input, recomputed for the record (the encoder computes it internally the same way)."""
    from ltx_core.model.audio_vae import audio_vae_config, waveform_to_mel

    ckpt = open_checkpoint(checkpoint)
    return waveform_to_mel(audio.waveform, audio.sampling_rate, audio_vae_config(ckpt.config, ckpt.path).mel)
