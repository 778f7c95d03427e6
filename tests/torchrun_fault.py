"""Run by `tests/test_torchrun_cli.py` under torchrun: a pipeline command with one process made to misbehave.

    torchrun ... tests/torchrun_fault.py MODE PIPELINE ARGS...

MODE `raise`: rank 1 raises in its first diffusion stage (after the prompt was encoded and broadcast). MODE
`argv`: rank 1 is started with another seed than the others.
"""

from __future__ import annotations

import os
import sys

from ltx_core.errors import LTXError
from ltx_pipelines.cli.commands import main
from ltx_pipelines.utils.blocks import DiffusionStage


def _raise_on_rank_1(self: DiffusionStage, *args: object, **kwargs: object) -> object:
    if os.environ["RANK"] == "1":
        raise LTXError("injected fault")
    return _run(self, *args, **kwargs)


_run = DiffusionStage.run

if __name__ == "__main__":
    mode, pipeline, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
    if mode == "raise":
        DiffusionStage.run = _raise_on_rank_1  # type: ignore[method-assign]
    elif mode == "argv" and os.environ["RANK"] == "1":
        argv = [*argv, "--seed", "12345"]
    main(pipeline, argv)
