"""Shared pytest setup: one CPU thread per test process, golden fixture location, and the GPU marker.

One intra-op thread keeps CPU results bitwise reproducible (the official golden runs were recorded single-threaded;
some bf16 end-to-end tensors differ by an ulp between 1 and 2 threads) and lets pytest-xdist use the cores.
"""

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
