"""Fixtures of the top-level (command-line and multi-process) tests."""

from pathlib import Path

import pytest

from ltx_core.testing.tiny_checkpoints import make_tiny_checkpoints


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generated tiny LTX-2.3 set (the folder packages/ltx-pipelines/tests/conftest.py uses as well)."""
    return make_tiny_checkpoints(tmp_path_factory.getbasetemp() / "tiny_sets", ("ltx23",), seed=0)["ltx23"]
