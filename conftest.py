"""Shared pytest setup: golden fixture location and the GPU marker."""

import pytest
import torch

from ltx_core.testing.golden import golden_dir


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
