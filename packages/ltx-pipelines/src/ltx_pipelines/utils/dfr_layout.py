"""DFR's frame layout (spec new_pipelines §4, steps 2 and 6b): the padded canvas with its keyframe slots, and the
tiles of a temporal refinement round. Pure integer arithmetic on pixel frames, no tensors."""

from __future__ import annotations

from dataclasses import dataclass

from ltx_core.errors import InputError

SEGMENTS = (24, 32)  # the segment lengths DFR chooses between (pixel frames between two keyframes)
TIME_SCALE = 8  # pixel frames per latent frame (after the first)


@dataclass(frozen=True)
class Canvas:
    """The stage-1/2 canvas of a request: `frames` = the content padded to whole segments, + 1; `keyframes` = the
    slot positions `[S, 2S, ..., frames − 1]` (frame 0 excluded, the last frame included)."""

    requested: int
    segment: int
    frames: int
    keyframes: tuple[int, ...]


def resolve_canvas(num_frames: int) -> Canvas:
    """The canvas for `num_frames` (8k+1, k ≥ 1): the segment S ∈ {24, 32} needing less padding (ties: 32). Examples
    (spec): 121 → S 24, slots 24 … 120; 97 → S 32, slots 32, 64, 96; 17 → S 24, canvas 25."""
    content = num_frames - 1
    if content <= 0 or content % TIME_SCALE:
        raise InputError(
            f"DFR needs 8k+1 frames with k >= 1 (a whole number of latent frames after the first), got {num_frames}"
        )
    padding = {s: -content % s for s in SEGMENTS}
    segment = min(SEGMENTS, key=lambda s: (padding[s], -s))
    frames = content + padding[segment] + 1
    return Canvas(num_frames, segment, frames, tuple(range(segment, frames, segment)))


@dataclass(frozen=True)
class RoundTile:
    """One tile of a temporal round, in the round's pixel frames: `[pixel_start, pixel_end]` (both included), its
    latent frames `[latent_start, latent_end)`, the seams it holds as anchors (not frame 0), the slots it generates
    (midpoints of its segments), and how many of its first latent frames the stitch drops (the lead-in)."""

    pixel_start: int
    pixel_end: int
    anchors: tuple[int, ...]
    slots: tuple[int, ...]
    drop: int

    @property
    def latent_start(self) -> int:
        return self.pixel_start // TIME_SCALE

    @property
    def latent_end(self) -> int:
        return self.pixel_end // TIME_SCALE + 1

    @property
    def frames(self) -> int:
        """The tile's own pixel frame count."""
        return (self.latent_end - self.latent_start - 1) * TIME_SCALE + 1


def tile_ranges(seams: tuple[int, ...], requested: int) -> tuple[RoundTile, ...]:
    """The tiles of a round whose segments end at `seams` (increasing, the last = the last frame): `requested` tiles
    (2^round) clamped to the segment count, each owning a run of segments (split as evenly as possible, the longer
    runs first); every tile but the first starts one segment earlier (its lead-in, dropped at the stitch)."""
    bounds = (0, *seams)
    segments = len(seams)
    count = max(1, min(requested, segments))
    base, extra = divmod(segments, count)
    runs = [base + 1 if i < extra else base for i in range(count)]
    tiles = []
    first = 0
    for index, run in enumerate(runs):
        owned_start, end = bounds[first], bounds[first + run]
        start = owned_start if index == 0 else bounds[first - 1]
        covered = range(first if index == 0 else first - 1, first + run)
        tiles.append(
            RoundTile(
                pixel_start=start,
                pixel_end=end,
                anchors=tuple(s for s in seams if start <= s <= end and s != 0),
                slots=tuple((bounds[i] + bounds[i + 1]) // 2 for i in covered),
                drop=0 if index == 0 else (owned_start - start) // TIME_SCALE + 1,
            )
        )
        first += run
    return tuple(tiles)
