"""IC (in-context) reference-video helpers shared by the IC-LoRA and lip-dub pipelines (spec 6.3, 6.6, 13.6, 13.9),
and the lip-dub reference (a clip with its own audio track).

A reference ("control") video is read (a file, or frames already decoded), preprocessed at the reference size
(the stage size divided by the IC-LoRA's `reference_downscale_factor`), VAE-encoded, and appended after the generated
video tokens as a `VideoConditionByReferenceLatent`; an optional pixel-space attention mask is downsampled to the
reference latent grid and turns into per-token attention weights. Also here: the distilled-checkpoint check both
pipelines need (their command-line checks are in `cli/commands/ic_lora.py`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
import torch.nn.functional as F

from ltx_core.components.noisers import ConditioningItem
from ltx_core.conditioning import (
    AudioConditionByReferenceLatent,
    ConditioningItemAttentionStrengthWrapper,
    VideoConditionByReferenceLatent,
    patchify_lipdub_audio_reference_latent,
)
from ltx_core.errors import CheckpointError, InputError, LoraError
from ltx_core.geometry import (
    SPATIAL_SCALE,
    TIME_SCALE,
    frame_count_bounds,
    is_frame_count,
    is_multiple,
    multiple_bounds,
)
from ltx_core.loader import LoraSpec, SafetensorsFile, open_checkpoint
from ltx_core.types import Audio
from ltx_pipelines.media.video import VideoClip, read_video, read_video_info, video_preprocess
from ltx_pipelines.utils.blocks import AudioEncodeFn, CheckpointLike, VideoEncodeFn
from ltx_pipelines.utils.recording import current_recorder

logger = logging.getLogger(__name__)

T = TypeVar("T")
DOWNSCALE_METADATA_KEY = "reference_downscale_factor"
# A reference video: a file, decoded frames with their rate, or uint8 frames [F, H, W, 3] (tensor or array).
ReferenceVideo = str | Path | VideoClip | torch.Tensor | np.ndarray
VideoEncodeWithTiling = VideoEncodeFn  # (pixels, tiling=None) → latent


@dataclass(frozen=True)
class VideoConditioningInput:
    """One reference video and its conditioning strength (`--video-conditioning PATH STRENGTH`)."""

    video: ReferenceVideo
    strength: float = 1.0


# --- checkpoint and LoRA metadata ---------------------------------------------------------------------------------


def probe_video(path: Path, flag: str, *, audio: bool = False) -> None:
    """The file opens as a video (and has an audio stream when `audio`): stream headers only, so a corrupt or wrong
    file is refused before any model is built (exit 2) rather than when the pipeline reads it."""

    try:
        read_video_info(path)
        if audio:
            import av

            from ltx_pipelines.media._errors import reading

            with reading(path, "audio"), av.open(str(path)) as container:
                if not container.streams.audio:
                    raise InputError(f"file {str(path)!r} has no audio stream")
    except InputError as exc:
        raise InputError(f"{flag}: {exc}") from None


def check_distilled_checkpoint(checkpoint: CheckpointLike, pipeline: str) -> None:
    """Refuse a checkpoint that is recognisably the non-distilled ("dev") model.

    Released files carry no metadata that tells distilled from dev weights, so the rule is on the file name, as
    released: a name whose words (split at any non-alphanumeric character) include `dev` but not `distilled` is a
    dev checkpoint (`ltx-2-19b-dev.safetensors`, `ltx-2.3-22b-dev-fp8.safetensors`); every other name is accepted.
    """
    from ltx_pipelines.utils.checkpoints import transformer_file

    checkpoint = transformer_file(checkpoint)
    if checkpoint is None:
        return
    path = open_checkpoint(checkpoint).path if not isinstance(checkpoint, (str, Path)) else Path(checkpoint)
    words = set(re.split(r"[^a-z0-9]+", path.stem.lower()))
    if "dev" in words and "distilled" not in words:
        raise CheckpointError(
            f"{path.name} is a non-distilled (dev) checkpoint; the {pipeline} pipeline runs the distilled model only: "
            "pass the distilled checkpoint (e.g. ltx-2.3-22b-distilled.safetensors)"
        )


def lora_downscale_factor(path: str | Path, default: int = 1) -> int:
    """The IC-LoRA's `reference_downscale_factor` metadata (`default` when absent); a malformed value is a
    `LoraError`."""

    raw = SafetensorsFile(path).metadata.get(DOWNSCALE_METADATA_KEY)
    if raw is None:
        return default
    try:
        factor = int(str(raw).strip())
    except ValueError:
        factor = 0
    if factor < 1:
        raise LoraError(f"{path}: metadata {DOWNSCALE_METADATA_KEY}={raw!r} is not a positive integer (e.g. '1', '2')")
    return factor


def reference_downscale_factor(loras: Sequence[LoraSpec]) -> int:
    """The common factor of the LoRAs that state one other than 1 (1 when none does); two different ones clash."""
    factors = {lora.path.name: lora_downscale_factor(lora.path) for lora in loras}
    distinct = sorted({f for f in factors.values() if f != 1})
    if len(distinct) > 1:
        listing = ", ".join(f"{name}: {f}" for name, f in factors.items() if f != 1)
        raise LoraError(f"the IC-LoRAs ask for different {DOWNSCALE_METADATA_KEY} values ({listing}); use one of them")
    return distinct[0] if distinct else 1


# --- reference video geometry --------------------------------------------------------------------------------------


def reference_size(height: int, width: int, factor: int, output_scale: int = 1) -> tuple[int, int]:
    """Reference pixel size for a stage of `height` x `width`: the stage size / factor, a multiple of 32 each.

    `output_scale` is output size / stage size (2 for a half-size stage 1), so that errors name output sizes.
    """
    for name, value in (("height", height), ("width", width)):
        ref = value // factor
        if value % factor or not is_multiple(ref, SPATIAL_SCALE):
            step = SPATIAL_SCALE * factor * output_scale
            out = value * output_scale
            low, high = multiple_bounds(out, step)
            raise InputError(
                f"{name} {out} gives a {value / factor:g}-px reference video (stage size / reference downscale factor "
                f"{factor}), not a multiple of {SPATIAL_SCALE}; use a {name} that is a multiple of {step}, e.g. {low} "
                f"or {high}"
            )
    return height // factor, width // factor


def reference_frame_count(available: int, num_frames: int, what: str = "reference video") -> int:
    """Frames used: the first `num_frames` (or all if fewer), which must be 8k+1 for the VAE."""
    used = min(available, num_frames)
    if not is_frame_count(used):
        fit = frame_count_bounds(used)[0]
        raise InputError(
            f"{what} has {available} frames; the first min(frames, num_frames={num_frames}) = {used} are used and "
            f"must be 8k+1: give at least {num_frames} frames, or trim it to {fit}"
        )
    return used


def read_reference_video(source: ReferenceVideo, frame_cap: int | None = None) -> VideoClip:
    """Frames (uint8 `[F, H, W, 3]`, at most `frame_cap`) and fps of a reference video; fps is 0.0 for bare frames."""

    if isinstance(source, (str, Path)):
        return read_video(source, frame_cap=frame_cap)
    clip = source if isinstance(source, VideoClip) else VideoClip(torch.as_tensor(source), 0.0)
    frames = torch.as_tensor(clip.frames)
    if frames.dtype != torch.uint8 or frames.dim() != 4 or frames.shape[-1] != 3 or frames.shape[0] < 1:
        raise InputError(
            f"reference frames of shape {tuple(frames.shape)} and dtype {frames.dtype} are invalid; "
            "give uint8 RGB frames [F, H, W, 3] with F >= 1"
        )
    return VideoClip(frames[:frame_cap] if frame_cap is not None else frames, float(clip.fps))


def preprocess_reference(
    frames: torch.Tensor, height: int, width: int, dtype: torch.dtype, device: torch.device | str
) -> torch.Tensor:
    """uint8 `[F, H, W, 3]` → `[1, 3, F, height, width]` in [-1, 1] (resize to cover, centre crop; spec 12.2)."""

    return video_preprocess(list(frames), height, width, dtype, device)


# --- attention mask -------------------------------------------------------------------------------------------------


def downsample_mask_video_to_latent(mask: torch.Tensor, latent_frames: int, height: int, width: int) -> torch.Tensor:
    """Pixel-space mask `(B, 1, F, H, W)` → per-token weights `(B, latent_frames·height·width)` on the latent grid.

    Each frame is area-averaged to `(height, width)`; latent frame 0 is pixel frame 0 alone (the VAE's causal first
    frame), every later latent frame the mean of the next `(F − 1) / (latent_frames − 1)` pixel frames.
    """
    if mask.dim() != 5 or mask.shape[1] != 1:
        raise InputError(f"attention mask shape {tuple(mask.shape)} is invalid; expected (batch, 1, frames, H, W)")
    b, _, f, h, w = mask.shape
    frames = mask.permute(0, 2, 1, 3, 4).reshape(b * f, 1, h, w)
    small = F.interpolate(frames, size=(height, width), mode="area").reshape(b, f, height, width)
    groups = latent_frames - 1
    if groups == 0 and f == 1:
        out = small
    elif groups > 0 and f > 1 and (f - 1) % groups == 0:
        run = (f - 1) // groups
        rest = small[:, 1:].reshape(b, groups, run, height, width).mean(dim=2)
        out = torch.cat([small[:, :1], rest], dim=1)
    else:
        fit = "1" if groups == 0 else f"1 + k·{groups} (e.g. {1 + TIME_SCALE * groups})"
        raise InputError(
            f"attention mask has {f} frames but the reference has {latent_frames} latent frames; the mask needs {fit}"
        )
    return out.reshape(b, latent_frames * height * width)


def check_attention_strength(strength: float) -> None:
    if not 0.0 <= strength <= 1.0:
        raise InputError(f"conditioning attention strength {strength} is outside [0, 1]")


def reference_conditioning(
    latent: torch.Tensor,
    factor: int,
    strength: float,
    attention_strength: float = 1.0,
    attention_mask: torch.Tensor | None = None,
) -> ConditioningItem:
    """The reference item, wrapped with attention weights when a mask is given or the attention strength < 1
    (records `reference_latent_mask`, `reference_attention_weights` for a mask)."""
    record = current_recorder()
    item = VideoConditionByReferenceLatent(latent, downscale_factor=factor, strength=strength)
    weights: float | torch.Tensor | None = None
    if attention_mask is not None:
        _, _, f, h, w = latent.shape
        latent_mask = downsample_mask_video_to_latent(attention_mask.to(latent.device), f, h, w)
        weights = latent_mask * attention_strength
        if record is not None:
            record("reference_latent_mask", latent_mask)
            record("reference_attention_weights", weights)
    elif attention_strength < 1.0:
        weights = attention_strength
    return item if weights is None else ConditioningItemAttentionStrengthWrapper(item, weights)


def load_attention_mask_video(
    source: ReferenceVideo, num_frames: int, height: int, width: int, dtype: torch.dtype, device: torch.device | str
) -> torch.Tensor:
    """A mask video (white = attend) → `(1, 1, F, height, width)` in [0, 1]: preprocessed like a reference, mean over
    RGB, mapped from [-1, 1] to [0, 1] (the official CLI's mask loading, spec 13.6)."""
    clip = read_reference_video(source, frame_cap=num_frames)
    pixels = preprocess_reference(clip.frames, height, width, dtype, device)
    return ((pixels.mean(dim=1, keepdim=True) + 1) / 2).clamp(0, 1)


# --- encoding -----------------------------------------------------------------------------------------------------


def encode_reference(
    encode: VideoEncodeWithTiling,
    frames: torch.Tensor,
    size: tuple[int, int],
    dtype: torch.dtype,
    device: torch.device | str,
    tiling: Any = None,
) -> torch.Tensor:
    """Reference frames → latent `(1, C, F', height/32, width/32)` at `size` = (height, width) (records
    `reference_pixels`/`reference_latent`)."""
    pixels = preprocess_reference(frames, *size, dtype, device)
    latent = encode(pixels, tiling)
    if (record := current_recorder()) is not None:
        record("reference_pixels", pixels)
        record("reference_latent", latent)
    return latent


# --- the lip-dub reference: a clip and its own audio track (spec 13.9) -----------------------------------------


@dataclass(frozen=True)
class LipDubReference:
    """The reference clip as the pipeline uses it: the first `num_frames` (8k+1) frames, its fps and its audio."""

    frames: torch.Tensor  # uint8 [num_frames, H, W, 3]
    frame_rate: float
    audio: Audio

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])


