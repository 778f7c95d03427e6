"""Fixtures shared by the pipeline tests: ONE tiny checkpoint set per session.

Every end-to-end test on generated tiny checkpoint files (the CLI tests, Gemma, file-level errors) uses `tiny_sets`
(both versions, seed 0), written once into the session's base temp folder. Tests of pipeline behaviour build the
pipelines from in-memory components instead (`pipelines/conftest.py`, the shared pipeline tester).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ltx_core.testing.tiny_checkpoints import VERSIONS, make_tiny_checkpoints
from ltx_core.testing.tiny_extras import write_ltx25_extras

TINY_FOLDER = "tiny_sets"  # under the session's base temp folder


@pytest.fixture(scope="session")
def tiny_sets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """{version: folder} of the generated tiny sets (`dev`, `distilled`, LoRAs, upsampler, Gemma root)."""
    return make_tiny_checkpoints(tmp_path_factory.getbasetemp() / TINY_FOLDER, VERSIONS, seed=0)


@pytest.fixture(scope="session")
def tiny_set_25(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generated tiny LTX-2.5 set (`ltx_core.testing.tiny_checkpoints`, version ltx25: the distilled single file,
    the same weights as split files, a conv-decoder video VAE, upsampler, LoRA, Gemma-4 folder), seed 0; only the
    tests that use it write it (~5 s), so it is not among `tiny_sets`' default versions."""
    folder = make_tiny_checkpoints(tmp_path_factory.getbasetemp() / TINY_FOLDER, ["ltx25"], seed=0)["ltx25"]
    return write_ltx25_extras(folder)  # DFR's temporal upsampler and detailing IC-LoRA, the text-to-audio file
