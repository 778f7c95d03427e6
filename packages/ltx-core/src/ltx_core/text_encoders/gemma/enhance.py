"""Prompt enhancement: a generative Gemma rewrites the positive prompt before encoding (spec A.13, gemma4_text_encoder
§9), deterministic per seed.

The enhancer is the Gemma 3 text encoder itself, or a separate model (`--prompt-enhancer-gemma-root`: a Gemma 3
folder or a dense Gemma-4 instruct model, folder or packed file; `enhancers.py`), which the LTX-2.5 text encoder
(Gemma-4 unified, encode only) needs. What differs by the enhancer's model type is data (`GENERATION`,
`SYSTEM_PROMPTS`); the procedure is one function, `rewrite`. Image-to-video mode shows the model the first frame; it
needs an image processor (Gemma 3: `preprocessor_config.json`; dense Gemma 4: its processor config and a vision
tower). Without one, enhancement falls back to text-to-video mode with a warning (the request is still honoured).
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ltx_core.errors import ConfigError, InputError
from ltx_core.text_encoders.gemma.model import GemmaTextEncoder
from ltx_core.text_encoders.gemma.system_prompts import (
    GEMMA4_I2V_SYSTEM_PROMPT,
    GEMMA4_T2V_SYSTEM_PROMPT,
    I2V_SYSTEM_PROMPT,
    T2V_SYSTEM_PROMPT,
)

log = logging.getLogger(__name__)

IMAGE_LONG_SIDE = 896
PAD_MULTIPLE = 8
_REPLACEMENTS = {"‘": "'", "’": "'", "′": "'", "“": '"', "”": '"', "—": "-", "–": "-", "−": "-", "\u00a0": " "}
_FIRST_ALPHA = re.compile(r"[^\W\d_]")


@dataclass(frozen=True)
class GenerationSettings:
    """How an enhancer of one model type generates (§9.2 step 5)."""

    sample: bool
    max_new_tokens: int
    temperature: float | None = None
    top_k: int | None = None
    top_p: float | None = None
    no_repeat_ngram_size: int | None = None

    def generate_kwargs(self, max_new_tokens: int | None) -> dict[str, Any]:
        out: dict[str, Any] = {"do_sample": self.sample, "max_new_tokens": max_new_tokens or self.max_new_tokens}
        if self.sample:
            out.update(temperature=self.temperature, top_k=self.top_k, top_p=self.top_p)
        if self.no_repeat_ngram_size is not None:
            out["no_repeat_ngram_size"] = self.no_repeat_ngram_size
        return out


GEMMA3_GENERATION = GenerationSettings(sample=True, max_new_tokens=512, temperature=0.7, top_k=50, top_p=1.0)
GEMMA4_GENERATION = GenerationSettings(sample=False, max_new_tokens=600, no_repeat_ngram_size=5)
GENERATION = {"gemma3": GEMMA3_GENERATION, "gemma4": GEMMA4_GENERATION}
SYSTEM_PROMPTS = {  # model type → (text-to-video, image-to-video)
    "gemma3": (T2V_SYSTEM_PROMPT, I2V_SYSTEM_PROMPT),
    "gemma4": (GEMMA4_T2V_SYSTEM_PROMPT, GEMMA4_I2V_SYSTEM_PROMPT),
}


def generation_settings(model_type: str, where: object) -> GenerationSettings:
    """The settings for an enhancer of `model_type`; a one-line ConfigError for a type that cannot enhance."""
    if model_type in GENERATION:
        return GENERATION[model_type]
    if model_type == "gemma4_unified":
        raise ConfigError(
            f"{where} is a Gemma-4 unified text encoder, which only encodes; prompt enhancement needs a Gemma 3 or a "
            "dense Gemma 4 instruct model (--prompt-enhancer-gemma-root)"
        )
    raise ConfigError(f"{where}: cannot enhance prompts with model_type {model_type!r}; supported: gemma3, gemma4")


@dataclass
class Enhancer:
    """A generative Gemma ready to rewrite prompts: the HF `...ForConditionalGeneration` model, its tokenizer (with
    a chat template), its model type, and how to build its image processor (None: text-to-video only)."""

    model: Any
    tokenizer: Any
    model_type: str
    where: object  # the path, for messages
    processor: Callable[[], Any] | None = None
    eos_ids: tuple[int, ...] = ()
    release_fn: Callable[[], None] | None = None

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def release(self) -> None:
        """Drop the weights now (a separate enhancer is freed before the encoder is built)."""
        if self.release_fn is not None:
            self.release_fn()
        else:
            self.model.to("meta")
        self.model = None


def clean_enhanced(text: str) -> str:
    """Typographic quotes/dashes → ASCII, NBSP → space, drop everything before the first letter (if any)."""
    for old, new in _REPLACEMENTS.items():
        text = text.replace(old, new)
    match = _FIRST_ALPHA.search(text)
    return text[match.start() :] if match else text


def t2v_messages(prompt: str, system: str = T2V_SYSTEM_PROMPT) -> list[dict[str, Any]]:
    return [{"role": "system", "content": system}, {"role": "user", "content": f"user prompt: {prompt}"}]


def i2v_messages(prompt: str, system: str = I2V_SYSTEM_PROMPT) -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": system},
        {
            "role": "user",
            "content": [{"type": "image"}, {"type": "text", "text": f"User Raw Input Prompt: {prompt}."}],
        },
    ]


def load_enhance_image(path: str | Path) -> torch.Tensor:
    """Image file → (H', W', 3) uint8 with the long side resized to 896 (bilinear), as the official pre-processing."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            arr = np.asarray(img.convert("RGBA") if img.mode in ("P", "LA") else img)
    except (OSError, UnidentifiedImageError):
        raise InputError(f"cannot read the image for prompt enhancement: {path}") from None
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    x = torch.from_numpy(arr[..., :3].copy()).permute(2, 0, 1)[None].float()
    h, w = x.shape[-2:]
    s = IMAGE_LONG_SIDE / max(h, w)
    size = (int(h * s), int(w * s))
    x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    return x.round().clamp(0, 255).to(torch.uint8)[0].permute(1, 2, 0).contiguous()


