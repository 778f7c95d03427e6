"""The old name of Dub-It (`ltx_pipelines.dubit`, renamed in the official 1.2.0): `python -m ltx_pipelines.lipdub`
and `LipDubPipeline` keep working and say that they are the old names."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence
from typing import Any

OLD_NAME_NOTE = "ltx_pipelines.lipdub / LipDubPipeline are the old names of ltx_pipelines.dubit / DubItPipeline"


def __getattr__(name: str) -> Any:
    """`LipDubPipeline` is `DubItPipeline`, with a warning naming the new name (module attributes looked up lazily,
    so that importing this module for its command line warns nothing)."""
    if name == "LipDubPipeline":
        from ltx_pipelines.dubit import DubItPipeline

        warnings.warn(OLD_NAME_NOTE, FutureWarning, stacklevel=2)
        return DubItPipeline
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: Sequence[str] | None = None) -> None:
    from ltx_pipelines.cli.commands import main as run_command_line  # the command line lives in ltx_pipelines.cli

    print(f"note: {OLD_NAME_NOTE}", file=sys.stderr)
    run_command_line("lipdub", argv)


if __name__ == "__main__":
    main()
