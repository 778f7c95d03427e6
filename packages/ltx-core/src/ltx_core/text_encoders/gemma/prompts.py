"""Prompt encoder API: prompts → per-prompt cross-attention contexts (spec A.14 lifecycle).

Gemma is built for the call and dropped before the (small) text path is built, so the two never share memory;
Gemma may run on another device (e.g. the CPU) than the text path (`text_encoder_device`). `ResidentPromptEncoder`
keeps both built across calls instead, for processes that encode many prompts.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ltx_core.errors import InputError
from ltx_core.loader import Checkpoint, open_checkpoint, release
from ltx_core.numerics import DEFAULT_NUMERICS, Numerics
from ltx_core.text_encoders.gemma.encoders import TextEncoderSource, load_text_encoder, open_text_encoder
from ltx_core.text_encoders.gemma.loading import load_text_path, text_path_config
from ltx_core.text_encoders.gemma.model import GemmaTextEncoder
from ltx_core.text_encoders.gemma.processor import EmbeddingsProcessor
from ltx_core.text_encoders.gemma.root import check_gemma_fits
from ltx_core.text_encoders.gemma.tokenizer import MAX_LENGTH
from ltx_core.text_encoders.gemma.version_gate import check_gemma_pairing


@dataclass(frozen=True)
class PromptContexts:
    """One prompt's contexts for the transformer.

    video_context (1, S, Dv), audio_context (1, S, Da), mask (1, S) int64 (all ones: every slot is a real token or a
    register, so the transformer needs no context mask). For LTX-2, Dv = Da = Gemma width and the transformer's own
    caption projections map them to its widths; for LTX-2.3 they already have the transformer's widths.
    `prompt` is the text that was encoded (after enhancement, if any).
    """

    video_context: torch.Tensor
    audio_context: torch.Tensor
    mask: torch.Tensor
    prompt: str = ""


@torch.inference_mode()
def contexts_from_hidden_states(
    processor: EmbeddingsProcessor,
    hidden_states: Sequence[torch.Tensor] | torch.Tensor,
    attention_mask: torch.Tensor,
    prompt: str = "",
) -> PromptContexts:
    """Precomputed Gemma hidden states (L × (B, T, D), or (L, B, T, D)) + mask (B, T) → contexts."""
    device = processor.video_connector.learnable_registers.device
    if isinstance(hidden_states, torch.Tensor):
        hidden_states = hidden_states.to(device)
    else:
        hidden_states = [h.to(device) for h in hidden_states]
    out = processor(hidden_states, attention_mask.to(device))
    return PromptContexts(out.video_context, out.audio_context, out.mask, prompt)


def _free(encoder: Any) -> None:
    encoder.release()
    gc.collect()


@dataclass(frozen=True)
class Enhancement:
    """Whether and how prompt 0 is rewritten by Gemma before encoding (image-to-video when `image` is given).

    `enhancer`: a separate generative Gemma (a Gemma 3 folder or a dense Gemma 4; `--prompt-enhancer-gemma-root`),
    built and freed before the text encoder; None: the text encoder itself (Gemma 3 only). `max_new_tokens` None:
    the enhancer type's default (Gemma 3: 512, Gemma 4: 600). `static_cache`: a static KV cache for generation."""

    enabled: bool = False
    image: str | Path | None = None
    seed: int = 42
    max_new_tokens: int | None = None
    enhancer: str | Path | None = None
    static_cache: bool = False

    def separate_from(self, encode_root: Path) -> bool:
        """Whether a separate enhancer rewrites the prompt: one is given and is not the encode root itself."""
        if not self.enabled or self.enhancer is None:
            return False
        return Path(self.enhancer).resolve() != Path(encode_root).resolve()


