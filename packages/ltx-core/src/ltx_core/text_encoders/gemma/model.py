"""Gemma 3 from a local root folder: built on meta from its own config.json, filled from the shards, offline.

We do not use `from_pretrained`: the official shards use the original Google layout (`language_model.model.*`),
the folder need not carry an index file, and we want strict, one-line errors. Parameters are created on meta
(`accelerate.init_empty_weights`), buffers (rotary tables, embedding scale, vision position ids) are built for real
by transformers itself, then each shard tensor is read, cast and assigned.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Sequence
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
_PLACEMENT_TEXT = {
    "resident": "resident",
    "ram": "decoder layers kept in RAM, uploaded one at a time",
    "disk": "decoder layers read from the shards one at a time",
}


def gemma_module_key(shard_key: str) -> str | None:
    """Module name for a shard key, or None for keys we do not load (the tied LM head, unrelated tensors)."""
    for src, dst in _KEY_PREFIXES:
        if shard_key.startswith(src):
            return dst + shard_key[len(src) :]
    return None


_LAYERS = "model.language_model.layers."


ShardIndex = dict[str, tuple[SafetensorsFile, str]]  # module key → (shard file, shard key)


def shard_index(shards: tuple[Path, ...]) -> ShardIndex:
    """Module key → (shard file, shard key) for every tensor we load, from the headers only (parsed once)."""
    index: ShardIndex = {}
    for path in shards:
        f = SafetensorsFile(path)
        for key in f.keys():
            module_key = gemma_module_key(key)
            if module_key is not None:
                index[module_key] = (f, key)
    return index


def _listing(keys: list[str]) -> str:
    keys = sorted(keys)
    return ", ".join(keys[:_SHOW]) + (f" (+{len(keys) - _SHOW} more)" if len(keys) > _SHOW else "")


def weights_fit_problems(index: ShardIndex, model: Any, tied: str = _TIED) -> list[str]:
    """What keeps the file tensors in `index` (module key → (file, key)) from loading strictly into `model`: "N
    missing: ...", "N unexpected: ...", "N with wrong shape: ..." (empty when they fit; the tied head may be absent)."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    shapes = {k: tuple(f.tensors[key].shape) for k, (f, key) in index.items()}
    missing = sorted(set(expected) - set(shapes) - {tied})
    unexpected = sorted(set(shapes) - set(expected))
    wrong = sorted(f"{k} {s} vs {expected[k]}" for k, s in shapes.items() if expected.get(k, s) != s)
    return [
        f"{len(keys)} {what}: {_listing(keys)}"
        for what, keys in (("missing", missing), ("unexpected", unexpected), ("with wrong shape", wrong))
        if keys
    ]


def _check_fits(root: GemmaRoot, index: ShardIndex, model: Any) -> None:
    if parts := weights_fit_problems(index, model):
        raise CheckpointError(f"{root.weights_dir}: Gemma weights do not fit its config.json; " + "; ".join(parts))


def build_gemma_model(
    root: GemmaRoot,
    *,
    dtype: torch.dtype,
    device: torch.device | str,
    lazy_layers: bool = False,
    index: ShardIndex | None = None,
) -> Any:
    """`Gemma3ForConditionalGeneration` with the root's weights cast to `dtype` on `device`, eval mode, no grads.

    With `lazy_layers` the decoder layers' weights are not read (they stay on meta, for a `GemmaLayerReader`);
    the fit of every shard tensor to the config is checked from the headers either way. `index` saves re-reading
    the shard headers when the caller already has them."""
    from accelerate import init_empty_weights
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration

    _ = root.text_config  # validates model_type
    config = Gemma3Config.from_dict(root.config)
    with init_empty_weights():
        model = Gemma3ForConditionalGeneration(config)
    index = shard_index(root.shards) if index is None else index
    _check_fits(root, index, model)
    state: dict[str, torch.Tensor] = {}
    in_file_order = sorted(index.items(), key=lambda kv: (str(kv[1][0].path), kv[1][0].tensors[kv[1][1]].start))
    for key, (f, shard_key) in in_file_order:  # sequential reads
        if lazy_layers and key.startswith(_LAYERS):
            continue
        tensor = f.read(shard_key)
        state[key] = tensor.to(device=device, dtype=dtype if tensor.is_floating_point() else tensor.dtype)
    state[_TIED] = state[_EMBED]
    model.load_state_dict(state, strict=not lazy_layers, assign=True)
    model.lm_head.weight = model.model.language_model.embed_tokens.weight
    if lazy_layers:
        layers = model.model.language_model.layers
        model.model.language_model.layers = torch.nn.ModuleList()
        model.to(device)
        model.model.language_model.layers = layers
    else:
        model.to(device)
    model.eval().requires_grad_(False)
    return model


