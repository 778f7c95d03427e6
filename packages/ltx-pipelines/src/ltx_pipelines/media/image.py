"""Still-image conditioning input: read, emulate video compression, resize/centre-crop, normalise (spec 12.1).

Reading follows the numerics asked for (delta A.11): 1.1.3 takes the stored pixels as they are; 1.2.0 turns the
image upright by its EXIF orientation, converts an embedded ICC profile's colours to sRGB, and leaves images under
2 px on a side uncompressed.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import av
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageCms

from ltx_core.errors import InputError
from ltx_core.numerics import DEFAULT_NUMERICS, Numerics
from ltx_pipelines.media._errors import existing_file, reading

DEFAULT_IMAGE_CRF = 33


# EXIF orientation → counter-clockwise rotation that makes the image upright (delta A.11: 3, 6 and 8 only)
_EXIF_ORIENTATION = 0x0112
_UPRIGHT_ROTATION = {3: 180, 6: 270, 8: 90}


def read_image(path: str | Path, numerics: Numerics = DEFAULT_NUMERICS) -> np.ndarray:
    """Decode any Pillow-readable image to uint8 RGB `[H, W, 3]` (alpha dropped, palette/grey expanded); under
    1.2.0 numerics upright and in sRGB (`upright_srgb`)."""
    p = existing_file(path, "image")
    with reading(p, "image"), Image.open(p) as img:
        img.load()
        if numerics.image_exif_icc_decode:
            return np.array(upright_srgb(img))
        if img.mode not in ("RGB", "RGBA"):
            img = img.convert("RGB")
        return np.array(img)[..., :3].copy()


def upright_srgb(img: Image.Image) -> Image.Image:
    """The 1.2.0 decode (delta A.11): rotated as its EXIF orientation says (3/6/8: 180/270/90° counter-clockwise,
    canvas expanded), alpha dropped (RGBA → RGB, LA → L), then an embedded ICC profile converted to sRGB (plain RGB
    conversion if the profile cannot be used), else converted to RGB (grey and palette images)."""
    icc = img.info.get("icc_profile")
    rotation = _UPRIGHT_ROTATION.get(img.getexif().get(_EXIF_ORIENTATION, 1))
    if rotation is not None:
        img = img.rotate(rotation, expand=True)
    if img.mode in ("RGBA", "LA"):
        img = img.convert(img.mode[:-1])
    if icc:
        try:
            profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            return ImageCms.profileToProfile(img, profile, ImageCms.createProfile("sRGB"), outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass
    return img.convert("RGB")


def compress_image(image: np.ndarray, crf: int) -> np.ndarray:
    """Round-trip one RGB frame through H.264 (libx264, yuv420p) at `crf`, as generated videos are compressed.

    The model was trained on compressed frames, so conditioning images are given the same artefacts. Odd sizes are
    cropped to even from the top-left first (yuv420p needs even sizes); `crf == 0` disables the emulation and
    returns the image unchanged.
    """
    if crf < 0 or crf > 51:
        raise InputError(f"image CRF {crf} is out of range; valid: 0 (off) to 51")
    _check_rgb_uint8(image)
    if crf == 0:
        return image
    height, width = image.shape[0] // 2 * 2, image.shape[1] // 2 * 2
    if height == 0 or width == 0:
        raise InputError(f"image of size {image.shape[1]}x{image.shape[0]} is too small to compress; need at least 2x2")
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=1, options={"crf": str(crf), "preset": "veryfast"})
        stream.height, stream.width = height, width
        stream.pix_fmt = "yuv420p"
        rgb = np.ascontiguousarray(image[:height, :width])
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
        container.mux(stream.encode(frame))
        container.mux(stream.encode())
    buffer.seek(0)
    with av.open(buffer, "r", format="mp4") as container:
        decoded = next(container.decode(video=0))
        return decoded.to_ndarray(format="rgb24")


def resize_and_center_crop(pixels: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Cover `height x width` with bilinear scaling by max(h/H, w/W) (size rounded up), then crop the centre.

    `pixels` is `[H, W, C]` (an image) or `[F, H, W, C]` (frames), any float dtype; the result is
    `[1, C, F, height, width]` (F = 1 for an image). Interpolation runs on the tensor's device, as the reference does.
    """
    if pixels.ndim == 3:
        frames = pixels.permute(2, 0, 1).unsqueeze(0)
    elif pixels.ndim == 4:
        frames = pixels.permute(0, 3, 1, 2)
    else:
        raise InputError(f"pixels of shape {tuple(pixels.shape)} are neither [H, W, C] nor [F, H, W, C]")
    src_h, src_w = frames.shape[-2:]
    scale = max(height / src_h, width / src_w)
    new_h, new_w = math.ceil(src_h * scale), math.ceil(src_w * scale)
    resized = F.interpolate(frames, size=(new_h, new_w), mode="bilinear", align_corners=False)
    top, left = (new_h - height) // 2, (new_w - width) // 2
    cropped = resized[:, :, top : top + height, left : left + width]
    return cropped.permute(1, 0, 2, 3).unsqueeze(0)


def normalize_pixels(pixels: torch.Tensor, dtype: torch.dtype, device: torch.device | str) -> torch.Tensor:
    """0…255 values → [-1, 1] in `dtype` (the division is done in the input's float dtype, then cast)."""
    return (pixels / 127.5 - 1.0).to(device=device, dtype=dtype)


def preprocess_image(
    image: np.ndarray | str | Path,
    height: int,
    width: int,
    dtype: torch.dtype,
    device: torch.device | str,
    crf: int = DEFAULT_IMAGE_CRF,
    numerics: Numerics = DEFAULT_NUMERICS,
) -> torch.Tensor:
    """uint8 `[H, W, 3]` (or an image file, read as `numerics` says) → compression emulation → `[1, 3, 1, height,
    width]` in [-1, 1], the VAE encoder input (spec 12.1). Under 1.2.0 an image under 2 px on a side is not
    compressed (H.264 needs 2 x 2)."""
    if not isinstance(image, np.ndarray):
        image = read_image(image, numerics)
    tiny = numerics.image_exif_icc_decode and min(image.shape[:2]) < 2
    compressed = image if tiny else compress_image(image, crf)
    pixels = torch.tensor(compressed, dtype=torch.float32, device=device)
    return normalize_pixels(resize_and_center_crop(pixels, height, width), dtype, device)


def _check_rgb_uint8(image: np.ndarray) -> None:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f"image array has dtype {image.dtype} and shape {image.shape}; expected uint8 [H, W, 3]")
