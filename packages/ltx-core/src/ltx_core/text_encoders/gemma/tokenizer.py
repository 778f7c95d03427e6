"""Gemma tokenisation for encoding (spec A.4): left padding to a fixed length, BOS prepended, right truncation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ltx_core.errors import CheckpointError

MAX_LENGTH = 1024
"""Text length used by the pipelines (must be a multiple of the 128 connector registers)."""


@dataclass(frozen=True)
class Tokens:
    input_ids: torch.Tensor  # (1, max_length) int64, pads (id of <pad>) on the left
    attention_mask: torch.Tensor  # (1, max_length) int64, 1 = real token


def load_tokenizer(folder: str | Path, max_length: int = MAX_LENGTH) -> Any:
    """The folder's HF tokenizer, offline, configured for left padding (pad falls back to EOS when absent)."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True, model_max_length=max_length)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{folder}: cannot load the Gemma tokenizer ({first})") from None
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def tokenize(tokenizer: Any, text: str, max_length: int = MAX_LENGTH, *, ensure_bos: bool = False) -> Tokens:
    """`text.strip()` → `[pad]*(max_length−n) + [<bos>, t1, …]`; texts longer than max_length are cut at the end.

    `ensure_bos` (the official 1.2.0, spec delta A.7.2): the BOS is guaranteed even when the tokenizer's own
    post-processing does not add it (Gemma 4): tokenized unpadded, BOS prepended when missing, then cut to
    `max_length` and left-padded. A Gemma 3 tokenizer emits the BOS itself, so both ways give the same ids."""
    if not ensure_bos:
        enc = tokenizer(text.strip(), padding="max_length", max_length=max_length, truncation=True, return_tensors="pt")
        return Tokens(enc["input_ids"].to(torch.int64), enc["attention_mask"].to(torch.int64))
    bos = tokenizer.bos_token_id
    if bos is None:
        raise CheckpointError("the Gemma tokenizer has no BOS token (bos_token_id is None)")
    ids = list(tokenizer(text.strip(), max_length=max_length, truncation=True)["input_ids"])
    if not ids or ids[0] != bos:
        ids = [bos, *ids][:max_length]
    pad = max_length - len(ids)
    input_ids = torch.tensor([[tokenizer.pad_token_id] * pad + ids], dtype=torch.int64)
    mask = torch.tensor([[0] * pad + [1] * len(ids)], dtype=torch.int64)
    return Tokens(input_ids, mask)
