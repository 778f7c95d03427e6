"""Shared pytest setup: one CPU thread per test process, golden fixture location, and the GPU marker.

One intra-op thread keeps CPU results bitwise reproducible (the official golden runs were recorded single-threaded;
some bf16 end-to-end tensors differ by an ulp between 1 and 2 threads) and lets pytest-xdist use the cores.

CPU kernels: bf16 results depend on the instruction set PyTorch and oneDNN pick (AVX2, AVX-512, AMX, NEON), and the
golden end-to-end recordings were made with the AVX2 kernels (`e2e_avx2/`, the 1.2.0 sets). On an x86-64 CPU with
AVX2 both are capped to AVX2 here (`ltx_core.testing.cpu_parity.apply_recording_caps`), before any test computes
anything (subprocesses inherit it; an explicit setting in the environment wins), so the end-to-end parity tests run
strict: bitwise or within one bf16 step. Elsewhere they run tolerant (teacher-forced per-call checks, measured
cross-CPU bounds); the run's last lines say which mode and why (docs/parity.md).

Bytecode: where PYTHONDONTWRITEBYTECODE is set (as on the CI machines) and the environment was installed without
compiled bytecode, every process the suite starts (torchrun launches, spawned ranks, CLI subprocesses: over a
hundred) recompiled torch and transformers from source, ~10 s each. One process at the start imports them with
bytecode writing allowed, so the others read the cached .pyc files (reading is not affected by the variable).
"""

import contextlib
import os
import subprocess
import sys

from ltx_core.testing.cpu_parity import apply_recording_caps

CAPS_APPLIED = apply_recording_caps()

import pytest  # noqa: E402
import torch  # noqa: E402

from ltx_core.testing.golden import golden_dir  # noqa: E402

# What the suite's subprocesses import (the torchrun agent, the ranks, the command lines), cached once.
WARM_IMPORTS = (
    "torch",
    "torch.distributed.run",
    "torch.distributed.fsdp",
    "safetensors.torch",
    "av",
    "PIL.Image",
    "accelerate",
    "transformers.models.gemma3.modeling_gemma3",
    "transformers.models.auto.tokenization_auto",
    "transformers.models.gemma.tokenization_gemma_fast",
    "transformers.models.gemma.tokenization_gemma",
    "ltx_core.testing.parallel_cases",
    "ltx_pipelines.cli.commands",
    "ltx_pipelines.testing.pipeline_runs",
)
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


def _parity_line() -> str:
    from ltx_core.testing.golden import suite_parity_line

    try:
        return suite_parity_line(golden_dir(), CAPS_APPLIED)
    except Exception as e:  # a broken fixture set must not hide the test results
        return f"golden parity: unknown ({e})"


def pytest_report_header(config):
    return _parity_line()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    terminalreporter.write_line(_parity_line())


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
