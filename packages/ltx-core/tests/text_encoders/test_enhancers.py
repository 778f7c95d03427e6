"""Prompt enhancement by a separate model (`--prompt-enhancer-gemma-root`, gemma4_text_encoder.md §9): a dense
Gemma-4 instruct model (folder or packed file) or a Gemma 3 folder rewrites prompt 0 before the LTX-2.5 Gemma-4
unified encoder, which only encodes, is built; the enhancer is freed first. The dense Gemma 4 loads exactly what
transformers' own loader loads from the same folder; the generation settings are the Gemma-4 ones (greedy, n-gram
5, 600 tokens) and the alignment padding is prepended (1.2.0) or appended (1.1.3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from ltx_core.errors import ConfigError
from ltx_core.numerics import NUMERICS_1_1_3
from ltx_core.testing.golden import golden_dir
from ltx_core.testing.tiny_gemma import PAD_ID, make_tiny_gemma4_enhancer
from ltx_core.text_encoders.gemma import enhancers
from ltx_core.text_encoders.gemma.enhance import GEMMA4_GENERATION, PAD_MULTIPLE, i2v_messages, rewrite
from ltx_core.text_encoders.gemma.enhancers import DENSE_GEMMA4_TRANSFORMERS, load_enhancer
from ltx_core.text_encoders.gemma.prompts import encode_prompts
from ltx_core.text_encoders.gemma.system_prompts import GEMMA4_I2V_SYSTEM_PROMPT, GEMMA4_T2V_SYSTEM_PROMPT

PACK = golden_dir() / "gemma4_te_tiny.safetensors"
LTX25 = golden_dir() / "ltx25_tiny.safetensors"
needs_pack = pytest.mark.skipif(
    not (PACK.is_file() and LTX25.is_file()), reason="the fixture set has no 1.2.0 Gemma-4 files (README_120 §4)"
)
PROMPT = "a cat walks on the beach"


@pytest.fixture(scope="module")
def dense(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    pytest.importorskip("transformers", minversion=DENSE_GEMMA4_TRANSFORMERS, reason="no Gemma 4 classes")
    out = tmp_path_factory.mktemp("gemma4_enhancer")
    return {
        "folder": make_tiny_gemma4_enhancer(out / "folder", seed=5),
        "packed": make_tiny_gemma4_enhancer(out / "packed.safetensors", seed=5, packed=True),
    }


@pytest.fixture(scope="module")
def seeing(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The tiny dense Gemma 4 with a vision tower and its processor config (image-to-video enhancement)."""
    pytest.importorskip("transformers", minversion=DENSE_GEMMA4_TRANSFORMERS, reason="no Gemma 4 classes")
    out = tmp_path_factory.mktemp("gemma4_vision_enhancer")
    return {
        "folder": make_tiny_gemma4_enhancer(out / "folder", seed=5, vision=True),
        "packed": make_tiny_gemma4_enhancer(out / "packed.safetensors", seed=5, packed=True, vision=True),
    }


@pytest.mark.parametrize("kind", ["dense", "seeing"], ids=["text only", "vision tower"])
def test_dense_gemma4_loads_what_transformers_loads(kind: str, request: pytest.FixtureRequest) -> None:
    from transformers import Gemma4ForConditionalGeneration

    paths: dict[str, Path] = request.getfixturevalue(kind)
    reference = Gemma4ForConditionalGeneration.from_pretrained(str(paths["folder"]), dtype=torch.float32)
    expected = {**reference.state_dict(), **dict(reference.named_buffers())}
    assert any(k.startswith("model.vision_tower.") for k in expected) == (kind == "seeing")
    for form, path in paths.items():
        enhancer = load_enhancer(path, dtype=torch.float32)
        got = {**enhancer.model.state_dict(), **dict(enhancer.model.named_buffers())}
        assert got.keys() == expected.keys(), form
        assert all(torch.equal(got[k], expected[k]) for k in expected), form
        assert enhancer.model.lm_head.weight is enhancer.model.model.language_model.embed_tokens.weight


