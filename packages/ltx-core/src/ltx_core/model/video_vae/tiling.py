"""Tile plans for tiled VAE decoding/encoding (official `ltx_core.tiling` semantics), and automatic tiling.

An axis is split into intervals with left/right blend ramps; a tile is one interval per axis (temporal slowest,
then H, then W) with input slices, output slices and 1-D blend masks whose outer product weights the tile.
Everything here is pure: no model is touched.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import torch

from ltx_core.errors import InputError
from ltx_core.geometry import SPATIAL_SCALE, TIME_SCALE, pixel_frames, pixel_size

logger = logging.getLogger(__name__)

# --- configs --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpatialTilingConfig:
    tile_size_in_pixels: int
    tile_overlap_in_pixels: int = 0

    def __post_init__(self) -> None:
        _check_tile("spatial", "px", self.tile_size_in_pixels, self.tile_overlap_in_pixels, SPATIAL_SCALE)


@dataclass(frozen=True)
class TemporalTilingConfig:
    tile_size_in_frames: int
    tile_overlap_in_frames: int = 0

    def __post_init__(self) -> None:
        _check_tile("temporal", "frames", self.tile_size_in_frames, self.tile_overlap_in_frames, TIME_SCALE)


def _check_tile(axis: str, unit: str, size: int, overlap: int, scale: int) -> None:
    """A tile of at least two latent cells, both size and overlap whole latent cells, the overlap below the size."""
    if size < 2 * scale or size % scale:
        raise InputError(
            f"{axis} tile size {size} {unit} is invalid; use a multiple of {scale} that is at least {2 * scale}"
        )
    if overlap < 0 or overlap % scale or overlap >= size:
        raise InputError(
            f"{axis} tile overlap {overlap} {unit} is invalid; use a multiple of {scale} below the tile {size}"
        )


@dataclass(frozen=True)
class TilingConfig:
    spatial_config: SpatialTilingConfig | None = None
    temporal_config: TemporalTilingConfig | None = None

    @classmethod
    def default(cls) -> TilingConfig:
        return cls(SpatialTilingConfig(768, 64), TemporalTilingConfig(80, 24))


@dataclass(frozen=True)
class TileSizeConfig:
    """The 1.2.0 tiling (delta A.9.2): per axis (tile size, overlap) in pixels / frames, tile size 0 = untiled;
    the axes are independent (no aspect scaling), and the plan is made on the latent grid."""

    frames: tuple[int, int] = (0, 0)
    height: tuple[int, int] = (0, 0)
    width: tuple[int, int] = (0, 0)

    @classmethod
    def default(cls) -> TileSizeConfig:
        return cls(frames=(80, 24), height=(768, 64), width=(768, 64))

    @classmethod
    def from_long_side(
        cls,
        long_side: tuple[int, int],
        height: int,
        width: int,
        *,
        frames: tuple[int, int] = (0, 0),
        factor: int = SPATIAL_SCALE,
    ) -> TileSizeConfig:
        """Spatial tiles of `long_side` (tile, overlap px) on the longer side, the other side's tile scaled by its
        share of it (delta A.9.2: `t = max(max(2, ov + 1), round(tile · a / L))` latents, at least two latents more
        than the overlap); the overlap is kept on both axes. For sizes that are multiples of `factor` this is the
        1.1.3 aspect-scaled plan of `TilingConfig(SpatialTilingConfig(*long_side), ...)`."""
        size, overlap = long_side
        ov, longest = overlap // factor, max(1, max(height, width) // factor)

        def axis(pixels: int) -> tuple[int, int]:
            tile = max(max(2, ov + 1), round(size // factor * (pixels // factor) / longest))
            return max(factor * tile, max(2 * factor, overlap + factor)), overlap

        return cls(frames=frames, height=axis(height), width=axis(width))

    @classmethod
    def of(cls, tiling: TilingConfig | TileSizeConfig) -> TileSizeConfig:
        """A 1.1.3 `TilingConfig` as per-axis sizes (its spatial tile on both H and W)."""
        if isinstance(tiling, TileSizeConfig):
            return tiling
        s, t = tiling.spatial_config, tiling.temporal_config
        spatial = (0, 0) if s is None else (s.tile_size_in_pixels, s.tile_overlap_in_pixels)
        frames = (0, 0) if t is None else (t.tile_size_in_frames, t.tile_overlap_in_frames)
        return cls(frames=frames, height=spatial, width=spatial)


@dataclass(frozen=True)
class AutoTiling:
    """The tiling the 1.2.0 pipelines decode with by default (delta A.9.2 `AUTO_TILING`): a `TileSizeConfig` planned
    for each video from its size, since the right spatial tiles depend on the aspect ratio. Resolved by
    `decode_video` (`plan`); a layout that is one tile on every axis decodes exactly as untiled."""

    long_side: tuple[int, int] = (768, 64)
    frames: tuple[int, int] = (80, 24)

    def plan(self, latent_shape: tuple[int, ...]) -> TileSizeConfig:
        """The plan for a latent of shape (B, C, F', H', W') (conv VAE: 32 px per latent)."""
        h, w = latent_shape[-2:]
        return TileSizeConfig.from_long_side(self.long_side, pixel_size(h), pixel_size(w), frames=self.frames)


AUTO_TILING = AutoTiling()


def latent_intervals(length: int, axis: tuple[int, int], factor: int, causal: bool) -> list[Interval]:
    """One axis of a `TileSizeConfig` split on the latent grid: tile = max(max(2, ov + 1), size // factor)."""
    size, overlap = axis
    if size == 0:
        return [Interval(0, length)]
    ov = overlap // factor
    tile = max(max(2, ov + 1), size // factor)
    return split_temporal_causal(length, tile, ov) if causal else split_by_size(length, tile, ov)


def get_video_chunks_number(num_frames: int, config: TilingConfig | None) -> int:
    """Progress-bar estimate of temporal chunks, as the official video writer computes it (not exact)."""
    if config is None or config.temporal_config is None:
        return 1
    t = config.temporal_config
    return math.ceil((num_frames - 1) / (t.tile_size_in_frames - t.tile_overlap_in_frames))


# --- 1-D splitting and masks ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    start: int
    end: int
    left_ramp: int = 0
    right_ramp: int = 0


def split_by_size(length: int, size: int, overlap: int) -> list[Interval]:
    if size <= 0 or not 0 <= overlap < size:
        raise InputError(f"tile size {size} / overlap {overlap} is invalid; need size > 0 and 0 <= overlap < size")
    if length <= size:
        return [Interval(0, length)]
    step = size - overlap
    n = (length + size - 2 * overlap - 1) // step
    out = [Interval(0, size, 0, overlap)]
    out += [Interval(i * step, i * step + size, overlap, overlap) for i in range(1, n - 1)]
    out.append(Interval((n - 1) * step, length, overlap, 0))
    return out


def split_temporal_causal(length: int, size: int, overlap: int) -> list[Interval]:
    """Decode split: later tiles start one latent frame earlier (their first frame is a causal 'image')."""
    parts = split_by_size(length, size, overlap)
    if len(parts) == 1:
        return parts
    return [parts[0]] + [Interval(p.start - 1, p.end, p.left_ramp + 1, p.right_ramp) for p in parts[1:]]


def split_temporal(length: int, size: int, overlap: int) -> list[Interval]:
    """Encode split (pixel frames): every tile but the last takes one extra frame; no right ramps."""
    parts = split_by_size(length, size, overlap)
    if len(parts) == 1:
        return parts
    last = len(parts) - 1
    return [Interval(p.start, p.end + (1 if i < last else 0), p.left_ramp, 0) for i, p in enumerate(parts)]


def trapezoid_mask(length: int, left: int, right: int, left_from_zero: bool) -> torch.Tensor:
    if length <= 0:
        raise InputError(f"blend mask length {length} is invalid; it must be positive")
    mask = torch.ones(length, dtype=torch.float32)
    left, right = max(0, min(left, length)), max(0, min(right, length))
    if left > 0:
        ramp = torch.linspace(0, 1, left + 1)[:-1] if left_from_zero else torch.linspace(0, 1, left + 2)[1:-1]
        mask[:left] *= ramp
    if right > 0:
        mask[length - right :] *= torch.linspace(1, 0, right + 2)[1:-1]
    return mask.clamp(0, 1)


def rect_mask(length: int, left: int, right: int) -> torch.Tensor:
    if length <= 0:
        raise InputError(f"blend mask length {length} is invalid; it must be positive")
    mask = torch.ones(length, dtype=torch.float32)
    if left > 0:
        mask[:left] = 0
    if right > 0:
        mask[length - right :] = 0
    return mask


# --- tiles ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AxisTile:
    """One axis of a tile: input slice, output slice and its 1-D blend mask (None = all ones)."""

    inp: slice
    out: slice
    mask: torch.Tensor | None = None


@dataclass(frozen=True)
class Tile:
    """Axes (time, height, width) of one tile; batch and channels are never split."""

    time: AxisTile
    height: AxisTile
    width: AxisTile

    def input_slices(self) -> tuple[slice, ...]:
        return (slice(None), slice(None), self.time.inp, self.height.inp, self.width.inp)

    def blend_mask(self, dtype: torch.dtype, device: torch.device | str) -> torch.Tensor:
        """(1, 1, T, H, W) outer product of the axis masks, in float32 then cast (as the official code)."""
        mask = torch.ones(1, dtype=torch.float32)
        for axis, view in ((self.time, (-1, 1, 1)), (self.height, (1, -1, 1)), (self.width, (1, 1, -1))):
            if axis.mask is not None:
                mask = mask * axis.mask.view(view)
        while mask.dim() < 3:
            mask = mask.view(1, *mask.shape)
        return mask[None, None].to(device=device, dtype=dtype)


def _full(length: int) -> list[AxisTile]:
    return [AxisTile(slice(0, length), slice(0, None), None)]


def _spatial_decode_axis(parts: list[Interval]) -> list[AxisTile]:
    return [
        AxisTile(
            slice(p.start, p.end),
            slice(SPATIAL_SCALE * p.start, SPATIAL_SCALE * p.end),
            trapezoid_mask(
                SPATIAL_SCALE * (p.end - p.start), SPATIAL_SCALE * p.left_ramp, SPATIAL_SCALE * p.right_ramp, False
            ),
        )
        for p in parts
    ]


def _temporal_decode_axis(parts: list[Interval]) -> list[AxisTile]:
    axes = []
    for p in parts:
        start, stop = TIME_SCALE * p.start, 1 + TIME_SCALE * (p.end - 1)
        left = 0 if p.left_ramp == 0 else 1 + TIME_SCALE * (p.left_ramp - 1)
        mask = trapezoid_mask(stop - start, left, TIME_SCALE * p.right_ramp, True)
        axes.append(AxisTile(slice(p.start, p.end), slice(start, stop), mask))
    return axes


def _decode_axes_by_size(
    latent_shape: tuple[int, ...], tiling: TileSizeConfig
) -> tuple[list[AxisTile], list[AxisTile], list[AxisTile]]:
    _, _, f, h, w = latent_shape
    axes_t = [AxisTile(slice(0, f), slice(0, 1 + TIME_SCALE * (f - 1)), None)]
    if tiling.frames[0]:
        axes_t = _temporal_decode_axis(latent_intervals(f, tiling.frames, TIME_SCALE, causal=True))
    spatial = []
    for length, axis in ((h, tiling.height), (w, tiling.width)):
        parts = latent_intervals(length, axis, SPATIAL_SCALE, causal=False)
        spatial.append(_full(length) if axis[0] == 0 else _spatial_decode_axis(parts))
    return axes_t, spatial[0], spatial[1]


def decode_tile_axes(
    latent_shape: tuple[int, ...], tiling: TilingConfig | TileSizeConfig
) -> tuple[list[AxisTile], list[AxisTile], list[AxisTile]]:
    """Per-axis decode tiles in latent units → pixel outputs (a `TilingConfig`'s spatial tile scaled per axis by
    aspect ratio; a `TileSizeConfig`'s axes independent)."""
    if isinstance(tiling, TileSizeConfig):
        return _decode_axes_by_size(latent_shape, tiling)
    _, _, f, h, w = latent_shape
    axes_t = _full(f)
    axes_h, axes_w = _full(h), _full(w)
    if tiling.spatial_config is not None:
        s = tiling.spatial_config
        size, ov = s.tile_size_in_pixels // SPATIAL_SCALE, s.tile_overlap_in_pixels // SPATIAL_SCALE
        longest = max(h, w)
        per_axis = []
        for length in (h, w):
            tile = max(max(2, ov + 1), round(size * length / longest))
            parts = split_by_size(length, tile, ov)
            per_axis.append(
                [
                    AxisTile(
                        slice(p.start, p.end),
                        slice(SPATIAL_SCALE * p.start, SPATIAL_SCALE * p.end),
                        trapezoid_mask(
                            SPATIAL_SCALE * (p.end - p.start),
                            SPATIAL_SCALE * p.left_ramp,
                            SPATIAL_SCALE * p.right_ramp,
                            False,
                        ),
                    )
                    for p in parts
                ]
            )
        axes_h, axes_w = per_axis
    if tiling.temporal_config is not None:
        t = tiling.temporal_config
        size, ov = t.tile_size_in_frames // TIME_SCALE, t.tile_overlap_in_frames // TIME_SCALE
        axes_t = []
        for p in split_temporal_causal(f, size, ov):
            start, stop = TIME_SCALE * p.start, 1 + TIME_SCALE * (p.end - 1)
            left = 0 if p.left_ramp == 0 else 1 + TIME_SCALE * (p.left_ramp - 1)
            mask = trapezoid_mask(stop - start, left, TIME_SCALE * p.right_ramp, True)
            axes_t.append(AxisTile(slice(p.start, p.end), slice(start, stop), mask))
    else:
        axes_t = [AxisTile(slice(0, f), slice(0, 1 + TIME_SCALE * (f - 1)), None)]
    return axes_t, axes_h, axes_w


def decode_tiles(latent_shape: tuple[int, ...], tiling: TilingConfig | TileSizeConfig) -> list[Tile]:
    """All decode tiles, temporal slowest then H then W (the accumulation order matters for rounding)."""
    axes_t, axes_h, axes_w = decode_tile_axes(latent_shape, tiling)
    return [Tile(t, hh, ww) for t in axes_t for hh in axes_h for ww in axes_w]


def encode_tiles(video_shape: tuple[int, ...], tiling: TilingConfig) -> list[Tile]:
    """Encode tiles in pixel units → latent outputs, with rectangular (0/1) blend masks.

    As the official encoder, a spatial overlap below 64 px is raised to 64 and a temporal one below 16 frames to 16.
    """
    _, _, f, h, w = video_shape
    axes_t = [AxisTile(slice(0, f), slice(0, None), None)]
    axes_h = [AxisTile(slice(0, h), slice(0, None), None)]
    axes_w = [AxisTile(slice(0, w), slice(0, None), None)]
    if tiling.spatial_config is not None:
        s = tiling.spatial_config
        ov = s.tile_overlap_in_pixels
        if ov < 64:
            logger.warning("spatial tile overlap %d px raised to 64 px for tiled encoding", ov)
            ov = 64
        per_axis = []
        for length in (h, w):
            parts = split_by_size(length, s.tile_size_in_pixels, ov)
            per_axis.append(
                [
                    AxisTile(
                        slice(p.start, p.end),
                        slice(p.start // SPATIAL_SCALE, p.end // SPATIAL_SCALE),
                        rect_mask(
                            p.end // SPATIAL_SCALE - p.start // SPATIAL_SCALE,
                            max(0, p.left_ramp // SPATIAL_SCALE - 1),
                            0 if p.right_ramp == 0 else 1,
                        ),
                    )
                    for p in parts
                ]
            )
        axes_h, axes_w = per_axis
    if tiling.temporal_config is not None:
        t = tiling.temporal_config
        ov = t.tile_overlap_in_frames
        if ov < 16:
            logger.warning("temporal tile overlap %d frames raised to 16 for tiled encoding", ov)
            ov = 16
        axes_t = []
        for p in split_temporal(f, t.tile_size_in_frames, ov):
            start, stop = p.start // TIME_SCALE, (p.end - 1) // TIME_SCALE + 1
            right = p.right_ramp // TIME_SCALE
            if right:
                raise InputError(f"temporal encode tile {p} has a right ramp; encode tiles must not")
            left = 0 if p.left_ramp == 0 else 1 + (p.left_ramp - 1) // TIME_SCALE
            axes_t.append(AxisTile(slice(p.start, p.end), slice(start, stop), rect_mask(stop - start, left, right)))
    return [Tile(t, hh, ww) for t in axes_t for hh in axes_h for ww in axes_w]


# --- automatic choice -----------------------------------------------------------------------------------------

# Decoder working memory per output pixel (one frame, one RGB position), in elements of the decode dtype, for the
# memory-efficient path of the released decoders. The last res stage holds its hidden state and one padded
# workspace (128 channels on the H/4 × W/4 grid: 2 × 8 per pixel) plus the scratch of one 16-frame conv chunk.
# scripts/bench_vae.py --cpu measured 35–36 at 25×256×384 and 33×256×256 (float32) once CPU convs stopped
# reordering whole weights (the earlier 160 came from --small, where a 432 MiB weight copy dominated); tiny
# inputs read higher (fixed costs: ~75–90 at 17×128×192). CUDA was not measured: 48 leaves a third of headroom.
DECODE_ELEMENTS_PER_PIXEL = 48
SPATIAL_CANDIDATES_PX = (1024, 768, 512, 384, 256, 192, 128)
TEMPORAL_CANDIDATES_FRAMES = (120, 80, 64, 48, 32, 24, 16)


def estimate_decode_bytes(
    latent_frames: int,
    latent_height: int,
    latent_width: int,
    *,
    dtype_bytes: int = 2,
    batch: int = 1,
    elements_per_pixel: int = DECODE_ELEMENTS_PER_PIXEL,
) -> int:
    """Rough peak working memory (bytes) to decode one latent block with the memory-efficient path."""
    pixels = pixel_frames(latent_frames) * pixel_size(latent_height) * pixel_size(latent_width)
    return batch * pixels * elements_per_pixel * dtype_bytes


def _axis_lengths(axis: list[AxisTile]) -> list[int]:
    return [a.inp.stop - a.inp.start for a in axis]


def auto_tiling(
    latent_shape: tuple[int, ...],
    free_bytes: int,
    *,
    dtype_bytes: int = 2,
    safety: float = 0.7,
    spatial_overlap_px: int = 64,
    temporal_overlap_frames: int = 24,
    elements_per_pixel: int = DECODE_ELEMENTS_PER_PIXEL,
) -> TilingConfig | None:
    """Tiling for decoding `latent_shape` (B, C, F', H', W') within `free_bytes`, or None when untiled fits.

    Among candidate tile sizes whose largest tile fits (working memory of one tile plus the blend buffer of one
    temporal group, 3 + 1 channels in the latent dtype, and as much again for the carried overlap and the yielded
    chunk), picks the one that decodes the least total latent
    volume (overlaps are decoded twice), preferring larger tiles on ties. Overlaps are capped at half a tile.
    Falls back to the smallest candidate when nothing fits.
    """
    b, _, f, h, w = latent_shape
    budget = free_bytes * safety
    if (
        estimate_decode_bytes(f, h, w, dtype_bytes=dtype_bytes, batch=b, elements_per_pixel=elements_per_pixel)
        <= budget
    ):
        return None
    frame_px = pixel_size(h) * pixel_size(w)
    best: tuple[int, int, TilingConfig] | None = None
    smallest: TilingConfig | None = None
    for spatial_px in (None, *SPATIAL_CANDIDATES_PX):
        for frames in TEMPORAL_CANDIDATES_FRAMES:
            half_frames = frames // 2 // TIME_SCALE * TIME_SCALE  # overlaps are capped at half a tile
            temporal = TemporalTilingConfig(frames, min(temporal_overlap_frames, half_frames))
            spatial = None
            if spatial_px is not None:
                half_px = spatial_px // 2 // SPATIAL_SCALE * SPATIAL_SCALE
                spatial = SpatialTilingConfig(spatial_px, min(spatial_overlap_px, half_px))
            cfg = TilingConfig(spatial, temporal)
            smallest = cfg
            axes_t, axes_h, axes_w = decode_tile_axes(latent_shape, cfg)
            lt, lh, lw = _axis_lengths(axes_t), _axis_lengths(axes_h), _axis_lengths(axes_w)
            group_frames = max(a.out.stop - a.out.start for a in axes_t)
            need = estimate_decode_bytes(
                max(lt), max(lh), max(lw), dtype_bytes=dtype_bytes, batch=b, elements_per_pixel=elements_per_pixel
            )
            need += 2 * 4 * b * group_frames * frame_px * dtype_bytes
            if need > budget:
                continue
            key = (sum(lt) * sum(lh) * sum(lw), -max(lt) * max(lh) * max(lw), cfg)
            if best is None or key[:2] < best[:2]:
                best = key
    return best[2] if best is not None else smallest
