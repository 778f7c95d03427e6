"""The video geometry rules, with expectations computed by hand."""

from __future__ import annotations

import pytest

from ltx_core.errors import InputError
from ltx_core.geometry import (
    SPATIAL_SCALE,
    TIME_SCALE,
    check_frame_count,
    check_multiple,
    frame_count_bounds,
    is_frame_count,
    is_multiple,
    joined,
    latent_frames,
    latent_size,
    multiple_bounds,
    nearest,
    nearest_frame_counts,
    nearest_multiples,
    pixel_frames,
    pixel_size,
    video_latent_tokens,
)
from ltx_core.types import VIDEO_SCALE_FACTORS, VideoLatentShape, VideoPixelShape


def test_the_shapes_use_the_geometry_scale_factors() -> None:
    assert VIDEO_SCALE_FACTORS.as_tuple() == (TIME_SCALE, SPATIAL_SCALE, SPATIAL_SCALE)


def test_latent_pixel_conversions() -> None:
    # 121 frames = 1 + 8·15 → 16 latent frames; 16 latent frames decode to 1 + 8·15 = 121 pixel frames
    assert latent_frames(121) == 16 and pixel_frames(16) == 121
    assert latent_frames(1) == 1 and pixel_frames(1) == 1  # the first frame alone
    assert latent_frames(124) == 16  # trailing frames floor away (the official encoder drops them)
    assert latent_size(512) == 16 and latent_size(767) == 23 and pixel_size(24) == 768
    assert video_latent_tokens(121, 512, 768) == 16 * 16 * 24  # 6144
    shape = VideoPixelShape(batch=1, frames=121, height=512, width=768, frame_rate=24.0)
    latent = VideoLatentShape.from_pixel_shape(shape, channels=128)
    assert (latent.frames, latent.height, latent.width) == (16, 16, 24)
    assert latent.upscale().to_torch_shape() == (1, 3, 121, 512, 768)


@pytest.mark.parametrize(("frames", "valid"), [(1, True), (9, True), (121, True), (0, False), (8, False), (120, False)])
def test_frame_counts(frames: int, valid: bool) -> None:
    assert is_frame_count(frames) is valid


@pytest.mark.parametrize(
    ("value", "divisor", "valid"), [(512, 64, True), (32, 32, True), (0, 32, False), (480, 64, False)]
)
def test_multiples(value: int, divisor: int, valid: bool) -> None:
    assert is_multiple(value, divisor) is valid


def test_bounds() -> None:
    assert frame_count_bounds(120) == (113, 121)
    assert frame_count_bounds(5) == (1, 9)
    assert frame_count_bounds(0) == (1, 9)  # never below one frame
    assert frame_count_bounds(-20) == (1, 9)
    assert multiple_bounds(1000, 64) == (960, 1024)
    assert multiple_bounds(10, 32) == (32, 64)  # never 0
    assert nearest(7, (1, 9)) == (9,)
    assert joined((448, 512)) == "448 or 512" and joined((32,)) == "32"


def test_nearest_values_by_hand() -> None:
    assert nearest_multiples(500, 64) == (512,)
    assert nearest_multiples(480, 64) == (448, 512)  # exactly between
    assert nearest_multiples(10, 32) == (32,)  # never 0
    assert nearest_multiples(-100, 32) == (32,)
    assert nearest_frame_counts(120) == (121,)
    assert nearest_frame_counts(100) == (97,)
    assert nearest_frame_counts(5) == (1, 9)
    assert nearest_frame_counts(0) == (1,)


def test_validators_raise_one_line_errors_naming_the_value_and_the_nearest_valid() -> None:
    check_multiple("height", 512, 64)
    check_frame_count("num_frames", 121)
    with pytest.raises(InputError, match=r"^--width 1000 must be a positive multiple of 64; nearest valid: 1024$"):
        check_multiple("--width", 1000, 64)
    with pytest.raises(InputError, match=r"^height 80 must be a positive multiple of 64 for two-stage pipelines; "):
        check_multiple("height", 80, 64, " for two-stage pipelines")
    with pytest.raises(InputError, match=r"nearest valid: 64 or 96$"):  # exactly between
        check_multiple("height", 80, 32)
    with pytest.raises(InputError) as err:
        check_frame_count("frame count", 20)
    assert str(err.value) == "frame count 20 must be 8k+1 (1, 9, 17, ..., 121, ...); nearest valid: 17"
    with pytest.raises(InputError, match=r"nearest valid: 1$"):
        check_frame_count("num_frames", 0)
