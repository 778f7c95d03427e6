"""Tiled decode of the diffusion video decoder (spec §6) and its automatic tiling (§7.3, without its failures).

Stages 1–3 run once on the whole latent; stage 4 and the Euler loop run per tile of the stage-4 grid, and the tile
pixels are blended with separable trapezoid masks, one temporal group of tiles at a time (only the overlap with
the next group is carried), as the official decode does. The v decoders crop every tile's start from one noise
draw at the work shape; the one-step x0 decoder draws per tile, in tile order.

The automatic tiling follows the official recommendation's memory formula, but reads the free memory of whatever
device decodes (the official one gives the CPU a budget of 0 and raises), and falls back to the smallest tiles
instead of raising when nothing fits.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch

from ltx_core.errors import InputError
from ltx_core.model.video_vae.diffusion.config import DiffusionDecoderConfig
from ltx_core.model.video_vae.diffusion.model import DiffusionVideoDecoder, TileBox, crop_to_content
from ltx_core.model.video_vae.tiling import TileSizeConfig, TilingConfig, trapezoid_mask

GIB = 1 << 30
_COMPLEMENTARY_ATOL = 1e-5
_AXES = ("frames", "height", "width")
_UNITS = ("frames", "px", "px")


@dataclass(frozen=True)
class AxisPart:
    """One interval of one axis: on the stage-4 grid, in work pixels, and its float32 pixel blend mask."""

    s4: tuple[int, int]
    px: tuple[int, int]
    mask: torch.Tensor


@dataclass(frozen=True)
class DiffusionTile:
    t: AxisPart
    h: AxisPart
    w: AxisPart

    @property
    def box(self) -> TileBox:
        return TileBox(self.t.s4, self.h.s4, self.w.s4)


@dataclass(frozen=True)
class TilePlan:
    tiles: tuple[DiffusionTile, ...]
    complementary: bool  # every axis's masks sum to 1: the blend needs no weights

    def groups(self) -> list[list[DiffusionTile]]:
        """Tiles grouped by their time interval (consecutive in plan order)."""
        out: list[list[DiffusionTile]] = []
        for tile in self.tiles:
            if out and out[-1][0].t.px == tile.t.px:
                out[-1].append(tile)
            else:
                out.append([tile])
        return out


def check_tiling(cfg: DiffusionDecoderConfig, tiling: TileSizeConfig) -> None:
    """§6.2: on a tiled axis, sizes in whole stage-4 cells, at least two of them, and an overlap below the tile but
    at least the minimum the attention halos need."""
    minimum = cfg.min_overlaps()
    for a, (name, unit) in enumerate(zip(_AXES, _UNITS, strict=True)):
        size, overlap = getattr(tiling, name)
        if size == 0:
            continue
        factor = cfg.s4_to_pixel[a]
        least = minimum[0] if a == 0 else minimum[1]
        if size < 2 * factor or size % factor or overlap % factor or not 0 <= overlap < size:
            raise InputError(
                f"diffusion decode {name} tile {size}/{overlap} {unit} is invalid; use a tile of at least {2 * factor} "
                f"and an overlap below it, both multiples of {factor}"
            )
        if overlap < least:
            raise InputError(f"diffusion decode {name} overlap {overlap} {unit} is below the required {least}")


def s4_intervals(n: int, size_px: int, overlap_px: int, factor: int, floor: int) -> list[tuple[int, int, int, int]]:
    """One axis split on the stage-4 grid (§6.3): (start, end, left ramp, right ramp) in stage-4 cells."""
    if size_px == 0:
        return [(0, n, 0, 0)]
    ov = overlap_px // factor
    size = max(max(2, ov + 1), size_px // factor)
    if n < floor or n <= size:
        return [(0, n, 0, 0)]
    step = size - ov
    count = (n + size - 2 * ov - 1) // step
    parts = [[j * step, j * step + size, ov if j else 0, ov] for j in range(count - 1)]
    parts.append([(count - 1) * step, n, ov, 0])
    last = parts[-1]
    if last[1] - last[0] < floor:  # grow the short last tile leftward; the junction's ramps take the new overlap
        last[0] = n - floor
        junction = parts[-2][1] - last[0]
        parts[-2][3] = last[2] = junction
    return [(s, e, left, right) for s, e, left, right in parts]


def plan_tiles(decoder: DiffusionVideoDecoder, s4: tuple[int, int, int], tiling: TileSizeConfig | None) -> TilePlan:
    """The tiles of a decode with stage-4 content grid `s4`, time slowest, then H, then W (§6.3)."""
    cfg = decoder.config
    tiling = tiling or TileSizeConfig()
    floor = cfg.tile_floor()
    axes: list[list[AxisPart]] = []
    complementary = True
    for a, name in enumerate(_AXES):
        size, overlap = getattr(tiling, name)
        factor = cfg.s4_to_pixel[a]
        parts = []
        for s, e, left, right in s4_intervals(s4[a], size, overlap, factor, floor[a]):
            px = decoder.pixel_interval(a, s, e)
            parts.append(AxisPart((s, e), px, trapezoid_mask(px[1] - px[0], left * factor, right * factor, False)))
        total = torch.zeros(decoder.pixel_interval(a, 0, s4[a])[1])
        for part in parts:
            total[part.px[0] : part.px[1]] += part.mask
        complementary &= bool(torch.allclose(total, torch.ones_like(total), atol=_COMPLEMENTARY_ATOL, rtol=0))
        axes.append(parts)
    tiles = tuple(DiffusionTile(t, h, w) for t in axes[0] for h in axes[1] for w in axes[2])
    return TilePlan(tiles, complementary)


# (index in plan order, tile) → the tile's pixels (B, C, frames, rows, columns of its pixel intervals)
TileDecode = Callable[[int, DiffusionTile], torch.Tensor]
# a tile → its starting x_t drawn from the generator (the one-step x0 variant), or None (cropped from the work draw)
TileStart = Callable[[DiffusionTile], torch.Tensor | None]
# (a tile, its drawn start or None) → the tile's pixels, decoded in this process
LocalDecode = Callable[[DiffusionTile, torch.Tensor | None], torch.Tensor]
# (the plan's tiles, TileStart, LocalDecode) → the TileDecode the blend calls: how a decode spreads over processes
Spread = Callable[[Sequence[DiffusionTile], TileStart, LocalDecode], TileDecode]


def tiled_diffusion_decode(
    decoder: DiffusionVideoDecoder,
    latent: torch.Tensor,
    tiling: TilingConfig | TileSizeConfig | None,
    generator: torch.Generator | None = None,
    *,
    noise: torch.Tensor | None = None,
    spread: Spread | None = None,
) -> Iterator[torch.Tensor]:
    """Yield (B, C, n_i, 32h, 32w) chunks in the latent dtype; concatenated they are the 8(L−1)+1 frames.

    `noise` replaces the draw at the padded work shape (v decoders). `spread` hands the tiles to other processes
    (`ltx_core.parallel.decode`): it gets every tile's start-noise draw, to make in plan order on every process
    (the one-step x0 variant draws per tile, so every process draws every tile's noise and keeps its generator in
    step), and the local decode of one tile; the blend is the same."""
    tiling = TileSizeConfig.of(tiling) if tiling is not None else None
    if tiling is not None:
        check_tiling(decoder.config, tiling)
    with torch.no_grad():
        padded, pads, feat = decoder.prepare(latent)
    s4 = decoder.s4_shape(tuple(padded.shape))
    plan = plan_tiles(decoder, s4, tiling)
    if noise is None:
        noise = decoder.work_noise(latent.shape[0], s4, latent.dtype, generator, feat.device)

    def start(tile: DiffusionTile) -> torch.Tensor | None:
        if noise is not None:  # cropped by the decoding process
            return None
        return decoder.tile_start(
            latent.shape[0], feat.shape[1], tile.box, s4[0], None, generator, latent.dtype, feat.device
        )

    def local(tile: DiffusionTile, drawn: torch.Tensor | None) -> torch.Tensor:
        with torch.no_grad():
            return decoder.decode_tile(feat, tile.box, s4[0], noise, generator, latent.dtype, start=drawn)

    if spread is None:

        def decode_tile(_: int, tile: DiffusionTile) -> torch.Tensor:
            return local(tile, start(tile))

    else:
        decode_tile = spread(plan.tiles, start, local)
    yield from blend(plan, decode_tile, latent, pads, feat.dtype, work_hw=tuple(noise_hw(decoder, s4)))


def noise_hw(decoder: DiffusionVideoDecoder, s4: tuple[int, int, int]) -> list[int]:
    return [decoder.pixel_interval(a, 0, s4[a])[1] for a in (1, 2)]


def blend(
    plan: TilePlan,
    decode_tile: TileDecode,
    latent: torch.Tensor,
    pads: object,
    feature_dtype: torch.dtype,
    work_hw: tuple[int, ...],
) -> Iterator[torch.Tensor]:
    """§6.5: per temporal group a full-frame buffer (float16 for bf16 features), tiles times their float32 masks
    added in, the overlap with the next group carried; weights and a division only for non-complementary plans."""
    acc = torch.float16 if feature_dtype == torch.bfloat16 else feature_dtype
    divide = not plan.complementary
    groups = plan.groups()
    carried: tuple[torch.Tensor, torch.Tensor | None] | None = None
    index = 0
    b = latent.shape[0]
    for g, group in enumerate(groups):
        f0, f1 = group[0].t.px
        buffer: torch.Tensor | None = None
        weights: torch.Tensor | None = None
        for tile in group:
            pixels = decode_tile(index, tile)
            index += 1
            if buffer is None:
                shape = (b, pixels.shape[1], f1 - f0, *work_hw)
                buffer = torch.zeros(shape, dtype=acc, device=pixels.device)
                weights = torch.zeros(1, 1, *shape[2:], dtype=acc, device=pixels.device) if divide else None
            one = torch.ones(1, dtype=torch.float32, device=pixels.device)
            m_t, m_h, m_w = (p.mask.to(pixels.device) for p in (tile.t, tile.h, tile.w))
            part = pixels.to(acc) * one * one * m_t.view(-1, 1, 1) * m_h.view(-1, 1) * m_w
            region = (slice(None), slice(None), slice(None), slice(*tile.h.px), slice(*tile.w.px))
            buffer[region] += part
            if weights is not None:
                weights[region] += one * one * m_t.view(-1, 1, 1) * m_h.view(-1, 1) * m_w
            del pixels, part
        assert buffer is not None
        if carried is not None:
            n = carried[0].shape[2]
            buffer[:, :, :n] = carried[0] + buffer[:, :, :n]
            if weights is not None and carried[1] is not None:
                weights[:, :, :n] = carried[1] + weights[:, :, :n]
        keep = (groups[g + 1][0].t.px[0] - f0) if g + 1 < len(groups) else f1 - f0
        carried = None
        if g + 1 < len(groups):
            carried = (buffer[:, :, keep:].clone(), None if weights is None else weights[:, :, keep:].clone())
        chunk = buffer[:, :, :keep]
        if weights is not None:
            chunk = chunk / weights[:, :, :keep].clamp(min=max(1e-8, torch.finfo(acc).tiny))
        chunk = crop_to_content(chunk, tuple(latent.shape), pads, f0).to(latent.dtype)  # type: ignore[arg-type]
        del buffer, weights
        yield chunk.clone()


# --- automatic tiling -------------------------------------------------------------------------------------------


def _round_up(x: int, m: int) -> int:
    return -(-x // m) * m


def _pixel_count(length: int, size: int, overlap: int) -> int:
    """Tiles along an axis by the §6.3 split applied in pixel units (the recommendation's estimate)."""
    if length <= size:
        return 1
    return (length + size - 2 * overlap - 1) // (size - overlap)


def model_bytes(decoder: DiffusionVideoDecoder) -> int:
    """The recommendation's model size: 2 bytes per decoder tensor element, whatever the dtype."""
    return 2 * sum(t.numel() for t in decoder.state_dict().values())


def recommend_tiling(
    cfg: DiffusionDecoderConfig,
    video: tuple[int, int, int],
    free_bytes: int,
    weights_bytes: int,
    *,
    coef: float = 5.0,
    safety: int = GIB,
) -> TileSizeConfig | None:
    """The official recommendation (§7.3) for a (frames, height, width) decode within `free_bytes`: the tiling
    with the least re-decoded volume whose tile fits; None when none fits. `coef` / `safety`: 5 and 1 GiB for the
    eager chunked path (7 / 2 GiB chunked-compile, 11 / 2 GiB combined-compile in the official table)."""
    frames, height, width = video
    ov_t, ov_hw = cfg.min_overlaps()
    st, sh, _ = cfg.s4_to_pixel
    floor = cfg.tile_floor()
    step_t, step_hw = math.lcm(st, 8), math.lcm(sh, 32)
    min_t = _round_up(max(4, 2 * ov_t, st * floor[0], 16), 8)
    min_hw = _round_up(max(16, 2 * ov_hw, sh * max(floor[1], floor[2]), 64), 32)
    e = 2
    lt, lh, lw = (frames - 1) // 8 + 1 + cfg.ghost_frames, height // 32, width // 32
    for up in cfg.upsamples[:3]:
        lt, lh, lw = lt * up.stride[0] - (1 if up.stride[0] == 2 else 0), lh * up.stride[1], lw * up.stride[2]
    s4_bytes = lt * lh * lw * cfg.stage_channels[3] * e
    usable = max(0, free_bytes - max(weights_bytes, GIB) - safety - s4_bytes)

    def sizes(length: int, least: int, step: int, overlap: int) -> list[tuple[int, int]]:
        top = max(_round_up(length, step), least)
        return [(s, _pixel_count(length, s, overlap)) for s in range(least, top + 1, step) if s > overlap]

    best: tuple[tuple[float, ...], TileSizeConfig] | None = None
    p, c5 = cfg.patch_size, cfg.diffusion_channels
    hs, ws = sizes(height, min_hw, step_hw, ov_hw), sizes(width, min_hw, step_hw, ov_hw)
    for tile_t, n_t in sizes(frames, min_t, step_t, ov_t):
        accumulator = 2 * tile_t * height * width * cfg.out_channels * e
        if accumulator >= usable:
            continue
        max_tokens = (usable - accumulator) // max(1, int(c5 * e * coef))
        for tile_h, n_h in hs:
            for tile_w, n_w in ws:
                if tile_t * max(1, tile_h // p) * max(1, tile_w // p) > max_tokens:
                    continue
                n = n_t * n_h * n_w
                volume = tile_t * tile_h * tile_w
                score = (n * volume / (frames * height * width), -volume, n, tile_t, tile_h, tile_w)
                if best is None or score < best[0]:
                    best = (score, TileSizeConfig((tile_t, ov_t), (tile_h, ov_hw), (tile_w, ov_hw)))
    return best[1] if best is not None else None


def smallest_tiling(cfg: DiffusionDecoderConfig) -> TileSizeConfig:
    """The smallest tiles the recommendation considers (its fallback when nothing fits)."""
    ov_t, ov_hw = cfg.min_overlaps()
    st, sh, _ = cfg.s4_to_pixel
    floor = cfg.tile_floor()
    min_t = _round_up(max(4, 2 * ov_t, st * floor[0], 16), 8)
    min_hw = _round_up(max(16, 2 * ov_hw, sh * max(floor[1], floor[2]), 64), 32)
    return TileSizeConfig((min_t, ov_t), (min_hw, ov_hw), (min_hw, ov_hw))


def auto_diffusion_tiling(
    decoder: DiffusionVideoDecoder, latent_shape: tuple[int, ...], free_bytes: int | None = None
) -> TileSizeConfig:
    """A tiling that fits the decoding device: `free_bytes` (default: what the decoder's device has free, host RAM
    on the CPU), else the smallest tiles."""
    if free_bytes is None:
        from ltx_core.offload.policy import probe_memory

        info = probe_memory(next(decoder.parameters()).device)
        free_bytes = info.accelerator_free if info.accelerator_free is not None else info.ram_available
    _, _, f, h, w = latent_shape
    video = (8 * (f - 1) + 1, 32 * h, 32 * w)
    coef = 5.0 if decoder.mode.w_slabs > 1 else 11.0
    found = recommend_tiling(decoder.config, video, free_bytes, model_bytes(decoder), coef=coef)
    return found if found is not None else smallest_tiling(decoder.config)
