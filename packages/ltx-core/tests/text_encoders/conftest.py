"""Tiny Gemma roots that fit the golden LTX-2 / LTX-2.3 checkpoints (D = caption_channels, layers = L − 1)."""

import pytest

from ltx_core.loader import open_checkpoint
from ltx_core.testing.tiny_gemma import make_tiny_gemma_root
from ltx_core.text_encoders.gemma.loading import text_path_config

VARIANTS = ("ltx2_tiny", "ltx23_tiny")


@pytest.fixture(scope="session")
def tiny_roots(golden, tmp_path_factory):
    """variant → (checkpoint path, Gemma root path); roots are built once per session."""
    out = {}
    for variant in VARIANTS:
        ckpt = golden / f"{variant}.safetensors"
        cfg = text_path_config(open_checkpoint(ckpt))
        root = make_tiny_gemma_root(
            tmp_path_factory.mktemp(f"gemma_{variant}"), cfg.gemma_width, cfg.num_hidden_states - 1, seed=3
        )
        out[variant] = (ckpt, root)
    return out
