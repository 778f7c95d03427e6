"""OpenEXR stills and frame folders in, half-float EXR frames out (spec NP 5.2-5.3), through the official OpenEXR
Python bindings: the optional extra `ltx-pipelines[hdr]` (`pip install "ltx-pipelines[hdr]"`), so that the base
install stays light. Without it every function here raises one `InputError` saying what to install.

In: an EXR's first three colour channels as float32 `[H, W, 3]` (R, G, B when present; one channel is replicated;
values unmodified), resized on linear light (stills: cover + centre crop, as SDR images; folders: shrink to fit +
reflect pad), then into the VAE working space (`ltx_core.hdr.spaces.working_pixels`) and its [-1, 1] range.
Out: R, G, B half float, ZIP compression, the colour space's `chromaticities` and `colorSpace`; every file written
atomically (temp file + rename).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterable
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ltx_core.errors import InputError
from ltx_core.hdr.spaces import HDRColorSpace, to_vae_range, working_pixels
from ltx_pipelines.media._errors import existing_file, first_line
from ltx_pipelines.media.atomic import umask_mode

log = logging.getLogger(__name__)

EXR_SUFFIX = ".exr"
INSTALL_HINT = "pip install 'ltx-pipelines[hdr]' (the OpenEXR bindings; `uv sync` in a checkout installs them)"


def openexr() -> Any:
    """The OpenEXR module, or an `InputError` saying how to install the optional extra."""
    try:
        import OpenEXR
    except ImportError:
        raise InputError(f"HDR / EXR support needs the optional extra: {INSTALL_HINT}") from None
    return OpenEXR


def is_exr(path: Any) -> bool:
    """A path (not decoded frames) naming an EXR file or a folder of EXR frames."""
    if not isinstance(path, str | Path):
        return False
    p = Path(path).expanduser()
    return p.suffix.lower() == EXR_SUFFIX or (p.is_dir() and any(_exr_files(p)))


def read_exr(path: str | Path) -> np.ndarray:
    """An EXR file's colour as float32 `[H, W, 3]`: channels R, G, B when present, else the first three in the file's
    order; a single channel is replicated. Values are returned as stored (half → float32 exactly)."""
    exr = openexr()
    p = existing_file(path, "EXR")
    try:
        with exr.File(str(p), separate_channels=True) as f:
            channels = {name: np.asarray(c.pixels) for name, c in f.channels().items()}
    except (RuntimeError, OSError, ValueError, TypeError) as exc:
        raise InputError(f"cannot read EXR file {str(path)!r}: {first_line(exc)}") from exc
    if all(c in channels for c in "RGB"):
        picked = [channels[c] for c in "RGB"]
    elif len(channels) == 1:
        picked = [next(iter(channels.values()))] * 3
    elif len(channels) >= 3:
        picked = list(channels.values())[:3]
    else:
        raise InputError(f"EXR file {str(path)!r} has channels {', '.join(channels)}; expected R, G, B or one channel")
    return np.stack([c.astype(np.float32) for c in picked], axis=-1)


def write_exr(
    path: str | Path, pixels: torch.Tensor | np.ndarray, color_space: HDRColorSpace, half: bool = True
) -> Path:
    """`[H, W, 3]` pixels → an EXR file (R, G, B; half float unless `half=False`; ZIP; the colour space's tags),
    atomically."""
    exr = openexr()
    array = pixels.detach().cpu().float().numpy() if isinstance(pixels, torch.Tensor) else np.asarray(pixels)
    if array.ndim != 3 or array.shape[-1] != 3:
        raise InputError(f"EXR pixels of shape {tuple(array.shape)} are not [height, width, 3]")
    dtype = np.float16 if half else np.float32
    channels = {c: np.ascontiguousarray(array[..., i].astype(dtype)) for i, c in enumerate("RGB")}
    header = {
        "compression": exr.ZIP_COMPRESSION,
        "type": exr.scanlineimage,
        "chromaticities": tuple(color_space.chromaticities),
        "colorSpace": color_space.exr_color_space,
    }
    final = Path(path).expanduser()
    fd, temp = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=".partial.exr", dir=final.parent)
    os.close(fd)
    try:
        with exr.File(header, channels) as f:
            f.write(temp)
        os.chmod(temp, umask_mode())  # mkstemp makes the file 0600; a finished file follows the umask
        os.replace(temp, final)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return final


def exr_frames_folder(output_path: str | Path) -> Path:
    """Where the EXR frames of an output go: `<output stem>_exr/` beside it."""
    out = Path(output_path).expanduser()
    return out.with_name(f"{out.stem}_exr")


def write_exr_frames(
    folder: str | Path, frames: Iterable[torch.Tensor], color_space: HDRColorSpace, start: int = 0
) -> int:
    """Chunks of EXR pixels `[f, H, W, 3]` → `folder/frame_00000.exr`, ... (numbered from `start`); returns how
    many were written."""
    index = start
    for chunk in frames:
        for frame in chunk:
            write_exr(Path(folder) / f"frame_{index:05d}.exr", frame, color_space)
            index += 1
    return index - start


def _exr_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() == EXR_SUFFIX and p.is_file())


def exr_folder_files(folder: str | Path, frame_start: int = 0, frame_cap: int | None = None) -> list[Path]:
    """A folder's `*.exr` files sorted by name, from `frame_start`, at most `frame_cap` (a warning when fewer)."""
    p = Path(folder).expanduser()
    if not p.is_dir():
        raise InputError(f"EXR frame folder not found: {str(folder)!r}")
    files = _exr_files(p)[frame_start:]
    if not files:
        raise InputError(f"EXR frame folder {str(folder)!r} has no .exr frames from frame {frame_start}")
    if frame_cap is not None:
        if len(files) < frame_cap:
            log.warning(
                "EXR frame folder %s has %d frames from frame %d; asked for %d", p, len(files), frame_start, frame_cap
            )
        files = files[:frame_cap]
    return files


class ResizeMode(Enum):
    """How EXR frames meet the generation size: cover + centre crop (stills, Retake folders) or shrink to fit +
    reflect pad bottom / right (IC-LoRA reference folders)."""

    CENTER_CROP = "center_crop"
    REFLECT_PAD = "reflect_pad"


def resize_and_reflect_pad(frames: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """`[F, 3, h, w]` → `[F, 3, height, width]`: no resize when the target is at least the source size, else scaled
    by min(height/h, width/w) (sizes rounded, bilinear); then padded bottom / right by reflection, or by replication
    when a pad is not smaller than the image side it extends."""
    h, w = frames.shape[-2:]
    if height < h or width < w:
        scale = min(height / h, width / w)
        size = (round(h * scale), round(w * scale))
        frames = F.interpolate(frames, size=size, mode="bilinear", align_corners=False)
        h, w = size
    pad_h, pad_w = height - h, width - w
    if pad_h == 0 and pad_w == 0:
        return frames
    mode = "reflect" if pad_h < h and pad_w < w else "replicate"
    return F.pad(frames, (0, pad_w, 0, pad_h), mode=mode)


def _to_vae_input(pixels: torch.Tensor, color_space: HDRColorSpace, dtype: torch.dtype) -> torch.Tensor:
    """`[1, 3, F, H, W]` float32 EXR pixels → working-space codes → the VAE's [-1, 1], cast to `dtype`."""
    return to_vae_range(working_pixels(pixels, color_space, channel_dim=1)).to(dtype)


def load_exr_image(
    path: str | Path,
    height: int,
    width: int,
    dtype: torch.dtype,
    device: torch.device | str,
    color_space: HDRColorSpace,
) -> torch.Tensor:
    """An EXR still → `[1, 3, 1, height, width]` VAE input: resized to cover + centre-cropped on its linear values
    (as SDR images), into the working space, `2c - 1`, cast to `dtype`. No compression emulation."""
    from ltx_pipelines.media.image import resize_and_center_crop

    pixels = torch.from_numpy(read_exr(path)).to(device)
    return _to_vae_input(resize_and_center_crop(pixels, height, width), color_space, dtype)


def load_exr_frames(
    folder: str | Path,
    height: int,
    width: int,
    dtype: torch.dtype,
    device: torch.device | str,
    color_space: HDRColorSpace,
    *,
    frame_cap: int | None = None,
    frame_start: int = 0,
    resize_mode: ResizeMode = ResizeMode.CENTER_CROP,
) -> torch.Tensor:
    """A folder of EXR frames → `[1, 3, F, height, width]` VAE input (F ≤ `frame_cap`)."""
    from ltx_pipelines.media.image import resize_and_center_crop

    files = exr_folder_files(folder, frame_start, frame_cap)
    arrays = [read_exr(f) for f in files]
    shapes = {a.shape[:2] for a in arrays}
    if len(shapes) > 1:
        raise InputError(f"EXR frames in {str(folder)!r} differ in size: {sorted(shapes)}")
    frames = torch.stack([torch.from_numpy(a) for a in arrays]).to(device)  # [F, h, w, 3]
    if resize_mode is ResizeMode.CENTER_CROP:
        pixels = resize_and_center_crop(frames, height, width)
    else:
        pixels = resize_and_reflect_pad(frames.permute(0, 3, 1, 2), height, width).permute(1, 0, 2, 3).unsqueeze(0)
    return _to_vae_input(pixels, color_space, dtype)


def check_exr_inputs(paths: Iterable[Any], color_space: HDRColorSpace | None) -> bool:
    """Whether the conditioning inputs are EXR (spec NP 5: all EXR or all SDR; EXR needs `--hdr`). Raises an
    `InputError` for a mix, or for EXR without a colour space."""
    kinds = {str(p): is_exr(p) for p in paths}
    if not kinds:
        return False
    if len(set(kinds.values())) > 1:
        exr = ", ".join(p for p, e in kinds.items() if e)
        raise InputError(f"conditioning inputs mix EXR ({exr}) and SDR files; give all EXR or all SDR")
    if any(kinds.values()) and color_space is None:
        first = next(iter(kinds))
        raise InputError(f"EXR input {first!r} needs --hdr (SRGB_LINEAR, ACESCG or ACESCCT: what its pixels are)")
    return any(kinds.values())
