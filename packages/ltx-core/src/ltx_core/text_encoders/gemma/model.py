"""Gemma 3 from a local root folder: built on meta from its own config.json, filled from the shards, offline.

We do not use `from_pretrained`: the official shards use the original Google layout (`language_model.model.*`),
the folder need not carry an index file, and we want strict, one-line errors. Parameters are created on meta
(`accelerate.init_empty_weights`), buffers (rotary tables, embedding scale, vision position ids) are built for real
by transformers itself, then each shard tensor is read, cast and assigned.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ltx_core.errors import CheckpointError
from ltx_core.loader.safetensors_file import SafetensorsFile
from ltx_core.text_encoders.gemma.root import GemmaRoot, find_gemma_root
from ltx_core.text_encoders.gemma.tokenizer import MAX_LENGTH, Tokens, load_tokenizer, tokenize

# (shard-key prefix, module-key prefix): the original Google layout first, then the newer HF layout unchanged.
_KEY_PREFIXES = (
    ("language_model.model.", "model.language_model."),
    ("vision_tower.", "model.vision_tower."),
    ("multi_modal_projector.", "model.multi_modal_projector."),
    ("model.language_model.", "model.language_model."),
    ("model.vision_tower.", "model.vision_tower."),
    ("model.multi_modal_projector.", "model.multi_modal_projector."),
)
_TIED = "lm_head.weight"
_EMBED = "model.language_model.embed_tokens.weight"
_SHOW = 5
logger = logging.getLogger(__name__)


def gemma_module_key(shard_key: str) -> str | None:
    """Module name for a shard key, or None for keys we do not load (the tied LM head, unrelated tensors)."""
    for src, dst in _KEY_PREFIXES:
        if shard_key.startswith(src):
            return dst + shard_key[len(src) :]
    return None


def _iter_shard_tensors(shards: tuple[Path, ...]) -> Iterator[tuple[str, torch.Tensor]]:
    for path in shards:
        f = SafetensorsFile(path)
        wanted = [k for k in f.keys() if gemma_module_key(k) is not None]
        for key, tensor in f.iter_tensors(wanted):
            yield gemma_module_key(key), tensor  # type: ignore[misc]


def _listing(keys: list[str]) -> str:
    keys = sorted(keys)
    return ", ".join(keys[:_SHOW]) + (f" (+{len(keys) - _SHOW} more)" if len(keys) > _SHOW else "")


def build_gemma_model(root: GemmaRoot, *, dtype: torch.dtype, device: torch.device | str) -> Any:
    """`Gemma3ForConditionalGeneration` with the root's weights cast to `dtype` on `device`, eval mode, no grads."""
    from accelerate import init_empty_weights
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration

    _ = root.text_config  # validates model_type
    config = Gemma3Config.from_dict(root.config)
    with init_empty_weights():
        model = Gemma3ForConditionalGeneration(config)
    state: dict[str, torch.Tensor] = {}
    for key, tensor in _iter_shard_tensors(root.shards):
        state[key] = tensor.to(device=device, dtype=dtype if tensor.is_floating_point() else tensor.dtype)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    missing = sorted(set(expected) - set(state) - {_TIED})
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(
        f"{k} {tuple(t.shape)} vs {expected[k]}" for k, t in state.items() if expected.get(k, t.shape) != t.shape
    )
    parts = [
        f"{len(keys)} {what}: {_listing(keys)}"
        for what, keys in (("missing", missing), ("unexpected", unexpected), ("with wrong shape", wrong))
        if keys
    ]
    if parts:
        raise CheckpointError(f"{root.weights_dir}: Gemma weights do not fit its config.json; " + "; ".join(parts))
    state[_TIED] = state[_EMBED]
    model.load_state_dict(state, strict=True, assign=True)
    model.lm_head.weight = model.model.language_model.embed_tokens.weight
    model.to(device)
    model.eval().requires_grad_(False)
    return model


@dataclass
class GemmaTextEncoder:
    """Gemma model + tokenizer (+ image processor folder) for one encoding session."""

    model: Any
    tokenizer: Any
    root: GemmaRoot
    max_length: int = MAX_LENGTH
    offload: Any = None  # a LayerOffload when the decoder layers stream from RAM

    @property
    def device(self) -> torch.device:
        return self.model.model.language_model.embed_tokens.weight.device

    def tokenize(self, text: str) -> Tokens:
        return tokenize(self.tokenizer, text, self.max_length)

    @torch.inference_mode()
    def hidden_states(self, tokens: Tokens) -> tuple[torch.Tensor, ...]:
        """All L = layers + 1 hidden states (B, T, D); the last one is after the final norm (spec A.5).

        Positions are 0..T−1 over the padded sequence (no position ids passed), as in the official encoder.
        """
        out = self.model.model(
            input_ids=tokens.input_ids.to(self.device),
            attention_mask=tokens.attention_mask.to(self.device),
            output_hidden_states=True,
            use_cache=False,
        )
        return tuple(out.hidden_states)

    def encode(self, text: str) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        """Prompt → (hidden states, attention mask (1, T) int64)."""
        tokens = self.tokenize(text)
        return self.hidden_states(tokens), tokens.attention_mask

    def release(self) -> None:
        """Drop the weights (CPU and GPU) now; the object is unusable afterwards."""
        if self.offload is not None:
            self.offload.remove()
            self.offload = None
        self.model.to("meta")
        self.model = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def gemma_weight_bytes(root: GemmaRoot, dtype: torch.dtype) -> int:
    """Bytes of the weights we load, in `dtype` (from the shard headers only)."""
    total = 0
    for path in root.shards:
        for key, info in SafetensorsFile(path).tensors.items():
            if gemma_module_key(key) is not None:
                itemsize = dtype.itemsize if info.dtype.is_floating_point else info.dtype.itemsize
                total += info.nbytes // info.dtype.itemsize * itemsize
    return total


def load_gemma(
    root: str | Path | GemmaRoot,
    *,
    dtype: torch.dtype = torch.bfloat16,
    device: torch.device | str = "cpu",
    max_length: int = MAX_LENGTH,
    offload: str | None = "none",
    memory: Any = None,
) -> GemmaTextEncoder:
    """Gemma text encoder from a local root folder; never touches the network.

    `offload` (none / cpu / disk / auto, as the transformer's flag) may keep the decoder layers in RAM and stream
    them to `device` one at a time (`ltx_core.layer_offload`); the choice and its reason are logged. `memory`
    (a `MemoryInfo`) overrides the probe, for tests."""
    from ltx_core.offload import choose_text_encoder_offload, probe_memory

    gemma_root = root if isinstance(root, GemmaRoot) else find_gemma_root(root)
    tokenizer = load_tokenizer(gemma_root.tokenizer_dir, max_length)
    dev = torch.device(device)
    stream = False
    if offload not in (None, "none"):
        memory = memory if memory is not None else probe_memory(dev)
        stream, why = choose_text_encoder_offload(offload, gemma_weight_bytes(gemma_root, dtype), memory)
        logger.info("text encoder: %s (%s)", "decoder layers streamed from RAM" if stream else "resident", why)
    model = build_gemma_model(gemma_root, dtype=dtype, device="cpu" if stream else dev)
    encoder = GemmaTextEncoder(model, tokenizer, gemma_root, max_length)
    if stream:
        from ltx_core.layer_offload import offload_layers

        encoder.offload = offload_layers(model, model.model.language_model.layers, dev)
    return encoder
