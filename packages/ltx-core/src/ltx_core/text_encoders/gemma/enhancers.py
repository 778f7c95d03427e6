"""A separate prompt enhancer (`--prompt-enhancer-gemma-root`, gemma4_text_encoder.md §9.1): a Gemma 3 folder or a
dense Gemma-4 instruct model (folder or packed file, §2), built for the rewrite and freed before the text encoder.

The dense Gemma 4 is transformers' `Gemma4ForConditionalGeneration`, built on meta from the file's config (its
rotary tables and embedding scales are computed for real by transformers: only parameters are empty), filled strictly
from the weights in the HF layout (§5.2 dense: `model.language_model.*`, `model.vision_tower.*`, ...; the LM head is
tied to the token embedding): missing, unexpected or misshapen tensors are one line, where the official loads
non-strictly and leaves them uninitialised.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import torch

from ltx_core.errors import CheckpointError, ConfigError
from ltx_core.loader import Checkpoint
from ltx_core.text_encoders.gemma.assets import TextEncoderAssets, read_text_encoder_assets, text_encoder_model_type
from ltx_core.text_encoders.gemma.enhance import Enhancer, gemma3_enhancer, generation_settings
from ltx_core.text_encoders.gemma.model import _EMBED, _TIED, weights_fit_problems

DENSE_GEMMA4_TRANSFORMERS = "5.10.1"  # the first release with the Gemma 4 classes
_PROMPT_TOKENS = 1 << 20
_SUB_PROCESSOR_FALLBACKS = {  # §3.4: the sidecar read when processor_config.json has no nested object
    "image_processor": ("preprocessor_config.json",),
    "feature_extractor": ("preprocessor_config.json",),
    "video_processor": ("video_preprocessor_config.json", "preprocessor_config.json"),
}


def load_enhancer(path: str | Path, *, dtype: torch.dtype = torch.bfloat16, device: torch.device | str = "cpu") -> Any:
    """The enhancer at `path` by the model type its config declares: gemma3 (folder) or gemma4 (dense instruct;
    folder or packed file). Any other type, a Gemma-4 unified encoder included, is a one-line ConfigError."""
    path = Path(path)
    model_type = text_encoder_model_type(path)
    generation_settings(model_type, path)  # refuses the types that cannot enhance, before any weight is read
    if model_type == "gemma3":
        from ltx_core.text_encoders.gemma.model import load_gemma
        from ltx_core.text_encoders.gemma.root import find_gemma_root

        if path.is_file():
            raise ConfigError(f"{path}: a packed Gemma 3 file is not supported as an enhancer; pass the Gemma 3 folder")
        encoder = load_gemma(find_gemma_root(path), dtype=dtype, device=device)
        enhancer = gemma3_enhancer(encoder)
        enhancer.release_fn = encoder.release
        return enhancer
    return load_dense_gemma4(read_text_encoder_assets(path), dtype=dtype, device=device)


def dense_gemma4_keys(assets: TextEncoderAssets) -> dict[str, tuple[Any, str]]:
    """Module key → (file, key) for every weight of the dense layout (keys outside `model.` are never read)."""
    index: dict[str, tuple[Any, str]] = {}
    for f in Checkpoint(list(assets.weight_files)).files:
        for key in f.keys():
            if key.startswith("model."):
                index[key] = (f, key)
    return index


def _check_fits(assets: TextEncoderAssets, index: dict[str, tuple[Any, str]], model: torch.nn.Module) -> None:
    if parts := weights_fit_problems(index, model, _TIED):
        raise CheckpointError(f"{assets.root}: the Gemma 4 weights do not fit its config; " + "; ".join(parts))


def _chat_template(assets: TextEncoderAssets) -> str | None:
    """§3.3 step 2: `chat_template.jinja`, else `chat_template.json` (a string or {"chat_template": str})."""
    if "chat_template.jinja" in assets.sidecars:
        return assets.sidecars["chat_template.jinja"].decode("utf-8")
    if "chat_template.json" in assets.sidecars:
        import json

        data = json.loads(assets.sidecars["chat_template.json"])
        return data if isinstance(data, str) else data.get("chat_template")
    return None


def _sub_processor(assets: TextEncoderAssets, attribute: str, cls: Any, config: dict[str, Any]) -> Any:
    """`cls.from_dict(config)`. transformers' video processors need torchvision, which this stack does not install:
    without it the video processor (never called: enhancement passes one image, no video) is transformers' generic
    `VideoProcessorMixin` holding the same config, so the processor can still be built."""
    try:
        return cls.from_dict(config)
    except ImportError as exc:
        if attribute == "video_processor":
            from transformers.video_processing_utils import VideoProcessorMixin

            return VideoProcessorMixin.from_dict(config)
        reason = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        raise ConfigError(f"{assets.root}: cannot build the {attribute} {cls.__name__} ({reason})") from None


def _accepting_generic_video(cls: Any) -> Any:
    """`cls` whose constructor accepts the generic video processor of `_sub_processor`: without torchvision
    transformers has no video processor class to check one against, and refuses any."""
    from transformers.video_processing_utils import VideoProcessorMixin

    def check_argument_for_proper_class(self: Any, argument_name: str, argument: Any) -> Any:
        if argument_name == "video_processor" and type(argument) is VideoProcessorMixin:
            return VideoProcessorMixin
        return cls.check_argument_for_proper_class(self, argument_name, argument)

    namespace = {"check_argument_for_proper_class": check_argument_for_proper_class, "__module__": cls.__module__}
    return type(cls.__name__, (cls,), namespace)


def _processor_factory(assets: TextEncoderAssets, tokenizer: Any, model: Any) -> Any:
    """How to build the image-to-video processor (§3.4), or None when the model has no vision tower or the files
    declare no processor: enhancement then runs in text-to-video mode (with a warning)."""
    if getattr(model.config, "vision_config", None) is None or "processor_config.json" not in assets.sidecars:
        return None

    def build() -> Any:
        import transformers

        config = dict(assets.sidecar_json("processor_config.json"))
        name = config.pop("processor_class", None)
        cls = getattr(transformers, str(name), None)
        if cls is None or not hasattr(cls, "get_attributes"):
            raise ConfigError(f"{assets.root}: processor_config.json names no transformers processor ({name!r})")
        parts: dict[str, Any] = {}
        for attribute in cls.get_attributes():
            if attribute == "tokenizer":
                continue
            sub = config.pop(attribute, None)
            for sidecar in _SUB_PROCESSOR_FALLBACKS.get(attribute, ()):
                if sub is None and sidecar in assets.sidecars:
                    sub = assets.sidecar_json(sidecar)
            kind = (sub or {}).get(f"{attribute}_type")
            if not kind:
                raise ConfigError(f"{assets.root}: no {attribute} config with an {attribute}_type for the processor")
            pil = getattr(transformers, f"{kind}Pil", None) if attribute == "image_processor" else None
            sub_cls = pil or getattr(transformers, str(kind), None)
            if sub_cls is None:
                raise ConfigError(f"{assets.root}: {attribute}_type {kind!r} is not a transformers class")
            parts[attribute] = _sub_processor(assets, attribute, sub_cls, sub)
        from transformers.video_processing_utils import VideoProcessorMixin

        if type(parts.get("video_processor")) is VideoProcessorMixin:
            cls = _accepting_generic_video(cls)
        return cls(tokenizer=tokenizer, **parts, **config)

    return build


def load_dense_gemma4(
    assets: TextEncoderAssets, *, dtype: torch.dtype = torch.bfloat16, device: torch.device | str = "cpu"
) -> Enhancer:
    """A dense Gemma-4 instruct model as an enhancer (greedy, `no_repeat_ngram_size` 5, 600 tokens; §9.2)."""
    from accelerate import init_empty_weights

    try:
        from transformers import Gemma4Config, Gemma4ForConditionalGeneration
    except ImportError:
        import transformers

        raise ConfigError(
            f"{assets.root}: a dense Gemma 4 enhancer needs transformers {DENSE_GEMMA4_TRANSFORMERS} or newer "
            f"(installed: {transformers.__version__})"
        ) from None

    from ltx_core.text_encoders.gemma.gemma4 import load_gemma4_tokenizer

    try:
        config = Gemma4Config.from_dict(assets.config)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{assets.root}: not a Gemma 4 config ({exc})") from None
    with init_empty_weights():
        model = Gemma4ForConditionalGeneration(config)
    index = dense_gemma4_keys(assets)
    _check_fits(assets, index, model)
    state: dict[str, torch.Tensor] = {}
    for key, (f, file_key) in index.items():
        tensor = f.read(file_key)
        state[key] = tensor.to(device=device, dtype=dtype if tensor.is_floating_point() else tensor.dtype)
    state[_TIED] = state[_EMBED]
    model.load_state_dict(state, strict=True, assign=True)
    model.lm_head.weight = model.model.language_model.embed_tokens.weight
    model.to(device).eval().requires_grad_(False)
    tokenizer = load_gemma4_tokenizer(assets, max_length=_PROMPT_TOKENS)  # the chat prompt is not truncated
    template = _chat_template(assets)
    if template is not None and not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = template
    if not getattr(tokenizer, "chat_template", None):
        raise CheckpointError(f"{assets.root}: the enhancer has no chat template (chat_template.jinja)")
    eos = config.text_config.eos_token_id
    eos_ids = tuple(int(i) for i in (eos if isinstance(eos, list) else [eos]) if i is not None)

    def release() -> None:
        model.to("meta")
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    return Enhancer(
        model, tokenizer, "gemma4", assets.root, _processor_factory(assets, tokenizer, model), eos_ids, release
    )
