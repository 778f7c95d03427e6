"""Gemma-4 unified text encoder: weight layouts, loading (resident or with streamed layers), tokenizer, encoding.

Two weight layouts exist (gemma4_text_encoder.md §5): HF names (`model.language_model.*`, the HF folder and the
`gemma4_te_*_hf` packs) and the packer's default Comfy-flat names (`model.layers.*`, `model.embed_tokens.*`,
`model.norm.*`). The layout is detected per §5.1: the first weight file holding the Comfy marker key decides
Comfy-flat, the first holding any `model.language_model.*` key decides HF, none decides HF. Only the language model
is built (encoding never runs the vision / audio embedders, §6): their tensors are not read. Loading is strict on
the language model: a missing or unexpected tensor, or one of another shape, is a one-line CheckpointError.
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
from ltx_core.loader import Checkpoint, KeyMap
from ltx_core.loader.builder import build_meta, check_fits
from ltx_core.text_encoders.gemma.assets import TextEncoderAssets, read_text_encoder_assets
from ltx_core.text_encoders.gemma.gemma4_config import gemma4_text_config
from ltx_core.text_encoders.gemma.gemma4_model import Gemma4TextModel
from ltx_core.text_encoders.gemma.tokenizer import MAX_LENGTH, Tokens, tokenize

logger = logging.getLogger(__name__)

COMFY_MARKER = "model.layers.0.post_feedforward_layernorm.weight"
HF_PREFIX = "model.language_model."
HF_KEY_MAP = KeyMap(name="gemma4_hf", prefixes=(HF_PREFIX,), strip=HF_PREFIX)
_COMFY_RENAMES = (("model.layers.", "layers."), ("model.embed_tokens.", "embed_tokens."), ("model.norm.", "norm."))
COMFY_KEY_MAP = KeyMap(
    name="gemma4_comfy_flat", prefixes=tuple(src for src, _ in _COMFY_RENAMES), replacements=_COMFY_RENAMES
)
LAYERS = "layers."
COMPONENT = "Gemma-4 text model"
# tokenizer_config.json keys the official does not pass to the tokenizer (§3.3).
_TOKENIZER_SKIP = (
    "tokenizer_class",
    "auto_map",
    "model_max_length",
    "backend",
    "is_local",
    "local_files_only",
    "processor_class",
    "added_tokens_decoder",
)


def detect_layout(checkpoint: Checkpoint) -> str:
    """ "comfy_flat" or "hf", by §5.1 (file by file, first decisive file wins; none → "hf")."""
    for f in checkpoint.files:
        keys = f.tensors
        if COMFY_MARKER in keys:
            return "comfy_flat"
        if any(k.startswith(HF_PREFIX) for k in keys):
            return "hf"
    return "hf"


def layout_key_map(layout: str) -> KeyMap:
    return COMFY_KEY_MAP if layout == "comfy_flat" else HF_KEY_MAP


def load_gemma4_tokenizer(assets: TextEncoderAssets, max_length: int = MAX_LENGTH) -> Any:
    """A fast tokenizer from the tokenizer.json bytes and tokenizer_config.json (§3.3): left padding, pad = EOS when
    the tokenizer has none. No chat template: it serves only enhancement."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    kwargs = {k: v for k, v in assets.sidecar_json("tokenizer_config.json").items() if k not in _TOKENIZER_SKIP}
    try:
        backend = Tokenizer.from_buffer(assets.tokenizer_json)
        tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, model_max_length=max_length, **kwargs)
    except Exception as exc:  # tokenizers raises plain Exceptions on a bad JSON
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{assets.root}: cannot build the Gemma tokenizer ({first})") from None
    tokenizer.model_max_length = max_length
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


@dataclass(frozen=True)
class Gemma4Weights:
    """The weight files seen as one checkpoint, their layout, and module name → file key for the language model."""

    checkpoint: Checkpoint
    layout: str
    selected: dict[str, str]

    @classmethod
    def of(cls, assets: TextEncoderAssets) -> Gemma4Weights:
        ckpt = Checkpoint(list(assets.weight_files))
        layout = detect_layout(ckpt)
        return cls(ckpt, layout, layout_key_map(layout).select(ckpt.keys()))

    def nbytes(self, dtype: torch.dtype) -> int:
        """Bytes of the language-model weights in `dtype` (headers only)."""
        total = 0
        for src in self.selected.values():
            info = self.checkpoint.info(src)
            size = dtype.itemsize if info.dtype.is_floating_point else info.dtype.itemsize
            total += info.nbytes // info.dtype.itemsize * size
        return total

    def read(self, names: Sequence[str], dtype: torch.dtype, device: torch.device) -> dict[str, torch.Tensor]:
        """Module name → tensor, cast to `dtype` (floating point only) on `device`, read in file order."""
        source_to_name = {self.selected[n]: n for n in names}
        out: dict[str, torch.Tensor] = {}
        for src, tensor in self.checkpoint.iter_tensors(list(source_to_name)):
            cast = tensor.to(dtype) if tensor.is_floating_point() else tensor
            out[source_to_name[src]] = cast.to(device)
        return out


