"""Sequence parallelism for the audio-video transformer: the video tokens are split over a process group.

Each rank runs the unchanged model on its share of the video tokens (padded to a multiple of the group size; pads
are dropped from every attention's keys and from the output) and on ALL audio tokens (few: replicated, computed
identically on every rank). Only two attentions see tokens of other ranks, and their kernels are swapped for ones
that communicate:

- video self-attention: Ulysses when the head count divides by the group size (an all-to-all turns local tokens ×
  all heads into all tokens × a head group, attention runs there, a second all-to-all turns it back), otherwise
  every rank gathers the keys and values of all tokens and attends its own queries over them (any group size);
- video→audio cross-attention (audio queries, video keys): the video keys and values are gathered.

Text cross-attention and audio→video cross-attention (video queries, audio keys) need nothing. Every per-token
operation (projections, norms, RoPE, feed-forward, AdaLN) runs on the local tokens as it would on all of them, so the
result is the single-process one up to the rounding of differently shaped matmuls.
"""

from __future__ import annotations

import itertools
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from ltx_core.model.transformer.attention import ATTENTION_KERNELS, Attention, AttentionKernel, resolve_kernel
from ltx_core.model.transformer.block import TransformerBlock
from ltx_core.model.transformer.modality import Modality
from ltx_core.parallel.collectives import (
    Shard,
    gather_tokens,
    heads_to_sequence,
    local_part,
    pad_tokens,
    sequence_to_heads,
)

_ids = itertools.count()


def sequence_parallel_mode(heads: int, size: int) -> str:
    """ "ulysses" when every rank can take whole heads, else "gathered" (keys and values of all tokens on each rank)."""
    return "ulysses" if heads % size == 0 else "gathered"


def _query_rows(mask: torch.Tensor | None, shard: Shard) -> torch.Tensor | None:
    """The rows of a [.., Lq, Lk] bias for this rank's queries (pad queries get an all-zero row: their output is
    dropped)."""
    if mask is None or mask.ndim < 2:
        return mask
    return local_part(mask, shard, dim=-2)


def _transformer_blocks(model: nn.Module) -> list[TransformerBlock]:
    """The transformer blocks anywhere in `model`'s module tree: an `LTXModel`, or a wrapper holding one (the block
    streaming wrapper, FSDP2-sharded blocks), so that sequence parallelism wraps whatever the loader gives."""
    blocks = [m for m in model.modules() if isinstance(m, TransformerBlock)]
    if not blocks:
        raise TypeError(f"sequence parallelism needs a transformer with blocks, got {type(model).__name__}")
    return blocks


class SequenceParallelTransformer(nn.Module):
    """`model(video, audio, perturbations)` with the video tokens split over `group` (every rank calls it with the
    same full inputs and gets the same full outputs). Wraps the transformer inside `X0Model` (so that x0 is taken on
    the gathered velocity) as the loader gives it: an `LTXModel`, resident or sharded, or the `BlockStreamingWrapper`
    around one. It only renames the kernels of the blocks' attentions, which run alike however the weights are held."""

    def __init__(self, model: nn.Module, group: dist.ProcessGroup | None = None) -> None:
        super().__init__()
        self.model = model
        self.group = group
        self.size = dist.get_world_size(group)
        self.rank = dist.get_rank(group)
        self.mode = sequence_parallel_mode(model.config.num_attention_heads, self.size)
        self._shard: Shard | None = None
        self._names: dict[tuple[str, str], str] = {}
        for block in _transformer_blocks(model):
            self._swap(getattr(block, "attn1", None), "self", self._self_attention)
            self._swap(getattr(block, "video_to_audio_attn", None), "video-keys", self._video_keys_attention)

    @property
    def config(self) -> Any:
        return self.model.config

    def _swap(self, attention: Attention | None, role: str, kernel: Any) -> None:
        """Point the attention at this wrapper's kernel for `role` around its own kernel. Every block's attention
        of a role shares one registered name (one per wrapper, role and inner kernel), so the blocks stay alike for
        torch.compile: one graph for all of them instead of one per block (which runs into dynamo's cache limit and
        falls back to eager)."""
        if attention is None:
            return
        key = (role, attention.kernel_name)
        name = self._names.get(key)
        if name is None:
            inner = resolve_kernel(attention.kernel_name)
            name = f"sequence-parallel-{next(_ids)}-{role}"
            ATTENTION_KERNELS[name] = lambda q, k, v, heads, mask: kernel(inner, q, k, v, heads, mask)
            self._names[key] = name
        attention.kernel_name = name

    def release(self) -> None:
        """Unregister this wrapper's kernels (the wrapped model is left with names that no longer resolve)."""
        for name in self._names.values():
            ATTENTION_KERNELS.pop(name, None)
        self._names = {}

    # kernels

    def _self_attention(
        self, inner: AttentionKernel, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int, mask: Any
    ) -> torch.Tensor:
        shard = self._shard
        assert shard is not None, "the sequence-parallel kernels run only inside SequenceParallelTransformer.forward"
        if self.mode == "ulysses":
            q, k, v = (sequence_to_heads(t, self.size, self.group)[:, : shard.length] for t in (q, k, v))
            out = inner(q, k, v, heads // self.size, mask)
            return heads_to_sequence(pad_tokens(out, shard.padded, dim=1), self.size, self.group)
        keys = gather_tokens(k, shard, 1, self.group)
        values = gather_tokens(v, shard, 1, self.group)
        return inner(q, keys, values, heads, _query_rows(mask, shard))

    def _video_keys_attention(
        self, inner: AttentionKernel, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int, mask: Any
    ) -> torch.Tensor:
        shard = self._shard
        assert shard is not None, "the sequence-parallel kernels run only inside SequenceParallelTransformer.forward"
        assert mask is None, "video→audio cross-attention takes no mask"
        return inner(q, gather_tokens(k, shard, 1, self.group), gather_tokens(v, shard, 1, self.group), heads, None)

    # forward

    def forward(
        self, video: Modality | None, audio: Modality | None, perturbations: Any = None
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        if video is None:
            return self.model(video, audio, perturbations)  # type: ignore[no-any-return]
        shard = Shard(video.latent.shape[1], self.size, self.rank)
        local = video.with_(
            latent=_same_layout(local_part(video.latent, shard, dim=1), video.latent),
            timesteps=local_part(video.timesteps, shard, dim=1) if video.timesteps.shape[1] > 1 else video.timesteps,
            positions=local_part(video.positions, shard, dim=2, mode="edge"),  # finite RoPE angles for pads
            keyframes_mask=None if video.keyframes_mask is None else local_part(video.keyframes_mask, shard, dim=1),
        )
        self._shard = shard
        try:
            v_out, a_out = self.model(local, audio, perturbations)
        finally:
            self._shard = None
        return (None if v_out is None else gather_tokens(v_out, shard, 1, self.group)), a_out


def _same_layout(part: torch.Tensor, whole: torch.Tensor) -> torch.Tensor:
    """`part` laid out in memory as `whole` is: the 1.2.0 noiser leaves the video tokens a channel-major view
    ([B, T, C] with the tokens fastest), and the CPU's bf16 matmul of the first projection rounds differently on it
    than on row-major tokens (golden README_120 §8.2, "layout effect"); each process's share must be laid out as the
    one-process tokens are for the split to change no bit."""
    if whole.dim() == 3 and whole.stride(1) == 1 and whole.stride(2) != 1:
        return part.transpose(1, 2).contiguous().transpose(1, 2)
    return part
