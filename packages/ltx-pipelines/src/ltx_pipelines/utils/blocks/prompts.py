"""Prompt encoding: prompts → per-prompt contexts (Gemma and the text path), or precomputed contexts placed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ltx_core.errors import InputError
from ltx_core.numerics import DEFAULT_NUMERICS, Numerics
from ltx_pipelines.utils.blocks.lifetime import CheckpointLike, ModelBlock


@dataclass(frozen=True)
class PromptEnhancerSettings:
    """Which model rewrites the prompt when a call asks for enhancement: `root` None → the text encoder itself (Gemma
    3 only); else a separate Gemma 3 folder or dense Gemma-4 instruct model (`--prompt-enhancer-gemma-root`), built
    and freed before the text encoder. `static_cache`: generate with a static KV cache (`--enhance-static-cache`)."""

    root: str | Path | None = None
    static_cache: bool = False


DEFAULT_PROMPT_ENHANCER = PromptEnhancerSettings()


class PromptEncoder(ModelBlock):
    """Prompts → per-prompt contexts. Gemma is built for the call and freed before the text path is built (with
    `models.keep`, both stay built across calls).

    Items that are already `PromptContexts` (precomputed: encode once, generate many) are only moved to the
    block's device and dtype, and no model is built when every item is precomputed (`needs_gemma`). Under several
    processes, `processes.across_processes` runs Gemma on the first process alone and shares the contexts.
    """

    def __init__(
        self,
        checkpoint: CheckpointLike,
        gemma_root: str | Path | None,
        *,
        dtype: torch.dtype = torch.bfloat16,
        device: torch.device | str | None = None,
        text_encoder_device: torch.device | str | None = None,
        offload: str | None = "none",
        numerics: Numerics = DEFAULT_NUMERICS,
        enhancer: PromptEnhancerSettings = DEFAULT_PROMPT_ENHANCER,
    ) -> None:
        # models.keep: a ResidentPromptEncoder stays built
        super().__init__(checkpoint, dtype=dtype, device=device)
        self.numerics = numerics  # one Gemma forward per prompt (1.1.3) or for all of a call's prompts (1.2.0)
        self.gemma_root = gemma_root
        self.text_encoder_device = text_encoder_device
        self.offload = offload  # Gemma's decoder layers may stream from RAM (none / cpu / disk / auto)
        self.enhancer = enhancer
        # a call's texts → their PromptContexts on the host (`encode_ahead`): keyed by the whole call, because under
        # 1.2.0 a call's prompts go through Gemma together and the bits of a row depend on the batch it was in
        self._ahead: dict[tuple[str, ...], list[Any]] = {}

    def __call__(
        self,
        prompts: Sequence[Any],
        *,
        enhance_first_prompt: bool = False,
        enhance_prompt_image: str | Path | None = None,
        enhance_prompt_seed: int = 42,
    ) -> list[Any]:
        from ltx_core.text_encoders.gemma import Enhancement, PromptContexts

        prompts = self._answered(prompts, enhance_first_prompt)
        texts = [(i, p) for i, p in enumerate(prompts) if not isinstance(p, PromptContexts)]
        out: list[Any] = [self._placed(p) if isinstance(p, PromptContexts) else None for p in prompts]
        if texts:
            if self.gemma_root is None:
                raise InputError(
                    "a text prompt needs a Gemma text encoder (--gemma-root: a folder or a packed file; split files: "
                    "--text-encoder-path, ModelPaths.text_encoder); or pass "
                    "precomputed contexts"
                )
            enhancement = Enhancement(
                enhance_first_prompt and texts[0][0] == 0,
                enhance_prompt_image,
                enhance_prompt_seed,
                enhancer=self.enhancer.root,
                static_cache=self.enhancer.static_cache,
            )
            encoded = self._encoded([str(p) for _, p in texts], enhancement)
            for (i, _), contexts in zip(texts, encoded, strict=True):
                out[i] = contexts
        return out

    def needs_gemma(self, prompts: Sequence[Any], enhance_first_prompt: bool = False) -> bool:
        """Whether a call with these prompts builds Gemma (some prompt is a text not encoded ahead)."""
        from ltx_core.text_encoders.gemma import PromptContexts

        return any(not isinstance(p, PromptContexts) for p in self._answered(prompts, enhance_first_prompt))

    def _answered(self, prompts: Sequence[Any], enhance_first_prompt: bool) -> list[Any]:
        """`prompts` with the texts encoded ahead replaced by their contexts (not when the first prompt is enhanced:
        Gemma rewrites it first)."""
        from ltx_core.text_encoders.gemma import PromptContexts

        enhanced_first = enhance_first_prompt and bool(prompts) and not isinstance(prompts[0], PromptContexts)
        if enhanced_first or not all(isinstance(p, str) for p in prompts):
            return list(prompts)
        return list(self._ahead.get(tuple(prompts), prompts))

    def _encoded(self, strings: list[str], enhancement: Any) -> list[Any]:
        if self.models.keep or self.models.is_built:
            return self.models.get(self._resident).encode(strings, enhancement)  # type: ignore[no-any-return]
        from ltx_core.text_encoders.gemma import encode_prompts

        return encode_prompts(
            strings,
            self.gemma_root,
            self.checkpoint,
            device=self.device,
            dtype=self.dtype,
            text_encoder_device=self.text_encoder_device,
            offload=self.offload,
            numerics=self.numerics,
            enhance_prompt=enhancement.enabled,
            enhance_image=enhancement.image,
            enhance_seed=enhancement.seed,
            enhancer=enhancement.enhancer,
            enhance_static_cache=enhancement.static_cache,
        )

    def encode_ahead(self, calls: Sequence[Sequence[str]], encode: Any = None) -> None:
        """Encode the texts of each call in `calls` now (each call's texts together, as that call would: under 1.2.0
        they share one Gemma forward, whose rows depend on the batch), in one Gemma residency, freed after unless
        the block keeps its models; later calls with the same texts are answered from host memory, the same bits.
        `encode` (default: this block) encodes one call's texts."""
        from ltx_core.text_encoders.gemma import PromptContexts

        todo = [c for c in dict.fromkeys(tuple(c) for c in calls) if c and c not in self._ahead]
        if not todo:
            return
        kept = self.models.keep
        self.models.keep = True  # one residency for every call
        try:
            for texts in todo:
                self._ahead[texts] = [
                    PromptContexts(c.video_context.cpu(), c.audio_context.cpu(), c.mask.cpu(), c.prompt)
                    for c in (encode or self)(list(texts))
                ]
        finally:
            self.models.keep = kept
            if not kept:
                self.models.release()

    def _resident(self) -> Any:
        from ltx_core.text_encoders.gemma import ResidentPromptEncoder

        assert self.gemma_root is not None
        return ResidentPromptEncoder(
            self.gemma_root,
            self.checkpoint,
            device=self.device,
            dtype=self.dtype,
            text_encoder_device=self.text_encoder_device,
            offload=self.offload,
            numerics=self.numerics,
        )

    def _placed(self, contexts: Any) -> Any:
        from ltx_core.text_encoders.gemma import PromptContexts

        return PromptContexts(
            contexts.video_context.to(device=self.device, dtype=self.dtype),
            contexts.audio_context.to(device=self.device, dtype=self.dtype),
            contexts.mask.to(self.device),
            contexts.prompt,
        )
