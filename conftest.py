"""Shared pytest setup: one CPU thread per test process, golden fixture location, and the GPU marker.

One intra-op thread keeps CPU results bitwise reproducible (the official golden runs were recorded single-threaded;
some bf16 end-to-end tensors differ by an ulp between 1 and 2 threads) and lets pytest-xdist use the cores.

oneDNN's CPU ISA is capped below AMX: on CPUs with AMX (Sapphire Rapids and later) oneDNN picks bf16 matmul kernels
that round differently from the AVX-512 ones, and image-to-video end-to-end cases then miss their one-bf16-step
bound. The cap is read when oneDNN first runs, so it is set here, before any test computes anything (subprocesses
inherit it); an explicit ONEDNN_MAX_CPU_ISA in the environment wins. On CPUs without AMX it changes nothing.

Bytecode: where PYTHONDONTWRITEBYTECODE is set (as on the CI machines) and the environment was installed without
compiled bytecode, every process the suite starts (torchrun launches, spawned ranks, CLI subprocesses: over a
hundred) recompiled torch and transformers from source, ~10 s each. One process at the start imports them with
bytecode writing allowed, so the others read the cached .pyc files (reading is not affected by the variable).
"""

import contextlib
import os
import subprocess
import sys

os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")

import pytest
import torch

from ltx_core.testing.golden import golden_dir

# What the suite's subprocesses import (the torchrun agent, the ranks, the command lines), cached once.
WARM_IMPORTS = ("torch", "torch.distributed.run", "torch.distributed.fsdp", "safetensors.torch", "av", "PIL.Image",
                "accelerate", "transformers.models.gemma3.modeling_gemma3",
                "transformers.models.auto.tokenization_auto", "transformers.models.gemma.tokenization_gemma_fast",
                "transformers.models.gemma.tokenization_gemma", "ltx_core.testing.parallel_cases",
                "ltx_pipelines.cli.commands", "ltx_pipelines.testing.pipeline_runs")  # fmt: skip
_WARM = """import importlib, sys
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except Exception:
        pass
"""


def pytest_configure(config):
    torch.set_num_threads(1)
    if os.environ.get("PYTHONDONTWRITEBYTECODE") and not hasattr(config, "workerinput"):
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        with contextlib.suppress(OSError, subprocess.SubprocessError):  # a read-only environment: no speed-up
            subprocess.run([sys.executable, "-c", _WARM, *WARM_IMPORTS], env=env, timeout=300, capture_output=True)


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def golden():
    d = golden_dir()
    if not d.exists():
        pytest.skip(f"golden fixtures not found at {d}")
    return d