def _open(
    gemma_root: str | Path | TextEncoderSource, checkpoint: str | Path | Checkpoint
) -> tuple[Checkpoint, TextEncoderSource]:
    """The checkpoint and the text encoder (a Gemma folder or a packed file, either family), checked to be the pair
    the checkpoint's metadata expects (`version_gate`) and to fit each other's sizes (one-line error otherwise)."""
    ckpt = open_checkpoint(checkpoint)
    root = open_text_encoder(gemma_root)
    check_gemma_pairing(ckpt, root.config, root.root)
    check_gemma_fits(root, text_path_config(ckpt), ckpt.path)
    return ckpt, root


def _rewritten(enhancer: Any, text: str, enhancement: Enhancement, numerics: Numerics) -> str:
    """`text` rewritten by `enhancer` as `enhancement` asks (the padding side by `numerics`, delta A.7.5)."""
    from ltx_core.text_encoders.gemma.enhance import rewrite

    return rewrite(
        enhancer,
        text,
        image=enhancement.image,
        seed=enhancement.seed,
        max_new_tokens=enhancement.max_new_tokens,
        static_cache=enhancement.static_cache,
        left_pad=numerics.enhance_left_pad,
    )


def _hidden_states(
    encoder: Any, prompts: Sequence[str], enhancement: Enhancement, numerics: Numerics
) -> tuple[list[str], list[tuple[Any, torch.Tensor]]]:
    """(texts actually encoded, Gemma hidden states and mask per text): one forward per text (1.1.3) or one for
    all of them (1.2.0, `numerics.text_batched_bos`; always for Gemma 4, which exists only in 1.2.0)."""
    texts = list(prompts)
    if enhancement.enabled and texts:
        if not isinstance(encoder, GemmaTextEncoder):
            raise InputError(
                f"prompt enhancement needs a Gemma 3 text encoder or a separate enhancer; {encoder.root.root} is "
                f"{encoder.root.model_type!r}, which only encodes (pass --prompt-enhancer-gemma-root with a Gemma 3 "
                "folder or a dense Gemma 4 instruct model, or run without --enhance-prompt)"
            )
        from ltx_core.text_encoders.gemma.enhance import gemma3_enhancer

        texts[0] = _rewritten(gemma3_enhancer(encoder), texts[0], enhancement, numerics)
    if (numerics.text_batched_bos or not isinstance(encoder, GemmaTextEncoder)) and texts:
        return texts, encoder.encode_together(texts)
    return texts, [encoder.encode(text) for text in texts]


def _enhanced_apart(
    prompts: Sequence[str],
    enhancement: Enhancement,
    encode_root: TextEncoderSource,
    *,
    device: torch.device,
    dtype: torch.dtype,
    numerics: Numerics,
) -> tuple[list[str], Enhancement]:
    """(prompts, what is left to do) after a separate enhancer rewrote prompt 0: built, used and freed here, before
    the text encoder is built, so the two never share memory (gemma4_text_encoder.md §10). Without a separate
    enhancer, nothing happens here."""
    texts = list(prompts)
    if not texts or not enhancement.separate_from(Path(encode_root.root)):
        return texts, enhancement
    from ltx_core.text_encoders.gemma.enhancers import load_enhancer

    enhancer = load_enhancer(enhancement.enhancer, dtype=dtype, device=device)  # type: ignore[arg-type]
    try:
        texts[0] = _rewritten(enhancer, texts[0], enhancement, numerics)
    finally:
        _free(enhancer)
    return texts, Enhancement()


def _contexts(
    processor: EmbeddingsProcessor, texts: Sequence[str], encoded: Sequence[tuple[Any, torch.Tensor]]
) -> list[PromptContexts]:
    return [contexts_from_hidden_states(processor, hs, mask, t) for t, (hs, mask) in zip(texts, encoded, strict=True)]