class GemmaLayerReader:
    """Decoder layer i's weights read from the shards on demand, cast to `dtype` (the "disk" placement)."""

    def __init__(self, index: ShardIndex, dtype: torch.dtype) -> None:
        self.dtype = dtype
        self.layers: dict[int, dict[str, tuple[SafetensorsFile, str]]] = {}
        for key, source in index.items():
            if key.startswith(_LAYERS):
                index, _, name = key[len(_LAYERS) :].partition(".")
                self.layers.setdefault(int(index), {})[name] = source

    def __call__(self, index: int) -> dict[str, torch.Tensor]:
        out = {}
        for name, (f, key) in self.layers[index].items():
            tensor = f.read(key)
            out[name] = tensor.to(self.dtype) if tensor.is_floating_point() else tensor
        return out


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

    def tokenize(self, text: str, *, ensure_bos: bool = False) -> Tokens:
        return tokenize(self.tokenizer, text, self.max_length, ensure_bos=ensure_bos)

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

    def encode_together(self, texts: Sequence[str]) -> list[tuple[tuple[torch.Tensor, ...], torch.Tensor]]:
        """Prompts → (hidden states, mask) per prompt, from ONE forward over the stacked prompts, with the BOS
        guaranteed (the official 1.2.0, spec delta A.7.1–A.7.2: the same values as one forward per prompt, checked
        bitwise on the CPU; one weight pass instead of N)."""
        tokens = [self.tokenize(text, ensure_bos=True) for text in texts]
        stacked = Tokens(torch.cat([t.input_ids for t in tokens]), torch.cat([t.attention_mask for t in tokens]))
        states = self.hidden_states(stacked)
        return [(tuple(h[i : i + 1] for h in states), t.attention_mask) for i, t in enumerate(tokens)]

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


def gemma_weight_bytes(index: ShardIndex, dtype: torch.dtype) -> int:
    """Bytes of the weights we load, in `dtype` (from the shard headers only)."""
    total = 0
    for f, key in index.values():
        info = f.tensors[key]
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

    `offload` (none / cpu / disk / auto, as the transformer's flag) may keep the decoder layers in RAM, or read
    them from the shards, and upload them to `device` one at a time (`ltx_core.offload.gemma_layers`); the choice
    and its reason are logged. `memory` (a `MemoryInfo`) overrides the probe, for tests."""
    from ltx_core.offload.policy import choose_text_encoder_offload, probe_memory

    gemma_root = root if isinstance(root, GemmaRoot) else find_gemma_root(root)
    tokenizer = load_tokenizer(gemma_root.tokenizer_dir, max_length)
    dev = torch.device(device)
    index = shard_index(gemma_root.shards)
    placement = "resident"
    if offload not in (None, "none"):
        memory = memory if memory is not None else probe_memory(dev)
        placement, why = choose_text_encoder_offload(offload, gemma_weight_bytes(index, dtype), memory)
        logger.info("text encoder (Gemma): %s (%s)", _PLACEMENT_TEXT[placement], why)
    build_device = torch.device("cpu") if placement == "ram" else dev
    model = build_gemma_model(
        gemma_root, dtype=dtype, device=build_device, lazy_layers=placement == "disk", index=index
    )
    encoder = GemmaTextEncoder(model, tokenizer, gemma_root, max_length)
    layers = model.model.language_model.layers
    if placement == "ram":
        from ltx_core.offload.gemma_layers import offload_layers

        encoder.offload = offload_layers(model, layers, dev)
    elif placement == "disk":
        from ltx_core.offload.gemma_layers import LayerOffload

        encoder.offload = LayerOffload(list(layers), dev, source=GemmaLayerReader(index, dtype))
    return encoder
