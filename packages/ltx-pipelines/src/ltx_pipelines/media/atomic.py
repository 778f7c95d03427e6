"""Output files that appear under their final name only when complete: written to a temp file beside it, then
renamed; any exception (Ctrl-C included) leaves no file behind."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path

from ltx_core.errors import InputError
from ltx_pipelines.media._errors import first_line


def umask_mode() -> int:
    """0666 minus the process umask: the mode `open()` would have given a new file.

    Linux reports the umask in /proc without changing it; elsewhere it is read by setting and restoring it.
    """
    try:
        status = Path("/proc/self/status").read_text()
        umask = next(int(line.split()[1], 8) for line in status.splitlines() if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError, IndexError):
        umask = os.umask(0o022)
        os.umask(umask)
    return 0o666 & ~umask


def final_path(output_path: str | Path) -> Path:
    """Where an output lands: the path with `~` expanded, made absolute."""
    return Path(output_path).expanduser().resolve()


@contextmanager
def atomic_output(output_path: str | Path, suffix: str, passthrough: Collection[BaseException] = ()) -> Iterator[Path]:
    """`with atomic_output(path, ".mp4") as temp:` write `temp`; on success it is renamed to the final path (parent
    folder created, mode as a new file under the umask). An OSError becomes one line naming the final path (disk
    full, folder removed or made read-only meanwhile; PyAV's errors are OSErrors), unless it is in `passthrough`
    (checked when raised: e.g. the frames' producer failed, not the writing)."""
    final = final_path(output_path)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=f".partial{suffix}", dir=final.parent)
    except OSError as exc:
        raise InputError(f"cannot write {str(final)!r}: {exc.strerror or first_line(exc)}") from exc
    os.close(fd)
    temp = Path(temp_name)
    try:
        yield temp
        os.chmod(temp, umask_mode())  # mkstemp makes the file 0600; a finished file follows the umask
        os.replace(temp, final)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        if exc in passthrough:
            raise
        raise InputError(f"cannot write {str(final)!r}: {first_line(exc)}") from exc
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
