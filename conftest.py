"""Shared pytest setup: one CPU thread per test process, golden fixture location, and the GPU marker.

One intra-op thread keeps CPU results bitwise reproducible (the official golden runs were recorded single-threaded;
some bf16 end-to-end tensors differ by an ulp between 1 and 2 threads) and lets pytest-xdist use the cores.

oneDNN's CPU ISA is capped below AMX: on CPUs with AMX (Sapphire Rapids and later) oneDNN picks bf16 matmul kernels
that round differently from the AVX-512 ones, and image-to-video end-to-end cases then miss their one-bf16-step
bound. The cap is read when oneDNN first runs, so it is set here, before any test computes anything (subprocesses
inherit it); an explicit ONEDNN_MAX_CPU_ISA in the environment wins. On CPUs without AMX it changes nothing.
"""

import os

os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")

import pytest
import torch

from ltx_core.testing.golden import golden_dir


def pytest_configure(config):
    torch.set_num_threads(1)


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