def snapped_frame_count(frames: int) -> int:
    """The longest 8k+1 prefix of a clip of `frames` frames."""
    return (frames - 1) // TIME_SCALE * TIME_SCALE + 1


def read_lipdub_reference(source: ReferenceVideo, audio: Audio | None = None) -> LipDubReference:
    """A clip file (video and its whole audio track), or decoded frames (`VideoClip` with its fps) plus `audio`."""
    from ltx_pipelines.media.audio import read_audio

    if isinstance(source, (str, Path)):
        info = read_video_info(source)
        if info.frames < 1:
            raise InputError(f"reference video {str(source)!r} has no frames")
        clip = read_reference_video(source, frame_cap=snapped_frame_count(info.frames))
        fps = info.fps
        audio = audio if audio is not None else read_audio(source)
    else:
        clip = read_reference_video(source)
        fps = clip.fps
        if fps <= 0:
            raise InputError("reference frames need their frame rate: pass a VideoClip(frames, fps) with fps > 0")
        if audio is None:
            raise InputError("decoded reference frames need the reference audio too (reference_audio=Audio(...))")
    used = snapped_frame_count(clip.frames.shape[0])
    if audio.waveform.shape[-1] < 1:
        raise InputError("the reference audio is empty; lip dubbing needs the clip's speech track")
    return LipDubReference(clip.frames[:used], float(fps), audio)


def audio_reference_item(latent: torch.Tensor) -> AudioConditionByReferenceLatent:
    """Reference audio latent `(1, C, T, M)` → tokens appended after the target audio, ending 0.04 s before t = 0."""
    item = patchify_lipdub_audio_reference_latent(latent, negative_positions=True)
    if (record := current_recorder()) is not None:
        record("reference_audio_tokens", item.patchified)
        record("reference_audio_positions", item.positions)
    return item


def encode_reference_audio(encode: AudioEncodeFn, audio: Audio, checkpoint: Any) -> torch.Tensor:
    """The whole reference track → latent `(1, C, T_ref, M)` (records `reference_mel`, `reference_audio_latent`)."""
    waveform = audio.waveform if audio.waveform.dim() == 3 else audio.waveform.unsqueeze(0)
    latent = encode(waveform, audio.sampling_rate)
    if (record := current_recorder()) is not None:
        from ltx_core.model.audio_vae import audio_vae_config, waveform_to_mel

        ckpt = open_checkpoint(checkpoint)
        record("reference_mel", waveform_to_mel(waveform, audio.sampling_rate, audio_vae_config(ckpt.config).mel))
        record("reference_audio_latent", latent)
    return latent
