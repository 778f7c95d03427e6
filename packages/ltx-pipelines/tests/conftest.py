"""Fixtures shared by the pipeline tests: ONE tiny checkpoint set per session.

Every end-to-end test on generated tiny checkpoints uses `tiny_sets` (both versions, seed 0), written once into the
session's base temp folder; the top-level distilled tests write the same set to the same folder, which
`make_tiny_checkpoints` then reuses instead of regenerating.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ltx_core.testing.tiny_checkpoints import VERSIONS, make_tiny_checkpoints

TINY_FOLDER = "tiny_sets"  # under the session's base temp folder (shared with tests/test_distilled_tiny.py)


@pytest.fixture(scope="session")
def tiny_sets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """{version: folder} of the generated tiny sets (`dev`, `distilled`, LoRAs, upsampler, Gemma root)."""
    return make_tiny_checkpoints(tmp_path_factory.getbasetemp() / TINY_FOLDER, VERSIONS, seed=0)
