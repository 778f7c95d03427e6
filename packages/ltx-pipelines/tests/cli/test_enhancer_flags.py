"""`--prompt-enhancer-gemma-root` / `--enhance-static-cache` (gemma4_text_encoder.md §9): the preflight refuses, in
one line and before any model is built, enhancement that no model can do (a Gemma-4 unified text encoder without a
separate enhancer, an enhancer of a type that does not generate); the flags reach the pipeline's prompt encoder, which
rewrites prompt 0 with the separate model before the LTX-2.5 text encoder encodes it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ltx_core.errors import ConfigError, InputError
from ltx_core.testing.golden import golden_dir
from ltx_core.testing.tiny_gemma import make_tiny_gemma4_enhancer
from ltx_core.text_encoders.gemma.enhance import rewrite
from ltx_core.text_encoders.gemma.enhancers import DENSE_GEMMA4_TRANSFORMERS, load_enhancer
from ltx_pipelines.cli.options import CommonArgs
from ltx_pipelines.cli.preflight import check_enhancer
from ltx_pipelines.cli.runtime import pipeline
from ltx_pipelines.distilled import DistilledPipeline
from ltx_pipelines.utils.blocks import PromptEncoder, PromptEnhancerSettings

PACK = golden_dir() / "gemma4_te_tiny.safetensors"
LTX25 = golden_dir() / "ltx25_tiny.safetensors"
needs_pack = pytest.mark.skipif(
    not (PACK.is_file() and LTX25.is_file()), reason="the fixture set has no 1.2.0 Gemma-4 files (README_120 §4)"
)


@pytest.fixture(scope="module")
def dense(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("transformers", minversion=DENSE_GEMMA4_TRANSFORMERS, reason="no Gemma 4 classes")
    return make_tiny_gemma4_enhancer(tmp_path_factory.mktemp("enhancer") / "gemma4", seed=2)


@needs_pack
def test_gemma4_encoder_needs_a_separate_enhancer(dense: Path) -> None:
    with pytest.raises(InputError) as exc:
        check_enhancer(CommonArgs(gemma_root=PACK, enhance_prompt=True))
    assert "\n" not in str(exc.value) and "--prompt-enhancer-gemma-root" in str(exc.value)
    check_enhancer(CommonArgs(gemma_root=PACK, enhance_prompt=True, prompt_enhancer_gemma_root=dense))
    check_enhancer(CommonArgs(gemma_root=PACK))  # no enhancement asked: nothing to check


@needs_pack
def test_a_unified_enhancer_is_refused() -> None:
    with pytest.raises(ConfigError, match="only encodes"):
        check_enhancer(CommonArgs(gemma_root=PACK, enhance_prompt=True, prompt_enhancer_gemma_root=PACK))


def test_the_flags_reach_the_pipeline(dense: Path) -> None:
    plain = pipeline(CommonArgs(), DistilledPipeline, "ckpt")
    assert "prompt_enhancer" not in dict(plain.kwargs)  # the default: the same build (and batch group) as before
    args = CommonArgs(prompt_enhancer_gemma_root=dense, enhance_static_cache=True)
    built = dict(pipeline(args, DistilledPipeline, "ckpt").kwargs)
    assert built["prompt_enhancer"] == PromptEnhancerSettings(dense, static_cache=True)


@needs_pack
def test_prompt_encoder_rewrites_with_the_separate_enhancer(dense: Path) -> None:
    encoder = PromptEncoder(LTX25, PACK, dtype=torch.float32, device="cpu", enhancer=PromptEnhancerSettings(dense))
    got = encoder(["a red kite over the sea", "blurry"], enhance_first_prompt=True)
    expected = rewrite(load_enhancer(dense, dtype=torch.float32), "a red kite over the sea")
    assert [c.prompt for c in got] == [expected, "blurry"]
