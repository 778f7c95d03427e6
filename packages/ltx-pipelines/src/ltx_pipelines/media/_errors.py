"""Turning PyAV / Pillow / OS failures into one-line `InputError`s that name the file."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import av

from ltx_core.errors import InputError

# What the media libraries raise for a missing, unreadable or corrupt file (Pillow's UnidentifiedImageError is an
# OSError; PyAV raises FFmpegError subclasses, some of which are also OSError/ValueError).
_READ_ERRORS: tuple[type[BaseException], ...] = (OSError, av.FFmpegError, ValueError, EOFError)


@contextmanager
def reading(path: str | Path, what: str) -> Iterator[None]:
    """Re-raise any decoder / file error inside the block as an `InputError` naming `path`."""
    try:
        yield
    except InputError:
        raise
    except _READ_ERRORS as exc:
        raise InputError(f"cannot read {what} file {str(path)!r}: {first_line(exc)}") from exc


def existing_file(path: str | Path, what: str) -> Path:
    """The path (with ~ expanded) if it is a file, else an `InputError` that names it."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise InputError(f"{what} file not found: {str(path)!r}")
    return p


def first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