def _captured_generate(enhancer: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    real = enhancer.model.generate

    def generate(**kwargs: Any) -> torch.Tensor:
        seen.update(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(enhancer.model, "generate", generate)
    return seen


@pytest.mark.parametrize("left", [True, False], ids=["1.2.0 prepends", "1.1.3 appends"])
def test_gemma4_generation_settings_and_padding(
    dense: dict[str, Path], monkeypatch: pytest.MonkeyPatch, left: bool
) -> None:
    enhancer = load_enhancer(dense["folder"], dtype=torch.float32)
    seen = _captured_generate(enhancer, monkeypatch)
    text = rewrite(enhancer, PROMPT, seed=1, max_new_tokens=8, left_pad=left)
    assert seen["do_sample"] is False and seen["no_repeat_ngram_size"] == GEMMA4_GENERATION.no_repeat_ngram_size
    assert "temperature" not in seen and seen["max_new_tokens"] == 8
    ids, mask = seen["input_ids"][0], seen["attention_mask"][0]
    rendered = enhancer.tokenizer.apply_chat_template(
        [
            {"role": "system", "content": GEMMA4_T2V_SYSTEM_PROMPT},
            {"role": "user", "content": f"user prompt: {PROMPT}"},
        ],
        tokenize=False,
        add_generation_prompt=True,
    )
    plain = enhancer.tokenizer(rendered, return_tensors="pt")["input_ids"][0]
    pads = (-len(plain)) % PAD_MULTIPLE
    assert len(ids) == len(plain) + pads and len(ids) % PAD_MULTIPLE == 0
    real = slice(pads, None) if left else slice(0, len(plain))
    padded = slice(0, pads) if left else slice(len(plain), None)
    assert torch.equal(ids[real], plain) and bool(mask[real].all())
    assert bool((ids[padded] == PAD_ID).all()) and not bool(mask[padded].any())
    assert text == rewrite(enhancer, PROMPT, seed=2, max_new_tokens=8, left_pad=left)  # greedy: the seed is moot


def test_default_length_is_the_gemma4_one(dense: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    enhancer = load_enhancer(dense["packed"], dtype=torch.float32)
    seen: dict[str, Any] = {}

    def generate(**kwargs: Any) -> torch.Tensor:
        seen.update(kwargs)
        return kwargs["input_ids"]  # nothing generated: only the arguments matter here

    monkeypatch.setattr(enhancer.model, "generate", generate)
    rewrite(enhancer, PROMPT, static_cache=True)
    assert seen["max_new_tokens"] == GEMMA4_GENERATION.max_new_tokens == 600
    assert seen["cache_implementation"] == "static"


def test_image_without_a_vision_tower_falls_back_to_text(dense: dict[str, Path], tmp_path: Path) -> None:
    from PIL import Image

    image = tmp_path / "frame.png"
    Image.new("RGB", (64, 48), (200, 30, 30)).save(image)
    enhancer = load_enhancer(dense["folder"], dtype=torch.float32)
    with pytest.warns(UserWarning, match="text-to-video mode"):
        with_image = rewrite(enhancer, PROMPT, image=image, max_new_tokens=6)
    assert with_image == rewrite(enhancer, PROMPT, max_new_tokens=6)


@pytest.mark.parametrize(
    ("form", "dtype"), [("folder", torch.float32), ("packed", torch.bfloat16)], ids=["folder f32", "packed bf16"]
)
def test_image_to_video_shows_the_model_the_image(
    seeing: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, form: str, dtype: torch.dtype
) -> None:
    """With a vision tower the first frame reaches `generate`: float pixels in the model dtype, and the Gemma-4 I2V
    messages with the image item expanded to begin-of-image, one image token per pooled patch, end-of-image; the
    token types mark exactly those image tokens after the alignment padding."""
    from PIL import Image

    image = tmp_path / "frame.png"
    Image.new("RGB", (64, 48), (200, 30, 30)).save(image)
    enhancer = load_enhancer(seeing[form], dtype=dtype)
    seen = _captured_generate(enhancer, monkeypatch)
    text = rewrite(enhancer, PROMPT, image=image, max_new_tokens=8)
    config = enhancer.model.config
    pixels = seen["pixel_values"]
    assert pixels.dtype == dtype and pixels.shape[-1] == 3 * config.vision_config.patch_size**2
    real_patches = int((seen["image_position_ids"][0] >= 0).all(-1).sum())
    soft_tokens = real_patches // config.vision_config.pooling_kernel_size**2
    ids, mask = seen["input_ids"][0], seen["attention_mask"][0]
    is_image = ids == config.image_token_id
    assert soft_tokens > 0 and int(is_image.sum()) == soft_tokens
    assert torch.equal(seen["mm_token_type_ids"][0].bool(), is_image)  # aligned with the padded ids

    tokenizer = enhancer.tokenizer
    rendered = tokenizer.apply_chat_template(
        i2v_messages(PROMPT, GEMMA4_I2V_SYSTEM_PROMPT), tokenize=False, add_generation_prompt=True
    )
    expanded = rendered.replace(
        tokenizer.image_token, tokenizer.boi_token + tokenizer.image_token * soft_tokens + tokenizer.eoi_token
    )
    plain = tokenizer(expanded, return_tensors="pt")["input_ids"][0]
    pads = (-len(plain)) % PAD_MULTIPLE
    assert len(ids) == len(plain) + pads and torch.equal(ids[pads:], plain) and bool(mask[pads:].all())
    assert not bool(mask[:pads].any())
    assert text == rewrite(enhancer, PROMPT, image=image, seed=2, max_new_tokens=8)  # greedy: the same text


@needs_pack
def test_a_unified_encoder_cannot_enhance() -> None:
    with pytest.raises(ConfigError) as exc:
        load_enhancer(PACK)
    message = str(exc.value)
    assert "\n" not in message and "only encodes" in message and "--prompt-enhancer-gemma-root" in message


def test_an_unknown_type_cannot_enhance(dense: dict[str, Path], tmp_path: Path) -> None:
    import json
    import shutil

    other = tmp_path / "other"
    shutil.copytree(dense["folder"], other)
    config = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "model_type": "llama"}))
    with pytest.raises(ConfigError, match=r"model_type 'llama'; supported: gemma3, gemma4"):
        load_enhancer(other)


