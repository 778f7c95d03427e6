"""Video geometry: the VAE's latent ↔ pixel scale and the input rules every caller checks against.

The video VAE is causal in time: pixel frame 0 is encoded alone, then every group of `TIME_SCALE` frames becomes
one latent frame, so a clip has 8k+1 frames. Space is compressed `SPATIAL_SCALE`-fold, so sides are multiples of 32;
the two-stage pipelines run stage 1 at half size and upsample its latent x2, so their sides are multiples of 64.
The CLI, the pipelines, the VAE and the media readers all check sizes and frame counts through `check_multiple` and
`check_frame_count`: one validator per rule, one message (naming the value and the nearest valid ones). Audio
latent timing lives with the audio VAE (`ltx_core.model.audio_vae.timing`).
"""

from __future__ import annotations

from ltx_core.errors import InputError

TIME_SCALE = 8  # pixel frames per latent frame, after the first frame
SPATIAL_SCALE = 32  # pixels per latent cell along height and width
ONE_STAGE_DIVISOR = SPATIAL_SCALE  # one-stage pipelines: the VAE's spatial compression
TWO_STAGE_DIVISOR = 2 * SPATIAL_SCALE  # stage 1 runs at half size and its x2-upsampled latent must equal the full one


# --- latent ↔ pixel -----------------------------------------------------------------------------------------------


def latent_frames(pixel_frames: int) -> int:
    """Latent frames for `pixel_frames` (floors a count that is not 8k+1, as the official encoder drops the rest)."""
    return (pixel_frames - 1) // TIME_SCALE + 1


def pixel_frames(latent_frames: int) -> int:
    """Pixel frames a latent of `latent_frames` frames decodes to (8(n−1)+1)."""
    return (latent_frames - 1) * TIME_SCALE + 1


def latent_size(pixels: int) -> int:
    """Latent cells along a side of `pixels` pixels (floored)."""
    return pixels // SPATIAL_SCALE


def pixel_size(latent_cells: int) -> int:
    """Pixels along a side of `latent_cells` latent cells."""
    return latent_cells * SPATIAL_SCALE


def video_latent_tokens(frames: int, height: int, width: int) -> int:
    """Transformer tokens (one per latent cell) of a `frames`×`height`×`width` pixel clip."""
    return latent_frames(frames) * latent_size(height) * latent_size(width)


# --- validity and the nearest valid values ------------------------------------------------------------------------


def is_frame_count(frames: int) -> bool:
    """8k+1 with k ≥ 0."""
    return frames >= 1 and (frames - 1) % TIME_SCALE == 0


def is_multiple(value: int, divisor: int) -> bool:
    """A positive multiple of `divisor`."""
    return value >= divisor and value % divisor == 0


def frame_count_bounds(frames: int) -> tuple[int, int]:
    """The valid frame counts (8k+1) at or just below `frames` and the next one up; the lower one is at least 1."""
    low = max(1, (frames - 1) // TIME_SCALE * TIME_SCALE + 1)
    return low, low + TIME_SCALE


def multiple_bounds(value: int, divisor: int) -> tuple[int, int]:
    """The positive multiples of `divisor` at or just below `value` and the next one up; the lower one ≥ `divisor`."""
    low = max(divisor, value // divisor * divisor)
    return low, low + divisor


def nearest(value: int, bounds: tuple[int, int]) -> tuple[int, ...]:
    """The bound(s) closest to `value` (both when it lies exactly between them)."""
    best = min(abs(b - value) for b in bounds)
    return tuple(b for b in bounds if abs(b - value) == best)


def nearest_frame_counts(frames: int) -> tuple[int, ...]:
    """The valid frame count(s) closest to `frames`."""
    return nearest(frames, frame_count_bounds(frames))


def nearest_multiples(value: int, divisor: int) -> tuple[int, ...]:
    """The positive multiple(s) of `divisor` closest to `value` (never 0)."""
    return nearest(value, multiple_bounds(value, divisor))


def joined(values: tuple[int, ...]) -> str:
    """`(a, b)` → "a or b", as the one-line errors list valid values."""
    return " or ".join(str(v) for v in values)


# --- the validators (one per rule, one message) -------------------------------------------------------------------


def check_multiple(name: str, value: int, divisor: int, why: str = "") -> None:
    """`InputError` naming `value` and the nearest valid values unless it is a positive multiple of `divisor`.

    `name` is what the caller calls the value (`height`, `--height`, `source video height`); `why` follows the
    divisor (" for two-stage pipelines").
    """
    if is_multiple(value, divisor):
        return
    near = joined(nearest_multiples(value, divisor))
    raise InputError(f"{name} {value} must be a positive multiple of {divisor}{why}; nearest valid: {near}")


def check_frame_count(name: str, frames: int) -> None:
    """`InputError` naming `frames` and the nearest valid counts unless it is 8k+1 (the VAE's time compression)."""
    if is_frame_count(frames):
        return
    near = joined(nearest_frame_counts(frames))
    raise InputError(f"{name} {frames} must be 8k+1 (1, 9, 17, ..., 121, ...); nearest valid: {near}")
