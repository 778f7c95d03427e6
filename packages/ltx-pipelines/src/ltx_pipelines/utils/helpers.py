"""Turning user image inputs into conditioning items (spec 6.8).

The image loader and the VAE encoder are passed in, so this module only decides *how* each image conditions
the video: replaced in place at latent frame 0, or appended as a guiding keyframe at its pixel frame.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Protocol

import numpy as np
import torch

from ltx_core.conditioning import VideoConditionByKeyframeIndex, VideoConditionByLatentIndex
from ltx_core.errors import InputError
from ltx_core.hdr.spaces import HDRColorSpace
from ltx_core.numerics import DEFAULT_NUMERICS, Numerics
from ltx_pipelines.utils.constants import DEFAULT_IMAGE_CRF
from ltx_pipelines.utils.recording import recorded_encoder

if TYPE_CHECKING:
    from ltx_pipelines.utils.blocks import ImageConditioner


class ImageConditioningInput(NamedTuple):
    path: str | Path | np.ndarray  # a file, or decoded uint8 [H, W, 3]
    frame_idx: int  # pixel frame index
    strength: float
    crf: int | None = None  # None: the video VAE file's default (`ImageConditioner.default_image_crf`; 33 before 2.4)


# (path, height, width, dtype, device, crf or None) → [1, 3, 1, height, width] pixels in [-1, 1]
ImageLoader = Callable[[str | Path, int, int, torch.dtype, torch.device | str, int | None], torch.Tensor]


class PixelEncodeFn(Protocol):
    def __call__(self, pixels: torch.Tensor) -> torch.Tensor: ...


ImageConditioning = VideoConditionByLatentIndex | VideoConditionByKeyframeIndex


def load_image(
    source: str | Path | np.ndarray,
    height: int,
    width: int,
    dtype: torch.dtype,
    device: torch.device | str,
    crf: int | None,
    numerics: Numerics = DEFAULT_NUMERICS,
) -> torch.Tensor:
    """An image path, or an already-decoded uint8 `[H, W, 3]` array, → `[1, 3, 1, height, width]` in [-1, 1] (crf
    None: 33; the pipelines resolve it from their video VAE first, `ImageConditioner.load_image`)."""
    from ltx_pipelines.media.image import preprocess_image

    crf = DEFAULT_IMAGE_CRF if crf is None else crf
    return preprocess_image(source, height, width, dtype, device, crf, numerics)


def check_exr_images(images: Sequence[ImageConditioningInput], color_space: HDRColorSpace | None) -> bool:
    """Whether the images are EXR stills: all or none (spec NP 5), and EXR only with an HDR colour space."""
    from ltx_pipelines.media.exr import check_exr_inputs

    return check_exr_inputs([image.path for image in images], color_space)


def load_exr_still(
    source: str | Path,
    height: int,
    width: int,
    dtype: torch.dtype,
    device: torch.device | str,
    crf: int | None,
    *,
    color_space: HDRColorSpace,
) -> torch.Tensor:
    """An `ImageLoader` for EXR stills: `media.exr.load_exr_image` (the CRF is unused: no compression emulation)."""
    from ltx_pipelines.media.exr import load_exr_image

    return load_exr_image(source, height, width, dtype, device, color_space)


def first_image_path(images: Sequence[ImageConditioningInput]) -> str | Path | None:
    """The prompt-enhancement image: the first image, when it is an SDR file (None for none, a decoded array or an
    EXR still, which Gemma's image path cannot read)."""
    if not images or isinstance(images[0].path, np.ndarray) or Path(images[0].path).suffix.lower() == ".exr":
        return None
    return images[0].path


def combined_image_conditionings(
    images: Sequence[ImageConditioningInput],
    height: int,
    width: int,
    video_encoder: PixelEncodeFn,
    dtype: torch.dtype,
    device: torch.device | str,
    load_image_fn: ImageLoader | None = None,
    *,
    frame_0_replaces: bool = True,
) -> list[ImageConditioning]:
    """Frame 0 replaces the first latent frame's tokens; any other frame is appended as a guiding keyframe.

    With `frame_0_replaces=False` (keyframe interpolation) every image, frame 0 included, is an appended keyframe.
    """
    load = load_image_fn or load_image
    items: list[ImageConditioning] = []
    for image in images:
        if image.frame_idx < 0:
            raise InputError(f"image frame index {image.frame_idx} for {image.path} is invalid; use 0 or more")
        latent = video_encoder(load(image.path, height, width, dtype, device, image.crf))
        if image.frame_idx == 0 and frame_0_replaces:
            items.append(VideoConditionByLatentIndex(latent=latent, strength=image.strength, latent_idx=0))
        else:
            items.append(
                VideoConditionByKeyframeIndex(keyframes=latent, frame_idx=image.frame_idx, strength=image.strength)
            )
    return items


ConditioningsFn = Callable[..., list]  # `combined_image_conditionings` or a partial of it


def encode_image_conditionings(
    conditioner: ImageConditioner,
    images: Sequence[ImageConditioningInput],
    height: int,
    width: int,
    how: ConditioningsFn = combined_image_conditionings,
    *,
    color_space: HDRColorSpace | None = None,
) -> list[ImageConditioning]:
    """Encode every image at this stage's size (encoder built for the call, then freed) into conditioning items;
    records `image_pixels` / `image_latent` (suffixed `_i` for several images) to the current recorder. With an HDR
    `color_space`, EXR stills are read in it (spec NP 5.2: all images EXR or none; EXR needs a colour space)."""
    if not images:
        return []
    exr = check_exr_images(images, color_space)

    def items(encode: PixelEncodeFn) -> list[ImageConditioning]:
        encoder = recorded_encoder(encode, len(images))
        load = partial(load_exr_still, color_space=color_space) if exr else conditioner.load_image
        return how(images, height, width, encoder, conditioner.dtype, conditioner.device, load_image_fn=load)

    return conditioner(items)
