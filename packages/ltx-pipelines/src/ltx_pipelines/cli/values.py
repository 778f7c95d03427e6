"""Parsing and checking command-line values: multi-value options, paths, sizes and frame counts.

Click/Typer options take a fixed number of values, but the official CLI has `--image PATH FRAME_IDX STRENGTH [CRF]`
and `--lora PATH [STRENGTH]`. `LTXCommand` (command.py) joins the tokens that follow such a flag into ONE token
separated by `SEPARATOR`; the option's `MultiValue` parser splits it again and builds the value. Errors raise
`typer.BadParameter` (exit code 2, the option named by Typer).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import typer

from ltx_core.errors import InputError
from ltx_core.hdr.spaces import HDRColorSpace
from ltx_core.loader.lora import LoraSpec
from ltx_pipelines.utils.constants import DEFAULT_LORA_STRENGTH

SEPARATOR = "\x1f"  # ASCII unit separator: never part of a real command-line value
T = TypeVar("T")


@dataclass(frozen=True)
class ImageConditioningArg:
    """`--image PATH FRAME_IDX STRENGTH [CRF]`: condition pixel frame `frame_idx` on an image."""

    path: Path
    frame_idx: int
    strength: float
    crf: int | None = None  # not given: the pipeline's video VAE file's default (delta A.11)


@dataclass(frozen=True)
class PathStrengthArg:
    """An input file with a strength (`--video-conditioning PATH STRENGTH` and similar)."""

    path: Path
    strength: float


@dataclass(frozen=True)
class MultiValue(Generic[T]):
    """Parser of a multi-value option: `required` value names, then up to `optional` ones (`repeat_last`: any number).

    `build` receives the value strings (between len(required) and the maximum) and returns the parsed object.
    """

    required: tuple[str, ...]
    optional: tuple[str, ...]
    build: Callable[[list[str]], T]
    repeat_last: bool = False

    @property
    def min_values(self) -> int:
        return len(self.required)

    @property
    def max_values(self) -> int | None:
        return None if self.repeat_last else len(self.required) + len(self.optional)

    @property
    def metavar(self) -> str:
        parts = list(self.required) + [f"[{name}]" for name in self.optional]
        if self.repeat_last:
            parts[-1] = f"{parts[-1]}..."
        return " ".join(parts)

    def __call__(self, value: object) -> T:
        if not isinstance(value, str):  # a default value, already parsed
            return value  # type: ignore[return-value]
        values = value.split(SEPARATOR) if value else []
        if len(values) < self.min_values or (self.max_values is not None and len(values) > self.max_values):
            raise typer.BadParameter(f"expects {self.metavar}, got {len(values)} value(s): {' '.join(values)!r}")
        return self.build(values)


def parse_int(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise typer.BadParameter(f"{name} {value!r} is not an integer") from None


def parse_float(name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise typer.BadParameter(f"{name} {value!r} is not a number") from None
    if not math.isfinite(number):
        raise typer.BadParameter(f"{name} {value!r} is not a finite number")
    return number


def input_file(value: str | Path) -> Path:
    """An existing file, as an absolute path (`~` expanded)."""
    path = Path(value).expanduser()
    if not path.is_file():
        raise typer.BadParameter(f"file not found: {str(value)!r}")
    return path.resolve()


def input_dir(value: str | Path) -> Path:
    """An existing folder, as an absolute path (`~` expanded)."""
    path = Path(value).expanduser()
    if not path.is_dir():
        raise typer.BadParameter(f"folder not found: {str(value)!r}")
    return path.resolve()


def input_file_or_dir(value: str | Path) -> Path:
    """An existing file or folder, as an absolute path (`~` expanded): a text encoder is either."""
    path = Path(value).expanduser()
    if not path.exists():
        raise typer.BadParameter(f"file or folder not found: {str(value)!r}")
    return path.resolve()


def output_dir(value: str | Path) -> Path:
    """A folder for outputs, as an absolute path: created if missing (it must then be creatable)."""
    path = Path(value).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise typer.BadParameter(f"{str(value)!r} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise typer.BadParameter(f"cannot create folder {str(value)!r}: {exc.strerror}") from None
    return path


def output_file(value: str | Path, suffix: str = ".mp4", kind: str = "an MP4") -> Path:
    """Where the MP4 (or, with `suffix` / `kind`, another output: `wav_output_file`) goes: absolute path (`~`
    expanded) ending in the suffix, not an existing folder, in a folder that exists or can be created and is
    writable. Checked at parsing, so a run is never lost to an unwritable path."""
    path = Path(value).expanduser()
    if path.is_dir():
        raise typer.BadParameter(f"{str(value)!r} is a folder; give a file path such as {str(path / f'out{suffix}')!r}")
    if path.suffix.lower() != suffix:
        raise typer.BadParameter(
            f"{str(value)!r} does not end in {suffix}; the output is always {kind}, e.g. "
            f"{str(path.with_suffix(suffix))!r}"
        )
    path = path.resolve()
    existing = next(p for p in path.parents if p.exists())  # the root always exists
    if not existing.is_dir():
        raise typer.BadParameter(f"cannot create the folder {str(path.parent)!r}: {str(existing)!r} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise typer.BadParameter(f"cannot write into {str(existing)!r} (read-only or no permission)")
    return path


def hdr_color_space(value: str | HDRColorSpace) -> HDRColorSpace:
    """`--hdr`: SRGB_LINEAR, ACESCG or ACESCCT, in any case."""
    if isinstance(value, HDRColorSpace):
        return value
    try:
        return HDRColorSpace.named(value)
    except InputError:
        names = ", ".join(HDRColorSpace.__members__)
        raise typer.BadParameter(f"{value!r} is not one of {names} (any case)") from None


def wav_output_file(value: str | Path) -> Path:
    """Where a sound-only output goes: `output_file` for a .wav (16-bit PCM stereo)."""
    return output_file(value, ".wav", "a WAV file (16-bit PCM, stereo)")


def _image(values: list[str]) -> ImageConditioningArg:
    crf = parse_int("CRF", values[3]) if len(values) > 3 else None
    return ImageConditioningArg(
        path=input_file(values[0]),
        frame_idx=parse_int("FRAME_IDX", values[1]),
        strength=parse_float("STRENGTH", values[2]),
        crf=crf,
    )


def _lora(values: list[str]) -> LoraSpec:
    strength = parse_float("STRENGTH", values[1]) if len(values) > 1 else DEFAULT_LORA_STRENGTH
    return LoraSpec(path=input_file(values[0]), strength=strength)


def _path_strength(values: list[str]) -> PathStrengthArg:
    return PathStrengthArg(path=input_file(values[0]), strength=parse_float("STRENGTH", values[1]))


def _ints(values: list[str]) -> tuple[int, ...]:
    return tuple(parse_int("BLOCK", v) for v in values)


def _seconds_range(values: list[str]) -> tuple[float, float]:
    low, high = (parse_float(name, v) for name, v in zip(("MIN_S", "MAX_S"), values, strict=True))
    if not 0 < low <= high:
        raise typer.BadParameter(f"MIN_S {low:g} and MAX_S {high:g}: give 0 < MIN_S <= MAX_S (seconds)")
    return low, high


IMAGE = MultiValue(("PATH", "FRAME_IDX", "STRENGTH"), ("CRF",), _image)
LORA = MultiValue(("PATH",), ("STRENGTH",), _lora)


def _source_strength(values: list[str]) -> PathStrengthArg:
    return PathStrengthArg(path=input_file_or_dir(values[0]), strength=parse_float("STRENGTH", values[1]))


PATH_STRENGTH = MultiValue(("PATH", "STRENGTH"), (), _path_strength)
SOURCE_STRENGTH = MultiValue(("PATH", "STRENGTH"), (), _source_strength)  # a video file or a folder of EXR frames
INT_LIST = MultiValue((), ("BLOCK",), _ints, repeat_last=True)
SECONDS_RANGE = MultiValue(("MIN_S", "MAX_S"), (), _seconds_range)


def check_images(images: Sequence[ImageConditioningArg], num_frames: int) -> None:
    """Frame indices inside the clip, strengths in [0, 1], CRF 0 (off) to 51."""
    for image in images:
        where = f"--image {image.path.name}"
        if not 0 <= image.frame_idx < num_frames:
            raise InputError(f"{where}: FRAME_IDX {image.frame_idx} is outside the clip; valid: 0 to {num_frames - 1}")
        if not 0.0 <= image.strength <= 1.0:
            raise InputError(f"{where}: STRENGTH {image.strength} is outside [0, 1]")
        if image.crf is not None and not 0 <= image.crf <= 51:
            raise InputError(f"{where}: CRF {image.crf} is outside 0 (no compression) to 51")
