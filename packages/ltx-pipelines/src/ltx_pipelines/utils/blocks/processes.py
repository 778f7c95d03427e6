"""Blocks under several processes: one factory (`across_processes`) wraps a single-process block for a process
layout, so that every process of a generation calls it alike and gets the same result.

- `PromptEncoder` → `SharedPromptEncoder`: Gemma runs on the layout's first process alone and the contexts (and the
  enhanced prompt texts) are broadcast: every process holds the same bits and the others never build Gemma. When
  Gemma fails there, the others are sent no contexts and raise `FailedElsewhere` (the first process raises its own
  error): no process is left waiting.
- `VideoDecoder` → `SpreadVideoDecoder`: a tiled decode spreads its tiles over the processes and every process
  blends them (bitwise the one-process tiled decode; the LTX-2.5 diffusion decoder too, its noise drawn alike on
  every process); an untiled decode runs on every process. The first process's choice of tiled or untiled (and of
  the diffusion decoder's automatic tile sizes) is used everywhere.
- Every other block (conditioners, upsampler, audio decoder) runs alike on every process and is returned as is.

Which process writes files or prints is the CLI's business, not the blocks'.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import torch

from ltx_core.errors import FailedElsewhere
from ltx_core.parallel.decode import distributed_tiled_decode
from ltx_core.parallel.layout import ParallelLayout
from ltx_pipelines.utils.blocks.decoding import FrameChunks, VideoDecoder
from ltx_pipelines.utils.blocks.prompts import PromptEncoder

B = TypeVar("B")


class _Wrapped:
    """Everything but the call is the wrapped block's (its models, device, settings)."""

    def __init__(self, block: Any, layout: ParallelLayout) -> None:
        self.block = block
        self.layout = layout

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["block"], name)


class SharedPromptEncoder(_Wrapped):
    """A `PromptEncoder` whose Gemma runs on the layout's first process; see the module docstring."""

    block: PromptEncoder

    def __call__(self, prompts: Sequence[Any], *, enhance_first_prompt: bool = False, **options: Any) -> list[Any]:
        if not self.block.needs_gemma(prompts, enhance_first_prompt):  # precomputed: every process places its own
            return self.block(prompts, enhance_first_prompt=enhance_first_prompt, **options)
        encoded = None
        if self.layout.is_main:
            try:
                encoded = self.block(prompts, enhance_first_prompt=enhance_first_prompt, **options)
            except Exception:
                self.layout.share([], self.block.device)  # the others learn that none are coming
                raise
        return self._shared(encoded, len(prompts))

    def _shared(self, encoded: list[Any] | None, count: int) -> list[Any]:
        from ltx_core.text_encoders.gemma import PromptContexts

        device = self.block.device
        tensors = None if encoded is None else [t for c in encoded for t in (c.video_context, c.audio_context, c.mask)]
        received = self.layout.share(tensors, device)
        if len(received) != 3 * count:  # none: the first process failed to encode them (it reports why)
            raise FailedElsewhere("the main process failed to encode the prompts")
        texts = self.layout.share_text(None if encoded is None else [c.prompt for c in encoded], device)
        return [PromptContexts(*(t.to(device) for t in received[3 * i : 3 * i + 3]), texts[i]) for i in range(count)]

    def encode_ahead(self, calls: Sequence[Sequence[str]]) -> None:
        self.block.encode_ahead(calls, encode=self)


class SpreadVideoDecoder(_Wrapped):
    """A `VideoDecoder` whose tiled decodes spread over the layout's processes; see the module docstring."""

    block: VideoDecoder

    def __call__(
        self, latent: torch.Tensor, tiling_config: Any = None, generator: torch.Generator | None = None
    ) -> FrameChunks:
        tiling_config = self._agreed_tiling(tiling_config)
        if tiling_config is None:
            return self.block(latent, None, generator)
        layout, transport = self.layout, self.layout.transport(self.block.device)

        def spread(decoder: Any, lat: torch.Tensor, tiling: Any, timestep: Any, gen: Any, **options: Any) -> Any:
            return distributed_tiled_decode(
                decoder, lat, tiling, layout.group, timestep=timestep, generator=gen, transport=transport, **options
            )

        return self.block(latent, tiling_config, generator, tiled=spread)

    def _agreed_tiling(self, tiling_config: Any) -> Any:
        """The first process's choice of a tiled or untiled decode, on every process: without a caller's tiling,
        each process's offload choice hints tiling from its own free memory, and the processes must decode alike."""
        from ltx_core.model.video_vae import AUTO_TILING

        mine = [torch.tensor([tiling_config is not None], dtype=torch.uint8)] if self.layout.is_main else None
        (tiled,) = self.layout.share(mine, self.block.device)
        if not bool(tiled.item()):
            return None
        return tiling_config if tiling_config is not None else AUTO_TILING  # planned per decoder, agreed when spread


_WRAPPERS: dict[type, type[_Wrapped]] = {PromptEncoder: SharedPromptEncoder, VideoDecoder: SpreadVideoDecoder}


def across_processes(block: B, layout: ParallelLayout) -> B:
    """`block` as every process of `layout` calls it: wrapped when it shares or spreads its work, else itself
    (also for a single process)."""
    if not layout.is_parallel:
        return block
    wrapper = next((w for kind, w in _WRAPPERS.items() if isinstance(block, kind)), None)
    return block if wrapper is None else wrapper(block, layout)  # type: ignore[return-value]