def pad_to_multiple(inputs: dict[str, torch.Tensor], pad_id: int, *, left: bool) -> dict[str, torch.Tensor]:
    """Pad input ids (pad id), attention mask and token types (0) to a multiple of 8 tokens: prepended (1.2.0,
    delta A.7.5) or appended (1.1.3)."""
    n = inputs["input_ids"].shape[1]
    extra = (-n) % PAD_MULTIPLE
    if not extra:
        return inputs
    out = dict(inputs)
    for key, value in inputs.items():
        if key in ("input_ids", "attention_mask", "token_type_ids", "mm_token_type_ids"):
            fill = pad_id if key == "input_ids" else 0
            out[key] = F.pad(value, (extra, 0) if left else (0, extra), value=fill)
    return out


def rewrite(
    enhancer: Enhancer,
    prompt: str,
    *,
    image: str | Path | None = None,
    seed: int = 42,
    max_new_tokens: int | None = None,
    static_cache: bool = False,
    left_pad: bool = True,
) -> str:
    """Rewrite `prompt` with the enhancer (image-to-video when `image` is given and the enhancer can see images).
    Same seed and inputs → same text. `max_new_tokens` None: the model type's default."""
    settings = generation_settings(enhancer.model_type, enhancer.where)
    t2v_system, i2v_system = SYSTEM_PROMPTS[enhancer.model_type]
    tokenizer = enhancer.tokenizer
    use_image = image is not None
    if use_image and enhancer.processor is None:
        warnings.warn(
            f"the prompt enhancer {enhancer.where} cannot read images (no image processor or vision tower); "
            "enhancing the prompt in text-to-video mode instead",
            stacklevel=2,
        )
        use_image = False
    messages = i2v_messages(prompt, i2v_system) if use_image else t2v_messages(prompt, t2v_system)
    rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    if use_image:
        pixels = load_enhance_image(image)  # type: ignore[arg-type]
        inputs = dict(enhancer.processor()(text=rendered, images=pixels, return_tensors="pt"))  # type: ignore[misc]
    else:
        inputs = dict(tokenizer(rendered, return_tensors="pt"))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    inputs = pad_to_multiple(inputs, pad_id, left=left_pad)
    device = enhancer.device
    inputs = {k: v.to(device) for k, v in inputs.items()}
    if "pixel_values" in inputs:
        inputs["pixel_values"] = inputs["pixel_values"].to(next(enhancer.model.parameters()).dtype)
    kwargs = settings.generate_kwargs(max_new_tokens)
    if static_cache:
        kwargs["cache_implementation"] = "static"
    if enhancer.eos_ids:
        kwargs["eos_token_id"] = list(enhancer.eos_ids)
    fork_devices = [device] if device.type == "cuda" else []
    with torch.inference_mode(), torch.random.fork_rng(devices=fork_devices, device_type=device.type):
        torch.manual_seed(seed)
        out = enhancer.model.generate(**inputs, pad_token_id=pad_id, **kwargs)
    new_tokens = out[0, inputs["input_ids"].shape[1] :]
    text = clean_enhanced(tokenizer.decode(new_tokens, skip_special_tokens=True))
    log.info("Enhanced prompt: %s", text)
    return text


def _gemma3_processor(encoder: GemmaTextEncoder) -> Any:
    from transformers import AutoImageProcessor, Gemma3Processor

    image_processor = AutoImageProcessor.from_pretrained(str(encoder.root.image_processor_dir), local_files_only=True)
    seq_len = int(encoder.root.config.get("mm_tokens_per_image", 256))
    return Gemma3Processor(image_processor=image_processor, tokenizer=encoder.tokenizer, image_seq_length=seq_len)


def _eos_ids(encoder: GemmaTextEncoder) -> tuple[int, ...]:
    ids = encoder.root.config.get("eos_token_id", encoder.tokenizer.eos_token_id)
    ids = list(ids) if isinstance(ids, list) else [ids]
    return tuple(int(i) for i in ids if i is not None)


def gemma3_enhancer(encoder: GemmaTextEncoder) -> Enhancer:
    """The Gemma 3 text encoder seen as an enhancer (it encodes and enhances with the same weights)."""
    processor = None if encoder.root.image_processor_dir is None else (lambda: _gemma3_processor(encoder))
    return Enhancer(encoder.model, encoder.tokenizer, "gemma3", encoder.root.root, processor, _eos_ids(encoder))


def enhance_prompt(encoder: GemmaTextEncoder, prompt: str, **options: Any) -> str:
    """Rewrite `prompt` with the Gemma 3 text encoder itself; `options` as `rewrite`'s."""
    return rewrite(gemma3_enhancer(encoder), prompt, **options)