def test_weights_that_do_not_fit_are_one_line(dense: dict[str, Path], tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    from ltx_core.errors import CheckpointError

    state = load_file(str(dense["packed"]))
    dropped = next(k for k in state if k.endswith("layers.1.mlp.up_proj.weight"))
    del state[dropped]
    from safetensors import safe_open

    with safe_open(str(dense["packed"]), "pt") as f:
        metadata = f.metadata()
    bad = tmp_path / "bad.safetensors"
    save_file(state, str(bad), metadata=metadata)
    with pytest.raises(CheckpointError) as exc:
        load_enhancer(bad)
    assert "\n" not in str(exc.value) and "1 missing: " + dropped in str(exc.value)


@needs_pack
@pytest.mark.parametrize("form", ["folder", "packed"])
def test_separate_enhancer_before_the_gemma4_encoder(
    dense: dict[str, Path], form: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The LTX-2.5 path: the dense enhancer rewrites prompt 0 (only it), is freed, and then the unified encoder
    encodes the rewritten text; the contexts equal those of encoding that text directly."""
    from ltx_core.text_encoders.gemma import prompts

    events: list[str] = []
    real_load, real_release = enhancers.load_enhancer, enhancers.Enhancer.release
    monkeypatch.setattr(enhancers, "load_enhancer", lambda *a, **k: events.append("enhancer") or real_load(*a, **k))
    monkeypatch.setattr(enhancers.Enhancer, "release", lambda self: events.append("freed") or real_release(self))
    real_encoder = prompts.load_text_encoder
    monkeypatch.setattr(prompts, "load_text_encoder", lambda *a, **k: events.append("encoder") or real_encoder(*a, **k))
    kwargs: dict[str, Any] = {"device": "cpu", "dtype": torch.float32}
    got = encode_prompts(
        [PROMPT, "blurry"], PACK, LTX25, enhance_prompt=True, enhancer=dense[form], enhance_max_new_tokens=12, **kwargs
    )
    assert events == ["enhancer", "freed", "encoder"]
    expected_text = rewrite(load_enhancer(dense[form], dtype=torch.float32), PROMPT, max_new_tokens=12)
    assert [c.prompt for c in got] == [expected_text, "blurry"]
    direct = encode_prompts([expected_text, "blurry"], PACK, LTX25, **kwargs)
    for a, b in zip(got, direct, strict=True):
        assert torch.equal(a.video_context, b.video_context) and torch.equal(a.audio_context, b.audio_context)


@needs_pack
def test_gemma3_folder_as_separate_enhancer(tiny_roots: dict[str, tuple[Path, Path]]) -> None:
    """A Gemma 3 folder enhances for the Gemma-4 encoder too (sampling, seeded: the same text twice)."""
    _, gemma3 = tiny_roots["ltx23_tiny"]
    kwargs: dict[str, Any] = {"device": "cpu", "dtype": torch.float32, "enhance_prompt": True, "enhancer": gemma3}
    first = encode_prompts([PROMPT], PACK, LTX25, enhance_max_new_tokens=10, enhance_seed=3, **kwargs)
    again = encode_prompts([PROMPT], PACK, LTX25, enhance_max_new_tokens=10, enhance_seed=3, **kwargs)
    assert first[0].prompt == again[0].prompt and torch.equal(first[0].video_context, again[0].video_context)
    old = encode_prompts([PROMPT], PACK, LTX25, enhance_max_new_tokens=10, numerics=NUMERICS_1_1_3, **kwargs)
    assert old[0].prompt  # 1.1.3 appends the padding: a valid rewrite either way
