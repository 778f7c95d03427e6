"""Fixtures shared by the pipeline tests: ONE tiny checkpoint set per session.

Every end-to-end test on generated tiny checkpoint files (the CLI tests, Gemma, file-level errors) uses `tiny_sets`
(both versions, seed 0), written once into the session's base temp folder. Tests of pipeline behaviour build the
pipelines from in-memory components instead (`pipelines/conftest.py`, the shared pipeline tester).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ltx_core.testing.tiny_checkpoints import VERSIONS, make_tiny_checkpoints

TINY_FOLDER = "tiny_sets"  # under the session's base temp folder


@pytest.fixture(scope="session")
def tiny_sets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """{version: folder} of the generated tiny sets (`dev`, `distilled`, LoRAs, upsampler, Gemma root)."""
    return make_tiny_checkpoints(tmp_path_factory.getbasetemp() / TINY_FOLDER, VERSIONS, seed=0)
