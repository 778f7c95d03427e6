"""Prompt encoding: prompts → per-prompt contexts (Gemma and the text path), or precomputed contexts placed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ltx_core.errors import FailedElsewhere, InputError
from ltx_core.parallel.layout import SINGLE_PROCESS, ParallelLayout
from ltx_pipelines.utils.blocks.lifetime import CheckpointLike, ModelBlock


class PromptEncoder(ModelBlock):
    """Prompts → per-prompt contexts. Gemma is built for the call and freed before the text path is built (with
    `models.keep`, both stay built across calls).

    Items that are already `PromptContexts` (precomputed: encode once, generate many) are only moved to the
    block's device and dtype, and no model is built when every item is precomputed.

    Under several processes (`parallel`), Gemma runs on rank 0 alone and the contexts (and enhanced prompt texts)
    are broadcast: every rank holds the same bits and the other ranks never build Gemma. When Gemma fails there, the
    others are sent no contexts and raise `FailedElsewhere` (rank 0 raises its own error): no process is left waiting.
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
        parallel: ParallelLayout = SINGLE_PROCESS,
    ) -> None:
        # models.keep: a ResidentPromptEncoder stays built
        super().__init__(checkpoint, dtype=dtype, device=device, parallel=parallel)
        self.gemma_root = gemma_root
        self.text_encoder_device = text_encoder_device
        self.offload = offload  # Gemma's decoder layers may stream from RAM (none / cpu / disk / auto)
        self._ahead: dict[str, Any] = {}  # text → PromptContexts on the host (`encode_ahead`)

    def __call__(
        self,
        prompts: Sequence[Any],
        *,
        enhance_first_prompt: bool = False,
        enhance_prompt_image: str | Path | None = None,
        enhance_prompt_seed: int = 42,
    ) -> list[Any]:
        from ltx_core.text_encoders.gemma import Enhancement, PromptContexts

        enhanced_first = enhance_first_prompt and bool(prompts) and not isinstance(prompts[0], PromptContexts)
        ahead = self._ahead if not enhanced_first else {}  # Gemma rewrites an enhanced prompt first: not cached
        prompts = [ahead.get(p, p) if isinstance(p, str) else p for p in prompts]
        texts = [(i, p) for i, p in enumerate(prompts) if not isinstance(p, PromptContexts)]
        out: list[Any] = [self._placed(p) if isinstance(p, PromptContexts) else None for p in prompts]
        if texts:
            if self.gemma_root is None:
                raise InputError("a text prompt needs a Gemma root folder (--gemma-root); or pass precomputed contexts")
            strings = [str(p) for _, p in texts]
            enhancement = Enhancement(
                enhance_first_prompt and texts[0][0] == 0, enhance_prompt_image, enhance_prompt_seed
            )
            encoded = self._encoded_on_main(strings, enhancement) if self.parallel.is_main else None
            if self.parallel.is_parallel:
                encoded = self._shared(encoded, len(strings))
            assert encoded is not None
            for (i, _), contexts in zip(texts, encoded, strict=True):
                out[i] = contexts
        return out

    def _encoded_on_main(self, strings: list[str], enhancement: Any) -> list[Any]:
        """`_encoded`, on the main process of a generation; when it fails there (Gemma does not load, the
        enhancement fails), the other processes, waiting for the contexts, are sent none (`_shared` then raises
        `FailedElsewhere` there), so that every process leaves the call with an error instead of some waiting."""
        try:
            return self._encoded(strings, enhancement)
        except Exception:
            if self.parallel.is_parallel:
                self.parallel.share([], self.device)
            raise

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
            enhance_prompt=enhancement.enabled,
            enhance_image=enhancement.image,
            enhance_seed=enhancement.seed,
        )

    def _shared(self, encoded: list[Any] | None, count: int) -> list[Any]:
        """The main process's contexts on every process of the generation (same dtype, on this block's device)."""
        from ltx_core.text_encoders.gemma import PromptContexts

        tensors = None if encoded is None else [t for c in encoded for t in (c.video_context, c.audio_context, c.mask)]
        texts = None if encoded is None else [c.prompt for c in encoded]
        received = self.parallel.share(tensors, self.device)
        if len(received) != 3 * count:  # none: the main process failed to encode them (it reports why)
            raise FailedElsewhere("the main process failed to encode the prompts")
        prompts = self.parallel.share_text(texts, self.device)
        return [
            PromptContexts(*(t.to(self.device) for t in received[3 * i : 3 * i + 3]), prompts[i]) for i in range(count)
        ]

    def encode_ahead(self, texts: Sequence[str]) -> None:
        """Encode `texts` now, in one Gemma residency (then freed), and answer later calls that ask for them from
        host memory: a batch of jobs builds Gemma once. Each text is encoded on its own, as in a call, so the
        contexts are the same bits."""
        from ltx_core.text_encoders.gemma import PromptContexts

        todo = [t for t in dict.fromkeys(texts) if t not in self._ahead]
        if not todo:
            return
        for text, contexts in zip(todo, self(todo), strict=True):
            self._ahead[text] = PromptContexts(
                contexts.video_context.cpu(), contexts.audio_context.cpu(), contexts.mask.cpu(), contexts.prompt
            )

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
        )

    def _placed(self, contexts: Any) -> Any:
        from ltx_core.text_encoders.gemma import PromptContexts

        return PromptContexts(
            contexts.video_context.to(device=self.device, dtype=self.dtype),
            contexts.audio_context.to(device=self.device, dtype=self.dtype),
            contexts.mask.to(self.device),
            contexts.prompt,
        )
