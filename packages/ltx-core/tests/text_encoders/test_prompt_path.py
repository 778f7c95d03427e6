"""Whole prompt → contexts path on tiny Gemma roots that fit the golden checkpoints, and prompt enhancement."""

import warnings

import numpy as np
import pytest
import torch

from ltx_core.loader import open_checkpoint
from ltx_core.text_encoders.gemma.enhance import clean_enhanced, enhance_prompt
from ltx_core.text_encoders.gemma.loading import load_text_path, text_path_config
from ltx_core.text_encoders.gemma.model import load_gemma
from ltx_core.text_encoders.gemma.prompts import (
    Enhancement,
    ResidentPromptEncoder,
    contexts_from_hidden_states,
    encode_prompts,
)

S = 256  # a multiple of the 128 registers, short enough for CPU tests


@pytest.mark.parametrize("variant", ["ltx2_tiny", "ltx23_tiny"])
def test_encode_prompts_matches_step_by_step(tiny_roots, variant):
    ckpt_path, root = tiny_roots[variant]
    prompts = ["A cat walks on the beach at sunset.", "blurry, low quality"]
    got = encode_prompts(prompts, root, ckpt_path, device="cpu", dtype=torch.float32, max_length=S)
    assert [g.prompt for g in got] == prompts

    cfg = text_path_config(open_checkpoint(ckpt_path))
    enc = load_gemma(root, dtype=torch.float32, max_length=S)
    processor = load_text_path(ckpt_path)
    for prompt, ctx in zip(prompts, got, strict=True):
        hs, mask = enc.encode(prompt)
        assert len(hs) == cfg.num_hidden_states
        want = contexts_from_hidden_states(processor, hs, mask)
        assert ctx.video_context.shape == (1, S, cfg.video_width)
        assert ctx.audio_context.shape == (1, S, cfg.audio_width)
        assert torch.equal(ctx.mask, torch.ones(1, S, dtype=torch.int64))
        assert torch.equal(ctx.video_context, want.video_context)
        assert torch.equal(ctx.audio_context, want.audio_context)
        assert torch.isfinite(ctx.video_context).all() and torch.isfinite(ctx.audio_context).all()
    # the two prompts give different contexts; registers fill the pad slots identically
    a, b = got
    assert not torch.equal(a.video_context, b.video_context)


def test_text_encoder_on_another_device_argument(tiny_roots):
    ckpt_path, root = tiny_roots["ltx2_tiny"]
    a = encode_prompts(["a dog"], root, ckpt_path, device="cpu", dtype=torch.float32, max_length=S)
    b = encode_prompts(
        ["a dog"], root, ckpt_path, device="cpu", dtype=torch.float32, text_encoder_device="cpu", max_length=S
    )
    assert torch.equal(a[0].video_context, b[0].video_context)


@pytest.mark.gpu
def test_gemma_on_cpu_text_path_on_gpu(tiny_roots):
    ckpt_path, root = tiny_roots["ltx23_tiny"]
    ref = encode_prompts(["a dog"], root, ckpt_path, device="cpu", dtype=torch.float32, max_length=S)[0]
    got = encode_prompts(
        ["a dog"], root, ckpt_path, device="cuda", dtype=torch.float32, text_encoder_device="cpu", max_length=S
    )[0]
    assert got.video_context.device.type == "cuda"
    torch.testing.assert_close(got.video_context.cpu(), ref.video_context, rtol=1e-4, atol=1e-4)


def test_clean_enhanced_by_hand():
    assert clean_enhanced("  1. “Hello” — it’s\u00a0fine") == "Hello\" - it's fine"
    assert clean_enhanced("123 !!") == "123 !!"
    assert clean_enhanced("") == ""


@pytest.fixture(scope="module")
def encoder(tiny_roots):
    enc = load_gemma(tiny_roots["ltx23_tiny"][1], dtype=torch.float32, max_length=S)
    yield enc
    enc.release()


