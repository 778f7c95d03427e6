"""Tokenisation per spec A.4 on the locally built tiny Gemma tokenizer."""

import pytest
import torch

from ltx_core.testing.tiny_gemma import BOS_ID, PAD_ID, write_tiny_tokenizer
from ltx_core.text_encoders.gemma.tokenizer import load_tokenizer, tokenize


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tok")
    write_tiny_tokenizer(folder)
    return load_tokenizer(folder, max_length=32)


def test_left_padding_with_bos_and_mask(tokenizer):
    toks = tokenize(tokenizer, "  A cat walks on the beach.  ", max_length=32)
    ids, mask = toks.input_ids[0], toks.attention_mask[0]
    assert ids.shape == mask.shape == (32,) and ids.dtype == mask.dtype == torch.int64
    n = int(mask.sum())
    assert 2 < n < 32
    assert mask.tolist() == [0] * (32 - n) + [1] * n
    assert ids[: 32 - n].tolist() == [PAD_ID] * (32 - n)
    assert ids[32 - n] == BOS_ID and BOS_ID not in ids[33 - n :].tolist()
    assert tokenizer.eos_token_id not in ids.tolist()
    # surrounding whitespace is stripped before tokenising
    assert torch.equal(ids, tokenize(tokenizer, "A cat walks on the beach.", max_length=32).input_ids[0])
    assert tokenizer.decode(ids, skip_special_tokens=True) == "A cat walks on the beach."


def test_truncation_keeps_the_start(tokenizer):
    text = " ".join(["the quick brown fox jumps over the lazy dog"] * 10)
    toks = tokenize(tokenizer, text, max_length=16)
    assert toks.attention_mask.sum() == 16
    assert toks.input_ids[0, 0] == BOS_ID
    assert tokenizer.decode(toks.input_ids[0], skip_special_tokens=True).startswith("the quick")


def test_chat_template_and_special_tokens(tokenizer):
    rendered = tokenizer.apply_chat_template(
        [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}],
        tokenize=False,
        add_generation_prompt=True,
    )
    assert rendered == "<bos><start_of_turn>user\nS\n\nU<end_of_turn>\n<start_of_turn>model\n"
    assert tokenizer.pad_token_id == PAD_ID and tokenizer.bos_token_id == BOS_ID


def test_ensured_bos_changes_nothing_for_a_tokenizer_that_adds_it(tokenizer):
    """Gemma 3's tokenizer emits the BOS itself: the 1.2.0 tokenisation (delta A.7.2) gives the same ids and mask,
    also when the text is cut."""
    long = " ".join(["the quick brown fox jumps over the lazy dog"] * 10)
    for text in ("  A cat walks on the beach.  ", long, ""):
        a, b = tokenize(tokenizer, text, max_length=16), tokenize(tokenizer, text, max_length=16, ensure_bos=True)
        assert torch.equal(a.input_ids, b.input_ids) and torch.equal(a.attention_mask, b.attention_mask), text


def test_ensured_bos_is_prepended_when_the_tokenizer_omits_it():
    """A Gemma 4 tokenizer adds no BOS: 1.2.0 prepends it, then keeps the first max_length ids and left-pads."""
    from ltx_core.testing.golden import golden_dir

    folder = golden_dir() / "gemma4_tiny"
    if not (folder / "tokenizer.json").exists():
        pytest.skip(f"no Gemma 4 tokenizer in the fixture set ({folder})")
    tok = load_tokenizer(folder, max_length=8)
    text = "a cat walks"
    plain = tok(text)["input_ids"]
    assert plain[0] != tok.bos_token_id  # the premise: no BOS from the tokenizer
    got = tokenize(tok, text, max_length=8, ensure_bos=True)
    ids = [tok.bos_token_id, *plain][:8]
    assert got.input_ids[0].tolist() == [tok.pad_token_id] * (8 - len(ids)) + ids
    assert got.attention_mask[0].tolist() == [0] * (8 - len(ids)) + [1] * len(ids)
    cut = tokenize(tok, " ".join(["a cat walks"] * 10), max_length=8, ensure_bos=True)
    assert cut.input_ids[0, 0] == tok.bos_token_id and int(cut.attention_mask.sum()) == 8
