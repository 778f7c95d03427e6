"""One audio-video transformer block (spec §8) and the per-stream state that flows through the blocks."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from ltx_core.guidance.perturbations import PerturbationType
from ltx_core.model.transformer.adaln import modulation_row
from ltx_core.model.transformer.attention import Attention
from ltx_core.model.transformer.config import TransformerConfig
from ltx_core.model.transformer.feedforward import FeedForward
from ltx_core.model.transformer.keep_masks import KeepMasks
from ltx_core.model.transformer.rope import RopeTable

# Rows of the per-block main table / of the AV cross-attention tables.
_SHIFT_MSA, _SCALE_MSA, _GATE_MSA, _SHIFT_MLP, _SCALE_MLP, _GATE_MLP, _SHIFT_Q, _SCALE_Q, _GATE_Q = range(9)
_AV_SCALE_A2V, _AV_SHIFT_A2V, _AV_SCALE_V2A, _AV_SHIFT_V2A, _AV_GATE = range(5)


@dataclass(frozen=True)
class StreamState:
    """Everything one stream carries through the blocks; only `x` changes from block to block.

    mod [B, T', K·D] and emb [B, T', D] come from the main AdaLN (T' = T for per-token timesteps); pmod [B, 1, 2·D]
    from the prompt AdaLN (cross-attention AdaLN only); cross_* exist when the other stream is present in an
    audio-video model (cross_gate [B, 1, D], driven by the other stream's σ; cross_ss [B, 1, 4·D] from the other
    stream's σ under 1.1.3 numerics, [B, T, 4·D] from this stream's own timesteps under 1.2.0).
    """

    x: torch.Tensor
    mod: torch.Tensor
    emb: torch.Tensor
    pe: RopeTable
    context: torch.Tensor
    context_bias: torch.Tensor | None = None
    self_bias: torch.Tensor | None = None
    enabled: bool = True
    pmod: torch.Tensor | None = None
    cross_pe: RopeTable | None = None
    cross_ss: torch.Tensor | None = None
    cross_gate: torch.Tensor | None = None

    @property
    def runs(self) -> bool:
        return self.enabled and self.x.shape[1] > 0

    @property
    def has_tokens(self) -> bool:
        return self.x.shape[1] > 0


def _table(rows: int, dim: int) -> nn.Parameter:
    return nn.Parameter(torch.randn(rows, dim).div_(math.sqrt(dim)))


class TransformerBlock(nn.Module):
    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        cfg = config
        self.eps = cfg.norm_eps
        self.cross_adaln = cfg.cross_attention_adaln
        rows = cfg.adaln_rows
        gated = cfg.apply_gated_attention
        dv, da = cfg.video_dim, cfg.audio_dim
        if cfg.model_type.has_video:
            self.scale_shift_table = _table(rows, dv)
            if self.cross_adaln:
                self.prompt_scale_shift_table = _table(2, dv)
            hv, hd = cfg.num_attention_heads, cfg.attention_head_dim
            self.attn1 = Attention(dv, dv, hv, hd, cfg.norm_eps, gated)
            self.attn2 = Attention(dv, cfg.cross_attention_dim, hv, hd, cfg.norm_eps, gated)
            self.ff = FeedForward(dv, bias=cfg.ff_bias)
        if cfg.model_type.has_audio:
            self.audio_scale_shift_table = _table(rows, da)
            if self.cross_adaln:
                self.audio_prompt_scale_shift_table = _table(2, da)
            ha, ad = cfg.audio_num_attention_heads, cfg.audio_attention_head_dim
            self.audio_attn1 = Attention(da, da, ha, ad, cfg.norm_eps, gated)
            self.audio_attn2 = Attention(da, cfg.audio_cross_attention_dim, ha, ad, cfg.norm_eps, gated)
            self.audio_ff = FeedForward(da, bias=cfg.audio_ff_bias)
        self.av = cfg.is_audio_video
        if self.av:
            ha, ad = cfg.audio_num_attention_heads, cfg.audio_attention_head_dim
            self.scale_shift_table_a2v_ca_audio = _table(5, da)
            self.scale_shift_table_a2v_ca_video = _table(5, dv)
            self.audio_to_video_attn = Attention(dv, da, ha, ad, cfg.norm_eps, gated)
            self.video_to_audio_attn = Attention(da, dv, ha, ad, cfg.norm_eps, gated)

    def _rms(self, x: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x, (x.shape[-1],), eps=self.eps)

    def _self_attention(
        self,
        s: StreamState,
        x: torch.Tensor,
        attn: Attention,
        table: torch.Tensor,
        ptb: KeepMasks | None,
        kind: PerturbationType,
        index: int,
    ) -> torch.Tensor:
        shift, scale, gate = (modulation_row(table, s.mod, r) for r in (_SHIFT_MSA, _SCALE_MSA, _GATE_MSA))
        skip_all = ptb is not None and ptb.all(kind, index)
        keep = None
        if ptb is not None and not skip_all and ptb.any(kind, index):
            keep = ptb.keep(kind, index, x.dtype)
        n = self._rms(x) * (1 + scale) + shift
        return x + attn(n, mask=s.self_bias, pe=s.pe, keep=keep, skip_all=skip_all) * gate

    def _text_attention(
        self, s: StreamState, x: torch.Tensor, attn: Attention, table: torch.Tensor, prompt_table: torch.Tensor | None
    ) -> torch.Tensor:
        if not self.cross_adaln:
            return x + attn(self._rms(x), context=s.context, mask=s.context_bias)
        shift_q, scale_q, gate_q = (modulation_row(table, s.mod, r) for r in (_SHIFT_Q, _SCALE_Q, _GATE_Q))
        assert prompt_table is not None
        if s.pmod is not None:
            shift_kv, scale_kv = (modulation_row(prompt_table, s.pmod, r) for r in (0, 1))
        else:  # no prompt AdaLN (LTX-2.5 may turn it off): the static table alone, [1, 1, D] in x's dtype
            shift_kv, scale_kv = (prompt_table[r].to(x.dtype).reshape(1, 1, -1) for r in (0, 1))
        q_in = self._rms(x) * (1 + scale_q) + shift_q
        kv_in = s.context * (1 + scale_kv) + shift_kv
        return x + attn(q_in, context=kv_in, mask=s.context_bias) * gate_q

    def _feed_forward(self, s: StreamState, x: torch.Tensor, ff: FeedForward, table: torch.Tensor) -> torch.Tensor:
        shift, scale, gate = (modulation_row(table, s.mod, r) for r in (_SHIFT_MLP, _SCALE_MLP, _GATE_MLP))
        return x + ff(self._rms(x) * (1 + scale) + shift) * gate

    def forward(
        self,
        video: StreamState | None,
        audio: StreamState | None,
        perturbations: KeepMasks | None,
        index: int,
    ) -> tuple[StreamState | None, StreamState | None]:
        if video is None and audio is None:
            raise ValueError("At least one of video or audio must be provided")
        ptb = perturbations
        run_v = video is not None and video.runs
        run_a = audio is not None and audio.runs
        xv = video.x if video is not None else None
        xa = audio.x if audio is not None else None

        if run_v:
            assert video is not None and xv is not None
            xv = self._self_attention(
                video, xv, self.attn1, self.scale_shift_table, ptb, PerturbationType.SKIP_VIDEO_SELF_ATTN, index
            )
            xv = self._text_attention(
                video, xv, self.attn2, self.scale_shift_table, getattr(self, "prompt_scale_shift_table", None)
            )
        if run_a:
            assert audio is not None and xa is not None
            xa = self._self_attention(
                audio,
                xa,
                self.audio_attn1,
                self.audio_scale_shift_table,
                ptb,
                PerturbationType.SKIP_AUDIO_SELF_ATTN,
                index,
            )
            xa = self._text_attention(
                audio,
                xa,
                self.audio_attn2,
                self.audio_scale_shift_table,
                getattr(self, "audio_prompt_scale_shift_table", None),
            )

        if self.av and video is not None and audio is not None:
            xv, xa = self._av_cross(video, audio, xv, xa, run_v, run_a, ptb, index)

        if run_v:
            assert video is not None and xv is not None
            xv = self._feed_forward(video, xv, self.ff, self.scale_shift_table)
        if run_a:
            assert audio is not None and xa is not None
            xa = self._feed_forward(audio, xa, self.audio_ff, self.audio_scale_shift_table)
        return (
            replace(video, x=xv) if video is not None else None,
            replace(audio, x=xa) if audio is not None else None,
        )

    def _av_cross(
        self,
        video: StreamState,
        audio: StreamState,
        xv: torch.Tensor,
        xa: torch.Tensor,
        run_v: bool,
        run_a: bool,
        ptb: KeepMasks | None,
        index: int,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Audio→video then video→audio, both from the same normalised states (v2a does not see the a2v update)."""
        if video.cross_ss is None or audio.cross_ss is None:
            return xv, xa
        run_a2v = run_v and audio.has_tokens and not _all(ptb, PerturbationType.SKIP_A2V_CROSS_ATTN, index)
        run_v2a = run_a and video.has_tokens and not _all(ptb, PerturbationType.SKIP_V2A_CROSS_ATTN, index)
        if not (run_a2v or run_v2a):
            return xv, xa
        assert video.cross_gate is not None and audio.cross_gate is not None
        tv, ta = self.scale_shift_table_a2v_ca_video, self.scale_shift_table_a2v_ca_audio
        nv, na = self._rms(xv), self._rms(xa)
        new_xv, new_xa = xv, xa
        if run_a2v:
            scale_v, shift_v = (modulation_row(tv, video.cross_ss, r) for r in (_AV_SCALE_A2V, _AV_SHIFT_A2V))
            scale_a, shift_a = (modulation_row(ta, audio.cross_ss, r) for r in (_AV_SCALE_A2V, _AV_SHIFT_A2V))
            gate = modulation_row(tv[_AV_GATE:], video.cross_gate, 0)
            out = self.audio_to_video_attn(
                nv * (1 + scale_v) + shift_v,
                context=na * (1 + scale_a) + shift_a,
                pe=video.cross_pe,
                k_pe=audio.cross_pe,
            )
            new_xv = xv + out * gate * _keep(ptb, PerturbationType.SKIP_A2V_CROSS_ATTN, index, xv)
        if run_v2a:
            scale_a, shift_a = (modulation_row(ta, audio.cross_ss, r) for r in (_AV_SCALE_V2A, _AV_SHIFT_V2A))
            scale_v, shift_v = (modulation_row(tv, video.cross_ss, r) for r in (_AV_SCALE_V2A, _AV_SHIFT_V2A))
            gate = modulation_row(ta[_AV_GATE:], audio.cross_gate, 0)
            out = self.video_to_audio_attn(
                na * (1 + scale_a) + shift_a,
                context=nv * (1 + scale_v) + shift_v,
                pe=audio.cross_pe,
                k_pe=video.cross_pe,
            )
            new_xa = xa + out * gate * _keep(ptb, PerturbationType.SKIP_V2A_CROSS_ATTN, index, xa)
        return new_xv, new_xa


def _all(ptb: KeepMasks | None, kind: PerturbationType, index: int) -> bool:
    return ptb is not None and ptb.all(kind, index)


def _keep(ptb: KeepMasks | None, kind: PerturbationType, index: int, x: torch.Tensor) -> torch.Tensor:
    """[B, 1, 1] 0/1 residual mask for cross-modal skips (1.0 scalar when nothing is perturbed)."""
    if ptb is None or not ptb.any(kind, index):
        return torch.ones((), dtype=x.dtype, device=x.device)
    return ptb.keep(kind, index, x.dtype)