def test_enhancement_is_deterministic_per_seed(encoder):
    a = enhance_prompt(encoder, "a cat on the beach", seed=1, max_new_tokens=12)
    b = enhance_prompt(encoder, "a cat on the beach", seed=1, max_new_tokens=12)
    c = enhance_prompt(encoder, "a cat on the beach", seed=2, max_new_tokens=12)
    assert isinstance(a, str) and a == b and a != c
    # the global RNG is not disturbed
    torch.manual_seed(5)
    x = torch.rand(3)
    torch.manual_seed(5)
    enhance_prompt(encoder, "a cat", seed=1, max_new_tokens=2)
    assert torch.equal(torch.rand(3), x)


def test_i2v_enhancement_sees_the_image(encoder, tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    a = enhance_prompt(encoder, "the cat jumps", image=tmp_path / "0.png", seed=1, max_new_tokens=12)
    b = enhance_prompt(encoder, "the cat jumps", image=tmp_path / "0.png", seed=1, max_new_tokens=12)
    t = enhance_prompt(encoder, "the cat jumps", seed=1, max_new_tokens=12)
    assert a == b and a != t


def test_i2v_without_image_processor_falls_back_with_warning(tiny_roots, tmp_path):
    import shutil

    from PIL import Image

    root = tmp_path / "root"
    shutil.copytree(tiny_roots["ltx23_tiny"][1], root)
    (root / "preprocessor_config.json").unlink()
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(tmp_path / "x.png")
    enc = load_gemma(root, dtype=torch.float32, max_length=S)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        a = enhance_prompt(enc, "a cat", image=tmp_path / "x.png", seed=1, max_new_tokens=6)
    assert any("text-to-video mode" in str(w.message) for w in caught)
    assert a == enhance_prompt(enc, "a cat", seed=1, max_new_tokens=6)


def test_encode_prompts_enhances_only_the_first(tiny_roots):
    ckpt_path, root = tiny_roots["ltx23_tiny"]
    got = encode_prompts(
        ["a cat", "low quality"],
        root,
        ckpt_path,
        device="cpu",
        dtype=torch.float32,
        max_length=S,
        enhance_prompt=True,
        enhance_seed=3,
        enhance_max_new_tokens=8,
    )
    assert got[0].prompt != "a cat" and got[1].prompt == "low quality"


def test_resident_encoder_equals_one_shot_and_keeps_its_models(tiny_roots):
    ckpt_path, root = tiny_roots["ltx23_tiny"]
    kw = dict(device="cpu", dtype=torch.float32, max_length=S)
    resident = ResidentPromptEncoder(root, ckpt_path, **kw)
    assert not resident.is_built
    enhancement = Enhancement(enabled=True, seed=3, max_new_tokens=8)
    for prompts, enhance in ((["a cat", "low quality"], enhancement), (["a dog"], Enhancement())):
        want = encode_prompts(
            prompts, root, ckpt_path, **kw, enhance_prompt=enhance.enabled, enhance_seed=3, enhance_max_new_tokens=8
        )
        encoder = resident._encoder
        got = resident.encode(prompts, enhance)
        assert encoder is None or resident._encoder is encoder  # built once, then reused
        assert [g.prompt for g in got] == [w.prompt for w in want]
        for g, w in zip(got, want, strict=True):
            assert torch.equal(g.video_context, w.video_context) and torch.equal(g.audio_context, w.audio_context)
    resident.release()
    assert not resident.is_built


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_one_batched_gemma_forward_equals_one_per_prompt(tiny_roots, dtype):
    """1.2.0 runs a call's prompts through Gemma as one batch (delta A.7.1), 1.1.3 one at a time: on the CPU the
    contexts are the same bits (the spec's check, repeated on our Gemma path)."""
    from ltx_core.numerics import NUMERICS_1_1_3, NUMERICS_1_2_0

    ckpt_path, root = tiny_roots["ltx23_tiny"]
    prompts = ["A cat walks on the beach at sunset.", "blurry, low quality, a much longer negative prompt here"]
    each, batched = (
        encode_prompts(prompts, root, ckpt_path, device="cpu", dtype=dtype, max_length=S, numerics=n)
        for n in (NUMERICS_1_1_3, NUMERICS_1_2_0)
    )
    for one, many in zip(each, batched, strict=True):
        assert torch.equal(one.video_context, many.video_context) and torch.equal(one.mask, many.mask)
        assert torch.equal(one.audio_context, many.audio_context)
