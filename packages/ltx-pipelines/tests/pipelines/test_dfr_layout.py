"""DFR's canvas and round tiles (spec new_pipelines §4 steps 2 and 6b) against the spec's worked examples and its
formulas, by hand: two rounds and longer clips have no official recording."""

from __future__ import annotations

import pytest

from ltx_core.errors import InputError
from ltx_pipelines.utils.dfr_layout import resolve_canvas, tile_ranges


@pytest.mark.parametrize(
    ("frames", "segment", "canvas", "keyframes"),
    [
        (121, 24, 121, (24, 48, 72, 96, 120)),  # no padding with 24 (8 with 32)
        (97, 32, 97, (32, 64, 96)),  # a tie (no padding either way) goes to 32
        (161, 32, 161, (32, 64, 96, 128, 160)),
        (17, 24, 25, (24,)),  # 16 content frames: padding 8 (24) beats 16 (32)
        (41, 24, 49, (24, 48)),
    ],
)
def test_canvas_examples(frames: int, segment: int, canvas: int, keyframes: tuple[int, ...]) -> None:
    c = resolve_canvas(frames)
    assert (c.segment, c.frames, c.keyframes) == (segment, canvas, keyframes)


@pytest.mark.parametrize("frames", [1, 10])
def test_canvas_refuses_lengths_without_content(frames: int) -> None:
    with pytest.raises(InputError, match=f"8k\\+1 frames with k >= 1.*got {frames}"):
        resolve_canvas(frames)


def test_round_one_of_121_frames() -> None:
    # spec §4.6b: 241 frames, seams 48..240, 2 tiles; 3 + 2 segments, the second tile led in by one segment
    first, second = tile_ranges((48, 96, 144, 192, 240), 2)
    assert (first.pixel_start, first.pixel_end, first.latent_start, first.latent_end) == (0, 144, 0, 19)
    assert (first.anchors, first.slots, first.drop) == ((48, 96, 144), (24, 72, 120), 0)
    assert (second.pixel_start, second.pixel_end, second.latent_start, second.latent_end) == (96, 240, 12, 31)
    assert (second.anchors, second.slots, second.drop) == ((96, 144, 192, 240), (120, 168, 216), 7)
    stitched = (first.latent_end - first.latent_start) + (second.latent_end - second.latent_start - second.drop)
    assert stitched == 31 == (241 - 1) // 8 + 1


def test_round_two_of_121_frames() -> None:
    # round 2: 481 frames; the carried keyframes after round 1 (every 24 frames of 241) doubled: seams every 48 up
    # to 480 = 10 segments, 4 tiles requested: runs 3, 3, 2, 2 (longer first)
    seams = tuple(range(48, 481, 48))
    tiles = tile_ranges(seams, 4)
    assert [(t.pixel_start, t.pixel_end, t.drop) for t in tiles] == [
        (0, 144, 0),
        (96, 288, 7),
        (240, 384, 7),
        (336, 480, 7),
    ]
    assert tiles[1].anchors == (96, 144, 192, 240, 288) and tiles[1].slots == (120, 168, 216, 264)
    kept = sum(t.latent_end - t.latent_start - t.drop for t in tiles)
    assert kept == (481 - 1) // 8 + 1


def test_tiles_are_clamped_to_the_segments() -> None:
    (only,) = tile_ranges((48,), 4)  # one segment: one tile, no lead-in
    assert (only.pixel_start, only.pixel_end, only.anchors, only.slots, only.drop) == (0, 48, (48,), (24,), 0)
