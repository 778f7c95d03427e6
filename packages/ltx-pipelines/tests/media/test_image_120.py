"""The 1.2.0 image decode (delta A.11) on small images made here: EXIF orientation, alpha, palette and grey images,
ICC profiles, images under 2 px; the 1.1.3 decode keeps the stored pixels."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageCms

from ltx_core.errors import InputError
from ltx_core.numerics import NUMERICS_1_1_3, NUMERICS_1_2_0
from ltx_pipelines.media.image import preprocess_image, read_image

STORED = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3) * 14  # 2 rows x 3 columns, every pixel distinct


def _png(path: Path, image: Image.Image, **options: object) -> Path:
    image.save(path, **options)
    return path


@pytest.mark.parametrize(
    "orientation,turns",
    [(1, 0), (3, 2), (6, -1), (8, 1), (2, 0)],  # 6: 270° counter-clockwise = a quarter turn clockwise; 2 (mirror): kept
)
def test_exif_orientation_turns_the_image_upright(tmp_path: Path, orientation: int, turns: int) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"o{orientation}.jpg"
    Image.fromarray(STORED).save(path, quality=100, subsampling=0, exif=exif.tobytes())
    stored = read_image(path, NUMERICS_1_1_3)  # 1.1.3: the pixels as stored (JPEG-rounded)
    assert stored.shape == (2, 3, 3)
    upright = read_image(path, NUMERICS_1_2_0)
    np.testing.assert_array_equal(upright, np.rot90(stored, k=turns))
    if orientation == 6:  # by hand: the stored bottom-left pixel becomes the top-left one, 3 rows x 2 columns
        assert upright.shape == (3, 2, 3)
        np.testing.assert_array_equal(upright[0, 0], stored[1, 0])


def test_palette_grey_and_alpha_images_become_rgb(tmp_path: Path) -> None:
    palette = Image.fromarray(np.array([[0, 1], [2, 1]], dtype=np.uint8), "P")
    palette.putpalette([255, 0, 0, 0, 255, 0, 10, 20, 30] + [0] * (253 * 3))
    got = read_image(_png(tmp_path / "p.png", palette), NUMERICS_1_2_0)
    red, green, dark = [255, 0, 0], [0, 255, 0], [10, 20, 30]
    np.testing.assert_array_equal(got, np.array([[red, green], [dark, green]], dtype=np.uint8))

    rgba = np.concatenate([STORED, np.full((2, 3, 1), 7, np.uint8)], axis=2)
    got = read_image(_png(tmp_path / "a.png", Image.fromarray(rgba, "RGBA")), NUMERICS_1_2_0)
    np.testing.assert_array_equal(got, STORED)  # alpha dropped, colours untouched (no compositing)

    grey_alpha = np.stack([STORED[..., 0], np.full((2, 3), 9, np.uint8)], axis=2)
    got = read_image(_png(tmp_path / "la.png", Image.fromarray(grey_alpha, "LA")), NUMERICS_1_2_0)
    np.testing.assert_array_equal(got, np.repeat(STORED[..., :1], 3, axis=2))


def _xyz(x: float, y: float, z: float) -> bytes:
    return b"XYZ " + bytes(4) + b"".join(struct.pack(">i", round(v * 65536)) for v in (x, y, z))


def _red_green_swapped_profile() -> bytes:
    """An ICC v2 RGB matrix/TRC profile with linear curves whose red primary is sRGB's green and green sRGB's red
    (D50-adapted sRGB primaries): its pure red is sRGB's pure green."""
    red, green, blue = (0.4361, 0.2225, 0.0139), (0.3851, 0.7169, 0.0971), (0.1431, 0.0606, 0.7141)
    linear = b"curv" + bytes(4) + struct.pack(">I", 0)  # no entries: the identity curve
    tags = [(b"wtpt", _xyz(0.9642, 1.0, 0.8249)), (b"rXYZ", _xyz(*green)), (b"gXYZ", _xyz(*red))]
    tags += [(b"bXYZ", _xyz(*blue)), (b"rTRC", linear), (b"gTRC", linear), (b"bTRC", linear)]
    start = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for signature, body in tags:
        table += signature + struct.pack(">II", start + len(data), len(body))
        data += body + bytes(-len(body) % 4)
    header = struct.pack(">I", start + len(data)) + bytes(4) + struct.pack(">I", 0x02100000) + b"mntrRGB XYZ "
    header += bytes(12) + b"acsp"
    header += bytes(68 - len(header)) + _xyz(0.9642, 1.0, 0.8249)[8:]  # the D50 illuminant
    return header + bytes(128 - len(header)) + struct.pack(">I", len(tags)) + table + data


def test_icc_colours_are_converted_to_srgb(tmp_path: Path) -> None:
    """By hand: red (255, 0, 0) is sRGB's pure green; 128 is linear 0.502, sRGB-encoded 1.055 · 0.502^(1/2.4) −
    0.055 = 0.7367 → 188; blue and white stay. The 1.1.3 decode ignores the profile."""
    pixels = np.array([[[255, 0, 0], [128, 0, 0], [0, 0, 255], [255, 255, 255]]], dtype=np.uint8)
    path = _png(tmp_path / "swapped.png", Image.fromarray(pixels), icc_profile=_red_green_swapped_profile())
    expected = np.array([[[0, 255, 0], [0, 188, 0], [0, 0, 255], [255, 255, 255]]], dtype=np.uint8)
    assert np.abs(read_image(path, NUMERICS_1_2_0).astype(int) - expected).max() <= 1
    np.testing.assert_array_equal(read_image(path, NUMERICS_1_1_3), pixels)


def test_srgb_profile_keeps_colours_and_a_broken_one_is_ignored(tmp_path: Path) -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    rgb = Image.fromarray(STORED)
    tagged = read_image(_png(tmp_path / "srgb.png", rgb, icc_profile=srgb), NUMERICS_1_2_0)
    assert np.abs(tagged.astype(int) - STORED).max() <= 1  # sRGB → sRGB: the colours stay (up to CMS rounding)
    broken = read_image(_png(tmp_path / "broken.png", rgb, icc_profile=b"not a profile"), NUMERICS_1_2_0)
    np.testing.assert_array_equal(broken, STORED)  # an unusable profile: plain RGB conversion


def test_images_under_2_px_skip_the_compression_under_1_2_0(tmp_path: Path) -> None:
    pixel = np.array([[[200, 100, 50]]], dtype=np.uint8)
    got = preprocess_image(pixel, 2, 2, torch.float32, "cpu", crf=33, numerics=NUMERICS_1_2_0)
    torch.testing.assert_close(got, torch.tensor([200, 100, 50]).div(127.5).sub(1).view(1, 3, 1, 1, 1).expand_as(got))
    with pytest.raises(InputError, match="too small to compress"):
        preprocess_image(pixel, 2, 2, torch.float32, "cpu", crf=33, numerics=NUMERICS_1_1_3)


def test_plain_rgb_files_decode_alike_under_both(tmp_path: Path) -> None:
    path = _png(tmp_path / "plain.png", Image.fromarray(STORED))
    np.testing.assert_array_equal(read_image(path, NUMERICS_1_2_0), read_image(path, NUMERICS_1_1_3))