class Gemma4LayerReader:
    """Decoder layer i's weights read from the files on demand, cast to `dtype` (the "disk" placement)."""

    def __init__(self, weights: Gemma4Weights, dtype: torch.dtype) -> None:
        self.weights, self.dtype = weights, dtype
        self.layers: dict[int, list[str]] = {}
        for name in weights.selected:
            if name.startswith(LAYERS):
                index = int(name[len(LAYERS) :].partition(".")[0])
                self.layers.setdefault(index, []).append(name)

    def __call__(self, index: int) -> dict[str, torch.Tensor]:
        prefix = f"{LAYERS}{index}."
        state = self.weights.read(self.layers[index], self.dtype, torch.device("cpu"))
        return {name[len(prefix) :]: tensor for name, tensor in state.items()}


def build_gemma4_model(
    assets: TextEncoderAssets,
    *,
    dtype: torch.dtype,
    device: torch.device | str,
    lazy_layers: bool = False,
    weights: Gemma4Weights | None = None,
) -> Gemma4TextModel:
    """The text model on `device` in `dtype` (floating-point tensors cast, as the official casts the whole state
    dict), eval mode, no grads. With `lazy_layers` the decoder layers stay on meta (for a `Gemma4LayerReader`); the fit
    of every tensor is checked from the headers either way."""
    config = gemma4_text_config(assets.config, assets.root)
    weights = Gemma4Weights.of(assets) if weights is None else weights
    model = build_meta(lambda: Gemma4TextModel(config))
    assert isinstance(model, Gemma4TextModel)
    check_fits(weights.checkpoint, weights.selected, model.state_dict(), f"{COMPONENT} ({weights.layout} layout)")
    names = [n for n in weights.selected if not (lazy_layers and n.startswith(LAYERS))]
    dev = torch.device(device)
    model.load_state_dict(weights.read(names, dtype, dev), strict=not lazy_layers, assign=True)
    model.eval().requires_grad_(False)
    return model


@dataclass
class Gemma4TextEncoder:
    """Gemma-4 unified model + tokenizer for one encoding session (the `GemmaTextEncoder` interface)."""

    model: Any
    tokenizer: Any
    root: TextEncoderAssets
    max_length: int = MAX_LENGTH
    offload: Any = None  # a LayerOffload when the decoder layers stream

    @property
    def device(self) -> torch.device:
        return self.model.embed_tokens.weight.device

    def tokenize(self, text: str, *, ensure_bos: bool = True) -> Tokens:
        """Always BOS-ensured: the Gemma-4 tokenizer does not emit one itself (§4)."""
        del ensure_bos
        return tokenize(self.tokenizer, text, self.max_length, ensure_bos=True)

    @torch.inference_mode()
    def hidden_states(self, tokens: Tokens) -> tuple[torch.Tensor, ...]:
        """The L + 1 hidden states (B, T, D), the last after the final norm (§6)."""
        return tuple(self.model(tokens.input_ids.to(self.device), tokens.attention_mask.to(self.device)))

    def encode(self, text: str) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        tokens = self.tokenize(text)
        return self.hidden_states(tokens), tokens.attention_mask

    def encode_together(self, texts: Sequence[str]) -> list[tuple[tuple[torch.Tensor, ...], torch.Tensor]]:
        """All prompts in one forward, sliced back per prompt in order (§4)."""
        tokens = [self.tokenize(text) for text in texts]
        stacked = Tokens(torch.cat([t.input_ids for t in tokens]), torch.cat([t.attention_mask for t in tokens]))
        states = self.hidden_states(stacked)
        return [(tuple(h[i : i + 1] for h in states), t.attention_mask) for i, t in enumerate(tokens)]

    def release(self) -> None:
        if self.offload is not None:
            self.offload.remove()
            self.offload = None
        self.model.to("meta")
        self.model = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def _move_except_layers(model: Gemma4TextModel, device: torch.device) -> None:
    layers = model.layers
    model.layers = torch.nn.ModuleList()
    try:
        model.to(device)
    finally:
        model.layers = layers


def load_gemma4(
    path: str | Path | TextEncoderAssets,
    *,
    dtype: torch.dtype = torch.bfloat16,
    device: torch.device | str = "cpu",
    max_length: int = MAX_LENGTH,
    offload: str | None = "none",
    memory: Any = None,
) -> Gemma4TextEncoder:
    """The Gemma-4 unified text encoder from a folder or a packed file; `offload` as `load_gemma` (the decoder
    layers kept in RAM or read from the files, uploaded one at a time; bitwise the resident results)."""
    from ltx_core.offload.gemma_layers import LayerOffload, offload_layers
    from ltx_core.offload.policy import choose_text_encoder_offload, probe_memory

    assets = path if isinstance(path, TextEncoderAssets) else read_text_encoder_assets(path)
    tokenizer = load_gemma4_tokenizer(assets, max_length)
    dev = torch.device(device)
    weights = Gemma4Weights.of(assets)
    placement = "resident"
    if offload not in (None, "none"):
        memory = memory if memory is not None else probe_memory(dev)
        placement, why = choose_text_encoder_offload(offload, weights.nbytes(dtype), memory)
        logger.info("text encoder (Gemma 4): %s (%s)", placement, why)
    build_device = torch.device("cpu") if placement == "ram" else dev
    model = build_gemma4_model(
        assets, dtype=dtype, device=build_device, lazy_layers=placement == "disk", weights=weights
    )
    encoder = Gemma4TextEncoder(model, tokenizer, assets, max_length)
    if placement == "ram":
        encoder.offload = offload_layers(model, model.layers, dev)
    elif placement == "disk":
        _move_except_layers(model, dev)
        encoder.offload = LayerOffload(list(model.layers), dev, source=Gemma4LayerReader(weights, dtype))
    return encoder
