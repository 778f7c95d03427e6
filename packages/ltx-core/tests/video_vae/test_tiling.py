"""Tile plans (values from the spec's worked examples / computed by hand), blending logic, auto tiling."""

import pytest
import torch

from ltx_core.errors import InputError
from ltx_core.model.video_vae.tiled import tiled_decode, tiled_encode
from ltx_core.model.video_vae.tiling import (
    AUTO_TILING,
    Interval,
    SpatialTilingConfig,
    TemporalTilingConfig,
    TileSizeConfig,
    TilingConfig,
    auto_tiling,
    decode_tile_axes,
    decode_tiles,
    encode_tiles,
    estimate_decode_bytes,
    get_video_chunks_number,
    split_by_size,
    split_temporal,
    split_temporal_causal,
    trapezoid_mask,
)


def _spans(axis):
    return [(a.inp.start, a.inp.stop, a.out.start, a.out.stop) for a in axis]


def test_split_by_size_by_hand():
    assert split_by_size(5, 8, 2) == [Interval(0, 5)]
    # n = ceil((11 - 1) / 3) = 4 tiles of 4 with overlap 1, last one short
    assert split_by_size(11, 4, 1) == [
        Interval(0, 4, 0, 1),
        Interval(3, 7, 1, 1),
        Interval(6, 10, 1, 1),
        Interval(9, 11, 1, 0),
    ]
    assert split_temporal_causal(3, 2, 1) == [Interval(0, 2, 0, 1), Interval(0, 3, 2, 0)]
    assert split_temporal(121, 80, 24) == [Interval(0, 81, 0, 0), Interval(56, 121, 24, 0)]
    with pytest.raises(InputError):
        split_by_size(10, 4, 4)


def test_trapezoid_masks():
    assert torch.allclose(trapezoid_mask(6, 2, 0, True), torch.tensor([0, 0.5, 1, 1, 1, 1]))
    assert torch.allclose(trapezoid_mask(6, 2, 0, False), torch.tensor([1 / 3, 2 / 3, 1, 1, 1, 1]))
    assert torch.allclose(trapezoid_mask(5, 0, 3, False), torch.tensor([1, 1, 0.75, 0.5, 0.25]))
    with pytest.raises(InputError):
        trapezoid_mask(0, 0, 0, True)


def test_decode_plan_default_1024x1536():
    """Spec 5.5: latent (1,128,16,32,48) with the default config → 18 tiles, aspect-scaled spatial tiles."""
    t, h, w = decode_tile_axes((1, 128, 16, 32, 48), TilingConfig.default())
    assert _spans(t) == [(0, 10, 0, 73), (6, 16, 48, 121)]
    assert _spans(h) == [(0, 16, 0, 512), (14, 30, 448, 960), (28, 32, 896, 1024)]
    assert _spans(w) == [(0, 24, 0, 768), (22, 46, 704, 1472), (44, 48, 1408, 1536)]
    assert len(decode_tiles((1, 128, 16, 32, 48), TilingConfig.default())) == 18
    k25 = torch.arange(1, 25, dtype=torch.float32) / 25
    assert torch.allclose(t[0].mask[-24:], k25.flip(0)) and torch.all(t[0].mask[:-24] == 1)
    assert torch.allclose(t[1].mask[:25], torch.arange(25, dtype=torch.float32) / 25) and torch.all(t[1].mask[25:] == 1)
    k65 = torch.arange(1, 65, dtype=torch.float32) / 65
    assert torch.allclose(h[1].mask[:64], k65) and torch.allclose(h[1].mask[-64:], k65.flip(0))


def test_auto_tiling_from_long_side_by_hand():
    """Delta A.9.2: 1024 x 1536 → L = 48 latents; H: round(24 · 32 / 48) = 16 latents = 512 px, W: 24 = 768 px;
    64 px overlap on both, frames (80, 24). A side far below the long one keeps the floor of 3 latents (96 px)."""
    assert AUTO_TILING.plan((1, 128, 16, 32, 48)) == TileSizeConfig(frames=(80, 24), height=(512, 64), width=(768, 64))
    tall = TileSizeConfig.from_long_side((768, 64), 3072, 64, frames=(80, 24))  # round(24 · 2 / 96) = 0 → 3
    assert (tall.height, tall.width) == ((768, 64), (96, 64))


