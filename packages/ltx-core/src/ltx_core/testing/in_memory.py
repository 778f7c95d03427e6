"""A checkpoint made of modules in memory, for pipeline tests that read no checkpoint file.

`InMemoryModels` is a `Checkpoint` (its config, metadata and name answer the pipelines' metadata questions: latent
widths, distilled-name checks) and a model source (`build(component, dtype=, device=, **options)`, the protocol of
`ltx_core.loader.sources.ModelSource`): wherever a pipeline takes a checkpoint or upsampler path, a test
passes it and every block builds its model from the given modules. Each build is a copy, because blocks free the
models they built (moved to meta) after use. `tiny_in_memory_models(version, seed)` makes the random tiny modules
from the same configs as the tiny checkpoint files (`tiny_checkpoints`).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ltx_core.loader import Checkpoint, LoraSpec


class InMemoryModels(Checkpoint):
    """Modules by component name, with the checkpoint `config` they were made from; `name` stands for the file name
    (the pipelines' distilled/dev checks read it)."""

    def __init__(
        self,
        config: dict[str, Any],
        modules: Mapping[str, nn.Module],
        *,
        name: str = "in-memory.safetensors",
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        self.files = []
        self._owners = {}
        self._config = config
        self._metadata = {"config": json.dumps(config), **(metadata or {})}
        self._modules = dict(modules)
        self._name = name

    def renamed(self, name: str) -> InMemoryModels:
        """The same modules under another file name (e.g. `dev.safetensors` for the guided pipelines)."""
        return InMemoryModels(self._config, self._modules, name=name, metadata=self._metadata)

    @property
    def path(self) -> Path:
        return Path(self._name)

    @property
    def paths(self) -> tuple[Path, ...]:
        return (self.path,)

    @property
    def config(self) -> dict[str, Any]:
        return self._config

    @property
    def metadata(self) -> dict[str, str]:
        return dict(self._metadata)

    def __fspath__(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"InMemoryModels({self._name!r})"

    def build(self, component: str, *, dtype: torch.dtype | None, device: torch.device, **options: Any) -> nn.Module:
        """A copy of the module for `component` on `device` (cast to `dtype` when given); the transformer takes
        the given `numerics` and fuses the given `loras` as the loader does (with a `model_type`, the streams of that
        model type are cut from the given one, as the loader selects them from a file), the video decoder is rebuilt
        as the class `memory_efficient` picks."""
        if component == "per_channel_statistics":
            model = copy.deepcopy(self._modules["video_encoder"].per_channel_statistics)  # type: ignore[arg-type]
        elif component == "video_decoder":
            from ltx_core.model.video_vae import video_decoder_factory

            model = video_decoder_factory(self._config, memory_efficient=options.pop("memory_efficient", True))
            model.load_state_dict(self._modules["video_decoder"].state_dict())
        elif component == "transformer" and "model_type" in options:
            model = _with_streams(self._modules[component], options.pop("model_type"))
        else:
            model = copy.deepcopy(self._modules[component])
        loras: Sequence[LoraSpec] = options.pop("loras", ())
        numerics = options.pop("numerics", None)
        if options:
            raise TypeError(f"{component}: unexpected options {sorted(options)}")
        model = model.to(device=device, dtype=dtype) if dtype is not None else model.to(device)
        if numerics is not None:  # the transformer's: fixed at build, as the loader does
            model.numerics = numerics
        if loras:
            from ltx_core.loader import fuse_loras_into_model

            fuse_loras_into_model(model, loras, dtype)
        return model.eval()


def _with_streams(model: nn.Module, model_type: Any) -> nn.Module:
    """A copy of the transformer `model` with the streams of `model_type` only (its weights under the same names,
    selected through the loader's key map: strict, as loading from a file)."""
    from dataclasses import replace

    from ltx_core.model.transformer import LTXModel, transformer_key_map
    from ltx_core.model.transformer.loading import transformer_checkpoint_state_dict

    config = model.config  # type: ignore[union-attr]
    if config.model_type is model_type:
        return copy.deepcopy(model)
    cut = LTXModel(replace(config, model_type=model_type), model.numerics)  # type: ignore[arg-type]
    state = transformer_checkpoint_state_dict(model)  # type: ignore[arg-type]
    selected = transformer_key_map(cut.config).select(state)
    cut.load_state_dict({name: state[key].clone() for name, key in selected.items()}, strict=True)
    return cut.to(next(model.parameters()).dtype)


def tiny_modules(version: str, seed: int = 0) -> tuple[dict[str, Any], dict[str, nn.Module]]:
    """(checkpoint config, random tiny modules in bf16 as released files store them) for `version`; the torch RNG
    state is restored after."""
    from ltx_core.model.audio_vae.loading import (
        audio_decoder_from_config,
        audio_encoder_from_config,
        vocoder_from_config,
    )
    from ltx_core.model.transformer import build_transformer
    from ltx_core.model.upsampler import upsampler_factory
    from ltx_core.model.video_vae import video_decoder_factory, video_encoder_factory
    from ltx_core.testing.tiny_checkpoints import _randomize_statistics, tiny_config, tiny_upsampler_config

    config = tiny_config(version)
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        encoder, decoder = video_encoder_factory(config), video_decoder_factory(config)
        _randomize_statistics(encoder.per_channel_statistics)
        decoder.per_channel_statistics.load_state_dict(encoder.per_channel_statistics.state_dict())
        audio_encoder = audio_encoder_from_config(config)
        _randomize_statistics(audio_encoder.per_channel_statistics)
        modules: dict[str, nn.Module] = {
            "transformer": build_transformer(config),
            "video_encoder": encoder,
            "video_decoder": decoder,
            "audio_encoder": audio_encoder,
            "audio_decoder": audio_decoder_from_config(config),
            "vocoder": vocoder_from_config(config),
            "upsampler": upsampler_factory(tiny_upsampler_config()),
        }
    finally:
        torch.random.set_rng_state(state)
    return config, {k: m.to(torch.bfloat16).eval() for k, m in modules.items()}


def tiny_in_memory_models(version: str, seed: int = 0, *, name: str = "distilled.safetensors") -> InMemoryModels:
    """The random tiny modules of `version` as one in-memory checkpoint named `name`."""
    from ltx_core.testing.tiny_checkpoints import LTX23_MODEL_VERSION

    config, modules = tiny_modules(version, seed)
    metadata = {"model_version": LTX23_MODEL_VERSION} if version == "ltx23" else {}
    return InMemoryModels(config, modules, name=name, metadata=metadata)


def tiny_prompt_contexts(version: str, seed: int = 0, length: int = 8, prompt: str = "") -> Any:
    """Random precomputed `PromptContexts` of the widths the tiny transformer of `version` takes (the Gemma width
    for LTX-2, whose transformer projects captions itself; the transformer's widths for LTX-2.3)."""
    from ltx_core.testing.tiny_checkpoints import tiny_transformer_config
    from ltx_core.text_encoders.gemma import PromptContexts

    cfg = tiny_transformer_config(version)
    if version == "ltx2":
        video_width = audio_width = cfg["caption_channels"]
    else:
        video_width, audio_width = cfg["cross_attention_dim"], cfg["audio_cross_attention_dim"]
    generator = torch.Generator().manual_seed(seed)
    video = torch.randn(1, length, video_width, generator=generator).to(torch.bfloat16)
    audio = torch.randn(1, length, audio_width, generator=generator).to(torch.bfloat16)
    return PromptContexts(video, audio, torch.ones(1, length, dtype=torch.int64), prompt)
