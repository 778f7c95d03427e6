"""Turning user image inputs into conditioning items (spec 6.8).

The image loader and the VAE encoder are passed in, so this module only decides *how* each image conditions
the video: replaced in place at latent frame 0, or appended as a guiding keyframe at its pixel frame.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple, Protocol

import torch

from ltx_core.conditioning import VideoConditionByKeyframeIndex, VideoConditionByLatentIndex
from ltx_core.errors import InputError
from ltx_pipelines.utils.constants import DEFAULT_IMAGE_CRF


class ImageConditioningInput(NamedTuple):
    path: str | Path
    frame_idx: int  # pixel frame index
    strength: float
    crf: int = DEFAULT_IMAGE_CRF


# (path, height, width, dtype, device, crf) → [1, 3, 1, height, width] pixels in [-1, 1]
ImageLoader = Callable[[str | Path, int, int, torch.dtype, torch.device | str, int], torch.Tensor]


class VideoEncoder(Protocol):
    def __call__(self, pixels: torch.Tensor) -> torch.Tensor: ...


ImageConditioning = VideoConditionByLatentIndex | VideoConditionByKeyframeIndex


def _default_loader() -> ImageLoader:
    from ltx_pipelines.media.image import load_image_and_preprocess

    return load_image_and_preprocess


def _encode_images(
    images: Sequence[ImageConditioningInput],
    height: int,
    width: int,
    video_encoder: VideoEncoder,
    dtype: torch.dtype,
    device: torch.device | str,
    load_image: ImageLoader | None,
) -> list[tuple[ImageConditioningInput, torch.Tensor]]:
    load = load_image or _default_loader()
    out = []
    for image in images:
        if image.frame_idx < 0:
            raise InputError(f"image frame index {image.frame_idx} for {image.path} is invalid; use 0 or more")
        pixels = load(image.path, height, width, dtype, device, image.crf)
        out.append((image, video_encoder(pixels)))
    return out


def combined_image_conditionings(
    images: Sequence[ImageConditioningInput],
    height: int,
    width: int,
    video_encoder: VideoEncoder,
    dtype: torch.dtype,
    device: torch.device | str,
    load_image: ImageLoader | None = None,
) -> list[ImageConditioning]:
    """Frame 0 replaces the first latent frame's tokens; any other frame is appended as a guiding keyframe."""
    items: list[ImageConditioning] = []
    for image, latent in _encode_images(images, height, width, video_encoder, dtype, device, load_image):
        if image.frame_idx == 0:
            items.append(VideoConditionByLatentIndex(latent=latent, strength=image.strength, latent_idx=0))
        else:
            items.append(
                VideoConditionByKeyframeIndex(keyframes=latent, frame_idx=image.frame_idx, strength=image.strength)
            )
    return items


def image_conditionings_by_adding_guiding_latent(
    images: Sequence[ImageConditioningInput],
    height: int,
    width: int,
    video_encoder: VideoEncoder,
    dtype: torch.dtype,
    device: torch.device | str,
    load_image: ImageLoader | None = None,
) -> list[ImageConditioning]:
    """Every image, frame 0 included, appended as a guiding keyframe (keyframe interpolation)."""
    return [
        VideoConditionByKeyframeIndex(keyframes=latent, frame_idx=image.frame_idx, strength=image.strength)
        for image, latent in _encode_images(images, height, width, video_encoder, dtype, device, load_image)
    ]


def image_conditionings_by_replacing_latent(
    images: Sequence[ImageConditioningInput],
    height: int,
    width: int,
    video_encoder: VideoEncoder,
    dtype: torch.dtype,
    device: torch.device | str,
    load_image: ImageLoader | None = None,
) -> list[ImageConditioning]:
    """Every image replaces latent frame `frame_idx` (the pixel index is used as a latent index, as official)."""
    return [
        VideoConditionByLatentIndex(latent=latent, strength=image.strength, latent_idx=image.frame_idx)
        for image, latent in _encode_images(images, height, width, video_encoder, dtype, device, load_image)
    ]