@pytest.mark.parametrize("hw", [(32, 48), (16, 16), (44, 80), (8, 12), (2, 3), (34, 60)])
def test_auto_tiling_is_the_1_1_3_default_plan(hw):
    """Delta A.9.2's claim: for sizes that are multiples of 32, AUTO gives the 1.1.3 default plan exactly (same
    tiles, same masks); only the blending arithmetic differs (numerics)."""
    shape = (1, 128, 16, *hw)
    auto = decode_tile_axes(shape, AUTO_TILING.plan(shape))
    old = decode_tile_axes(shape, TilingConfig.default())
    for new_axis, old_axis in zip(auto, old, strict=True):
        assert _spans(new_axis) == _spans(old_axis)
        assert all(torch.equal(a.mask, b.mask) for a, b in zip(new_axis, old_axis, strict=True))


def test_decode_plan_odd_sizes():
    """Spec 5.5: 241 frames and a 44 × 80 latent (odd aspect ratio)."""
    t, _, _ = decode_tile_axes((1, 128, 31, 16, 16), TilingConfig.default())
    assert [(a.inp.start, a.inp.stop) for a in t] == [(0, 10), (6, 17), (13, 24), (20, 31)]
    assert [(a.out.start, a.out.stop) for a in t] == [(0, 73), (48, 129), (104, 185), (160, 241)]
    _, h, w = decode_tile_axes((1, 128, 16, 44, 80), TilingConfig.default())
    assert [(a.inp.start, a.inp.stop) for a in h] == [(0, 13), (11, 24), (22, 35), (33, 44)]
    assert [(a.inp.start, a.inp.stop) for a in w] == [(0, 24), (22, 46), (44, 68), (66, 80)]
    # hand-computed: 5 latents, 64 px tiles with 32 px overlap → tiles of 2 with overlap 1
    cfg = TilingConfig(SpatialTilingConfig(64, 32), TemporalTilingConfig(16, 8))
    t, h, w = decode_tile_axes((1, 8, 4, 5, 3), cfg)
    assert [(a.inp.start, a.inp.stop) for a in h] == [(0, 2), (1, 3), (2, 4), (3, 5)]
    assert [(a.inp.start, a.inp.stop) for a in w] == [(0, 2), (1, 3)]  # round(2·3/5) = 1 → raised to 2
    assert [(a.inp.start, a.inp.stop) for a in t] == [(0, 2), (0, 3), (1, 4)]


def test_encode_plan_default():
    """Spec 5.5: (1,3,121,512,768) → frames [0,81)→latents [0,11) all ones; [56,121)→[7,16) mask 0,0,0,1…"""
    tiles = encode_tiles((1, 3, 121, 512, 768), TilingConfig.default())
    assert len(tiles) == 2
    a, b = tiles[0].time, tiles[1].time
    assert (a.inp.start, a.inp.stop, a.out.start, a.out.stop) == (0, 81, 0, 11)
    assert (b.inp.start, b.inp.stop, b.out.start, b.out.stop) == (56, 121, 7, 16)
    assert torch.equal(a.mask, torch.ones(11))
    assert torch.equal(b.mask, torch.tensor([0, 0, 0, 1, 1, 1, 1, 1, 1], dtype=torch.float32))


class PositionDecoder:
    """Stand-in decoder that is exactly local: pixel (f, y, x) copies latent (frame of f, y // 32, x // 32).

    Frame map: pixel 0 ← latent 0, pixels 8j−7..8j ← latent j, so tiled decoding must reproduce it exactly.
    """

    class config:
        out_channels = 3

    def __call__(self, latent, timestep=None, generator=None):
        x = latent.repeat_interleave(32, dim=3).repeat_interleave(32, dim=4)
        return torch.cat([x[:, :, :1], x[:, :, 1:].repeat_interleave(8, dim=2)], dim=2)


class PositionEncoder(torch.nn.Module):
    """Inverse stand-in: latent (j, y, x) = pixel frame 8j at (32y, 32x), normalised nothing."""

    class config:
        latent_channels = 3

    def __init__(self):
        super().__init__()
        self.p = torch.nn.Parameter(torch.zeros(1))

    def forward(self, video):
        return video[:, :, ::8, ::32, ::32]


def _position_latent(f, h, w):
    grid = torch.meshgrid(torch.arange(f), torch.arange(h), torch.arange(w), indexing="ij")
    return torch.stack(grid).float()[None] + 1.0


