"""Run by `tests/test_torchrun_cli.py` under torchrun: a pipeline command with one process made to misbehave.

    torchrun ... tests/torchrun_fault.py MODE PIPELINE ARGS...

MODE `raise`: rank 1 raises in its first diffusion stage (after the prompt was encoded and broadcast). MODE
`argv`: rank 1 is started with another seed than the others. MODE `stop`: rank 1 stops itself (SIGSTOP) as its
first transformer call begins; `stop-main`: rank 0 stops itself while it encodes the prompt (the others wait for
it). A stopped process prints `rank N stops` on stderr first and has a helper resume it --dist-timeout + 10 s later
(by then the run has failed, and torchrun's stop signal is waiting for it), so that torchrun need not wait for its
kill timeout. MODE `slow-main`: rank 0 takes 2.5 × --dist-timeout longer to encode the prompt (alive: the run
succeeds).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from ltx_core.errors import LTXError
from ltx_core.parallel.sequence import SequenceParallelTransformer
from ltx_pipelines.cli.commands import main
from ltx_pipelines.utils.blocks import DiffusionStage, PromptEncoder


def _on_rank(rank: int, original: Callable[..., Any], act: Callable[[], None]) -> Callable[..., Any]:
    def patched(*args: Any, **kwargs: Any) -> Any:
        if os.environ["RANK"] == str(rank):
            act()
        return original(*args, **kwargs)

    return patched


def _fail() -> None:
    raise LTXError("injected fault")


def _stop() -> None:
    delay = _dist_timeout() + 10
    subprocess.Popen(["sh", "-c", f"sleep {delay}; kill -CONT {os.getpid()}"], start_new_session=True)
    print(f"rank {os.environ['RANK']} stops", file=sys.stderr, flush=True)
    os.kill(os.getpid(), signal.SIGSTOP)


def _dist_timeout() -> float:
    argv = sys.argv
    return float(argv[argv.index("--dist-timeout") + 1]) if "--dist-timeout" in argv else 300.0


if __name__ == "__main__":
    mode, pipeline, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
    if mode == "raise":
        DiffusionStage.run = _on_rank(1, DiffusionStage.run, _fail)  # type: ignore[method-assign]
    elif mode == "stop":
        SequenceParallelTransformer.forward = _on_rank(1, SequenceParallelTransformer.forward, _stop)  # type: ignore[method-assign]
    elif mode == "stop-main":
        PromptEncoder._encoded = _on_rank(0, PromptEncoder._encoded, _stop)  # type: ignore[method-assign]
    elif mode == "slow-main":
        PromptEncoder._encoded = _on_rank(0, PromptEncoder._encoded, lambda: time.sleep(2.5 * _dist_timeout()))  # type: ignore[method-assign]
    elif mode == "argv" and os.environ["RANK"] == "1":
        argv = [*argv, "--seed", "12345"]
    main(pipeline, argv)
