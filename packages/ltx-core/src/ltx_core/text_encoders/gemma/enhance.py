"""Prompt enhancement: Gemma rewrites the positive prompt before encoding (spec A.13), deterministic per seed.

Image-to-video mode shows Gemma the first frame; it needs the root's image processor (`preprocessor_config.json`).
Without one, enhancement falls back to text-to-video mode with a warning (the request is still honoured).
"""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ltx_core.errors import InputError
from ltx_core.text_encoders.gemma.model import GemmaTextEncoder
from ltx_core.text_encoders.gemma.system_prompts import I2V_SYSTEM_PROMPT, T2V_SYSTEM_PROMPT

log = logging.getLogger(__name__)

MAX_NEW_TOKENS = 512
TEMPERATURE = 0.7
TOP_K = 50
TOP_P = 1.0
IMAGE_LONG_SIDE = 896
PAD_MULTIPLE = 8
_REPLACEMENTS = {"‘": "'", "’": "'", "′": "'", "“": '"', "”": '"', "—": "-", "–": "-", "−": "-", "\u00a0": " "}
_FIRST_ALPHA = re.compile(r"[^\W\d_]")


def clean_enhanced(text: str) -> str:
    """Typographic quotes/dashes → ASCII, NBSP → space, drop everything before the first letter (if any)."""
    for old, new in _REPLACEMENTS.items():
        text = text.replace(old, new)
    match = _FIRST_ALPHA.search(text)
    return text[match.start() :] if match else text


def t2v_messages(prompt: str) -> list[dict[str, Any]]:
    return [{"role": "system", "content": T2V_SYSTEM_PROMPT}, {"role": "user", "content": f"user prompt: {prompt}"}]


def i2v_messages(prompt: str) -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": I2V_SYSTEM_PROMPT},
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


def _pad_to_multiple(inputs: dict[str, torch.Tensor], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad input ids (pad id), attention mask and token types (0) to a multiple of 8 tokens."""
    n = inputs["input_ids"].shape[1]
    extra = (-n) % PAD_MULTIPLE
    if not extra:
        return inputs
    out = dict(inputs)
    for key, value in inputs.items():
        if key in ("input_ids", "attention_mask", "token_type_ids"):
            fill = pad_id if key == "input_ids" else 0
            out[key] = F.pad(value, (0, extra), value=fill)
    return out


def _processor(encoder: GemmaTextEncoder) -> Any:
    from transformers import AutoImageProcessor, Gemma3Processor

    image_processor = AutoImageProcessor.from_pretrained(str(encoder.root.image_processor_dir), local_files_only=True)
    seq_len = int(encoder.root.config.get("mm_tokens_per_image", 256))
    return Gemma3Processor(image_processor=image_processor, tokenizer=encoder.tokenizer, image_seq_length=seq_len)


def _eos_ids(encoder: GemmaTextEncoder) -> list[int]:
    ids = encoder.root.config.get("eos_token_id", encoder.tokenizer.eos_token_id)
    ids = list(ids) if isinstance(ids, list) else [ids]
    return [int(i) for i in ids if i is not None]


def enhance_prompt(
    encoder: GemmaTextEncoder,
    prompt: str,
    *,
    image: str | Path | None = None,
    seed: int = 42,
    max_new_tokens: int = MAX_NEW_TOKENS,
) -> str:
    """Rewrite `prompt` with Gemma (image-to-video when `image` is given). Same seed and inputs → same text."""
    tokenizer = encoder.tokenizer
    use_image = image is not None
    if use_image and encoder.root.image_processor_dir is None:
        warnings.warn(
            f"Gemma root {encoder.root.root} has no image processor (preprocessor_config.json); "
            "enhancing the prompt in text-to-video mode instead",
            stacklevel=2,
        )
        use_image = False
    messages = i2v_messages(prompt) if use_image else t2v_messages(prompt)
    rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    if use_image:
        pixels = load_enhance_image(image)  # type: ignore[arg-type]
        inputs = dict(_processor(encoder)(text=rendered, images=pixels, return_tensors="pt"))
    else:
        inputs = dict(tokenizer(rendered, return_tensors="pt"))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    inputs = _pad_to_multiple(inputs, pad_id)
    device = encoder.device
    inputs = {k: v.to(device) for k, v in inputs.items()}
    if "pixel_values" in inputs:
        inputs["pixel_values"] = inputs["pixel_values"].to(encoder.model.dtype)
    fork_devices = [device] if device.type == "cuda" else []
    with torch.inference_mode(), torch.random.fork_rng(devices=fork_devices, device_type=device.type):
        torch.manual_seed(seed)
        out = encoder.model.generate(
            **inputs,
            max_new_tokens=max_new_tokens,
            do_sample=True,
            temperature=TEMPERATURE,
            top_k=TOP_K,
            top_p=TOP_P,
            eos_token_id=_eos_ids(encoder),
            pad_token_id=pad_id,
        )
    new_tokens = out[0, inputs["input_ids"].shape[1] :]
    text = clean_enhanced(tokenizer.decode(new_tokens, skip_special_tokens=True))
    log.info("Enhanced prompt: %s", text)
    return text