@pytest.mark.parametrize(
    "shape,cfg",
    [
        ((1, 3, 5, 3, 5), TilingConfig(SpatialTilingConfig(64, 32), TemporalTilingConfig(24, 8))),
        ((1, 3, 16, 2, 2), TilingConfig(None, TemporalTilingConfig(80, 24))),
        ((1, 3, 3, 3, 3), TilingConfig(SpatialTilingConfig(64, 32), TemporalTilingConfig(16, 8))),
        ((1, 3, 2, 4, 3), TilingConfig(SpatialTilingConfig(64, 32), None)),
    ],
)
def test_tiled_decode_blends_to_identity(shape, cfg):
    """Blend weights must sum to one and every tile must land where it belongs."""
    latent = _position_latent(*shape[2:])
    dec = PositionDecoder()
    chunks = list(tiled_decode(dec, latent, cfg))
    out = torch.cat(chunks, dim=2)
    ref = dec(latent)
    assert out.shape == ref.shape
    assert torch.allclose(out, ref, rtol=1e-6, atol=1e-5)


def test_tiled_decode_chunk_lengths():
    """Spec 5.5: 121 frames with the default temporal tiling yield 48 then 73 frames."""
    chunks = list(
        tiled_decode(PositionDecoder(), _position_latent(16, 2, 2), TilingConfig(None, TemporalTilingConfig(80, 24)))
    )
    assert [c.shape[2] for c in chunks] == [48, 73]
    assert get_video_chunks_number(121, TilingConfig.default()) == 3


def test_tiled_decode_streams_one_temporal_group_at_a_time():
    """A chunk is yielded as soon as its group is decoded, before any tile of the following groups."""
    calls: list[int] = []

    class Counting(PositionDecoder):
        def __call__(self, latent, timestep=None, generator=None):
            calls.append(latent.shape[2])
            return super().__call__(latent, timestep, generator)

    cfg = TilingConfig(SpatialTilingConfig(64, 32), TemporalTilingConfig(16, 8))
    latent = _position_latent(6, 3, 3)
    axes_t, axes_h, axes_w = decode_tile_axes((1, 3, 6, 3, 3), cfg)
    tiles_per_group = len(axes_h) * len(axes_w)
    assert len(axes_t) > 2 and tiles_per_group > 1
    seen = []
    for chunk in tiled_decode(Counting(), latent, cfg):
        seen.append((chunk.shape[2], len(calls)))
    assert [n for _, n in seen] == [tiles_per_group * (i + 1) for i in range(len(axes_t))]
    assert sum(frames for frames, _ in seen) == 8 * 5 + 1


def test_tiled_encode_blends_to_identity():
    video = _position_latent(57, 192, 256)
    enc = PositionEncoder()
    cfg = TilingConfig(SpatialTilingConfig(128, 64), TemporalTilingConfig(48, 16))
    out = tiled_encode(enc, video, cfg)
    assert torch.allclose(out, enc(video))


def test_tiling_config_validation():
    for bad in (lambda: SpatialTilingConfig(48), lambda: SpatialTilingConfig(100), lambda: SpatialTilingConfig(64, 64)):
        with pytest.raises(InputError):
            bad()
    for bad in (lambda: TemporalTilingConfig(8), lambda: TemporalTilingConfig(20), lambda: TemporalTilingConfig(16, 4)):
        with pytest.raises(InputError):
            bad()


def test_auto_tiling():
    shape = (1, 128, 16, 16, 24)  # 121 frames at 512 × 768
    need = estimate_decode_bytes(16, 16, 24)
    assert auto_tiling(shape, free_bytes=int(need * 10)) is None
    tight = auto_tiling(shape, free_bytes=need // 3)
    assert tight is not None and tight.temporal_config is not None
    tighter = auto_tiling(shape, free_bytes=need // 40)
    assert tighter is not None and tighter.spatial_config is not None

    # smaller budgets never give larger tiles
    def area(c):
        s = c.spatial_config.tile_size_in_pixels if c.spatial_config else 10**6
        return s * c.temporal_config.tile_size_in_frames

    assert area(tighter) <= area(tight)
    # the chosen plan's tiles fit the budget it was chosen for
    for tile in decode_tiles(shape, tight):
        f = tile.time.inp.stop - tile.time.inp.start
        h = tile.height.inp.stop - tile.height.inp.start
        w = tile.width.inp.stop - tile.width.inp.start
        assert estimate_decode_bytes(f, h, w) <= need // 3


def test_auto_tiling_keeps_overlaps_at_most_half_a_tile():
    for budget in (2**26, 2**28, 2**30, 2**32):
        cfg = auto_tiling((1, 128, 31, 34, 60), budget)
        assert cfg is not None
        t, s = cfg.temporal_config, cfg.spatial_config
        assert 2 * t.tile_overlap_in_frames <= t.tile_size_in_frames
        assert s is None or 2 * s.tile_overlap_in_pixels <= s.tile_size_in_pixels