def encode_prompts(
    prompts: Sequence[str],
    gemma_root: str | Path | TextEncoderSource,
    checkpoint: str | Path | Checkpoint,
    *,
    device: torch.device | str,
    dtype: torch.dtype,
    text_encoder_device: torch.device | str | None = None,
    max_length: int = MAX_LENGTH,
    enhance_prompt: bool = False,
    enhance_image: str | Path | None = None,
    enhance_seed: int = 42,
    enhance_max_new_tokens: int | None = None,
    enhancer: str | Path | None = None,
    enhance_static_cache: bool = False,
    offload: str | None = "none",
    numerics: Numerics = DEFAULT_NUMERICS,
) -> list[PromptContexts]:
    """Encode every prompt (e.g. positive then negative) in one Gemma session; one result per prompt, in order.

    With `enhance_prompt`, prompt 0 is first rewritten by Gemma (image-to-video when `enhance_image` is given),
    deterministically for a given `enhance_seed`; the other prompts are never rewritten. `offload` may stream
    Gemma's decoder layers from RAM (see `load_gemma`). `numerics`: one Gemma forward per prompt (1.1.3) or one for
    all (1.2.0).
    """
    ckpt, root = _open(gemma_root, checkpoint)
    gemma_device = torch.device(text_encoder_device if text_encoder_device is not None else device)
    enhancement = Enhancement(
        enhance_prompt, enhance_image, enhance_seed, enhance_max_new_tokens, enhancer, enhance_static_cache
    )
    texts, enhancement = _enhanced_apart(
        prompts, enhancement, root, device=gemma_device, dtype=dtype, numerics=numerics
    )
    encoder = load_text_encoder(root, dtype=dtype, device=gemma_device, max_length=max_length, offload=offload)
    try:
        texts, encoded = _hidden_states(encoder, texts, enhancement, numerics)
    finally:
        _free(encoder)
    processor = load_text_path(ckpt, dtype=dtype, device=device)
    try:
        return _contexts(processor, texts, encoded)
    finally:
        release(processor)


class ResidentPromptEncoder:
    """`encode_prompts` with Gemma and the text path built on first use and kept until `release()`: for a process
    that encodes many prompts and has the memory to hold both (the one-shot function never holds them together)."""

    def __init__(
        self,
        gemma_root: str | Path | TextEncoderSource,
        checkpoint: str | Path | Checkpoint,
        *,
        device: torch.device | str,
        dtype: torch.dtype,
        text_encoder_device: torch.device | str | None = None,
        max_length: int = MAX_LENGTH,
        offload: str | None = "none",
        numerics: Numerics = DEFAULT_NUMERICS,
    ) -> None:
        self.checkpoint, self.root = _open(gemma_root, checkpoint)
        self.offload, self.numerics = offload, numerics
        self.device, self.dtype, self.max_length = torch.device(device), dtype, max_length
        self.gemma_device = torch.device(text_encoder_device) if text_encoder_device is not None else self.device
        self._encoder: Any = None  # a GemmaTextEncoder or Gemma4TextEncoder
        self._processor: EmbeddingsProcessor | None = None

    @property
    def is_built(self) -> bool:
        return self._encoder is not None

    def encode(self, prompts: Sequence[str], enhancement: Enhancement = Enhancement()) -> list[PromptContexts]:
        """The same contexts `encode_prompts` gives for these prompts and enhancement settings (a separate enhancer
        is built and freed for the call, while the kept text encoder stays built)."""
        prompts, enhancement = _enhanced_apart(
            prompts, enhancement, self.root, device=self.gemma_device, dtype=self.dtype, numerics=self.numerics
        )
        if self._encoder is None:
            device, length = self.gemma_device, self.max_length
            self._encoder = load_text_encoder(
                self.root, dtype=self.dtype, device=device, max_length=length, offload=self.offload
            )
        if self._processor is None:
            self._processor = load_text_path(self.checkpoint, dtype=self.dtype, device=self.device)
        texts, encoded = _hidden_states(self._encoder, prompts, enhancement, self.numerics)
        return _contexts(self._processor, texts, encoded)

    def release(self) -> None:
        if self._encoder is not None:
            encoder, self._encoder = self._encoder, None
            _free(encoder)
        if self._processor is not None:
            processor, self._processor = self._processor, None
            release(processor)
