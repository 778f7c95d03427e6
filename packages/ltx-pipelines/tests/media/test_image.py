"""Image reading, compression emulation and resize/crop, checked by hand on tiny inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ltx_core.errors import InputError
from ltx_pipelines.media.image import (
    compress_image,
    normalize_pixels,
    preprocess_image,
    read_image,
    resize_and_center_crop,
)


def _noise_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def test_read_image_drops_alpha_and_expands_grey(tmp_path: Path) -> None:
    rgba = np.random.default_rng(1).integers(0, 256, size=(5, 7, 4), dtype=np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    got = read_image(tmp_path / "a.png")
    assert got.dtype == np.uint8 and got.shape == (5, 7, 3)
    np.testing.assert_array_equal(got, rgba[..., :3])

    grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    Image.fromarray(grey, "L").save(tmp_path / "g.png")
    got = read_image(tmp_path / "g.png")
    assert got.shape == (3, 4, 3)
    np.testing.assert_array_equal(got[..., 1], grey)


def test_read_image_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"missing\.png"):
        read_image(tmp_path / "missing.png")
    bad = tmp_path / "corrupt.jpg"
    bad.write_bytes(b"\xff\xd8 definitely not a jpeg")
    with pytest.raises(InputError, match=r"corrupt\.jpg") as info:
        read_image(bad)
    assert "\n" not in str(info.value)


def test_compress_crf_zero_is_identity_and_odd_sizes_crop_to_even() -> None:
    image = _noise_image(7, 9)
    assert compress_image(image, 0) is image
    out = compress_image(image, 23)
    assert out.shape == (6, 8, 3) and out.dtype == np.uint8


def test_compress_changes_noise_but_keeps_flat_colour_close() -> None:
    noisy = _noise_image(16, 16)
    assert not np.array_equal(compress_image(noisy, 40), noisy)
    flat = np.full((16, 16, 3), 128, dtype=np.uint8)
    assert np.abs(compress_image(flat, 33).astype(int) - 128).max() <= 2


def test_compress_rejects_bad_crf_and_arrays() -> None:
    with pytest.raises(InputError, match="52"):
        compress_image(_noise_image(4, 4), 52)
    with pytest.raises(InputError, match="uint8"):
        compress_image(np.zeros((4, 4, 3), dtype=np.float32), 33)


def test_resize_and_center_crop_by_hand() -> None:
    # 2x4 image to 2x2: scale = max(2/2, 2/4) = 1 → no resize; crop left = (4 - 2) // 2 = 1.
    image = torch.arange(2 * 4 * 3, dtype=torch.float32).reshape(2, 4, 3)
    got = resize_and_center_crop(image, 2, 2)
    assert got.shape == (1, 3, 1, 2, 2)
    torch.testing.assert_close(got[0, :, 0], image[:, 1:3].permute(2, 0, 1))

    # 1x1 constant to 3x5: scale = 5, new size 5x5, crop top = 1; bilinear of a constant is the constant.
    const = torch.full((1, 1, 3), 7.0)
    got = resize_and_center_crop(const, 3, 5)
    assert got.shape == (1, 3, 1, 3, 5)
    torch.testing.assert_close(got, torch.full_like(got, 7.0))


def test_resize_rounds_size_up_then_crops_centre() -> None:
    # 1x2 ramp [0, 4] → 2x4: scale 2, source x = (i + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25 (clamped at the
    # borders) → [0, 1, 3, 4] with align_corners=False.
    ramp = torch.tensor([0.0, 4.0]).reshape(1, 2, 1).expand(1, 2, 3).contiguous()
    got = resize_and_center_crop(ramp, 2, 4)  # scale 2 → 2x4
    torch.testing.assert_close(got[0, 0, 0, 0], torch.tensor([0.0, 1.0, 3.0, 4.0]))
    frames = torch.zeros(4, 6, 8, 3)
    assert resize_and_center_crop(frames, 3, 3).shape == (1, 3, 4, 3, 3)
    # 4x6 → 3x3: scale = max(3/4, 3/6) = 0.75 → ceil(3.0) x ceil(4.5) = 3x5, crop left = 1.
    cols = torch.arange(6, dtype=torch.float32).reshape(1, 6, 1).expand(4, 6, 3)
    assert resize_and_center_crop(cols, 3, 3).shape == (1, 3, 1, 3, 3)


def test_normalize_and_preprocess_range() -> None:
    x = torch.tensor([0.0, 127.5, 255.0])
    torch.testing.assert_close(normalize_pixels(x, torch.float32, "cpu"), torch.tensor([-1.0, 0.0, 1.0]))
    out = preprocess_image(_noise_image(10, 14), 8, 8, torch.bfloat16, "cpu", crf=33)
    assert out.shape == (1, 3, 1, 8, 8) and out.dtype == torch.bfloat16
    assert out.min() >= -1 and out.max() <= 1
