"""The LTX-2 / LTX-2.3 audio-video transformer (spec §4, §10): per-stream preprocessing, blocks, output heads.

Module and parameter names are the official ones (checkpoint key = `model.diffusion_model.` + state-dict key).
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import nn

from ltx_core.errors import InputError
from ltx_core.guidance.perturbations import BatchedPerturbationConfig
from ltx_core.model.transformer.adaln import AdaLNSingle
from ltx_core.model.transformer.attention import Attention, resolve_kernel
from ltx_core.model.transformer.block import StreamState, TransformerBlock
from ltx_core.model.transformer.config import TransformerConfig
from ltx_core.model.transformer.feedforward import CaptionProjection
from ltx_core.model.transformer.keep_masks import KeepMasks
from ltx_core.model.transformer.masks import self_attention_bias, text_attention_bias
from ltx_core.model.transformer.modality import Modality
from ltx_core.model.transformer.rope import rope_table
from ltx_core.numerics import DEFAULT_NUMERICS, Numerics


class LTXModel(nn.Module):
    """forward(video, audio, perturbations) → (video velocity | None, audio velocity | None), latent dtype.

    `numerics` is fixed when the model is built (its loaders take it): the A↔V cross-attention AdaLN differs between
    the official releases (delta A.1), and a run uses one release's numerics throughout, as it uses one dtype.
    """

    def __init__(self, config: TransformerConfig, numerics: Numerics = DEFAULT_NUMERICS) -> None:
        super().__init__()
        self.config = config
        self.numerics = numerics
        cfg = config
        dv, da = cfg.video_dim, cfg.audio_dim
        if cfg.model_type.has_video:
            self.scale_shift_table = nn.Parameter(torch.randn(2, dv).div_(math.sqrt(dv)))
            self.patchify_proj = nn.Linear(cfg.in_channels, dv)
            if cfg.has_caption_projection:
                assert cfg.caption_channels is not None
                self.caption_projection = CaptionProjection(cfg.caption_channels, dv)
            self.adaln_single = AdaLNSingle(dv, cfg.adaln_rows)
            if cfg.has_prompt_adaln:
                self.prompt_adaln_single = AdaLNSingle(dv, 2)
            if cfg.use_keyframes_abs_pos_embedding:
                self.keyframes_abs_pos_embedding = nn.Parameter(torch.zeros(1, dv))
            self.proj_out = nn.Linear(dv, cfg.out_channels)
        if cfg.model_type.has_audio:
            self.audio_scale_shift_table = nn.Parameter(torch.randn(2, da).div_(math.sqrt(da)))
            self.audio_patchify_proj = nn.Linear(cfg.audio_in_channels, da)
            if cfg.has_caption_projection:
                assert cfg.caption_channels is not None
                self.audio_caption_projection = CaptionProjection(cfg.caption_channels, da)
            self.audio_adaln_single = AdaLNSingle(da, cfg.adaln_rows)
            if cfg.has_prompt_adaln:
                self.audio_prompt_adaln_single = AdaLNSingle(da, 2)
            self.audio_proj_out = nn.Linear(da, cfg.audio_out_channels)
        if cfg.is_audio_video:
            self.av_ca_video_scale_shift_adaln_single = AdaLNSingle(dv, 4)
            self.av_ca_audio_scale_shift_adaln_single = AdaLNSingle(da, 4)
            self.av_ca_a2v_gate_adaln_single = AdaLNSingle(dv, 1)
            self.av_ca_v2a_gate_adaln_single = AdaLNSingle(da, 1)
        self.transformer_blocks = nn.ModuleList(TransformerBlock(cfg) for _ in range(cfg.num_layers))

    def set_attention_kernel(self, name: str) -> None:
        """Select a registered attention kernel ("sdpa" default, "math") for every attention of the model."""
        resolve_kernel(name)
        for m in self.modules():
            if isinstance(m, Attention):
                m.kernel_name = name

    def forward(
        self,
        video: Modality | None,
        audio: Modality | None,
        perturbations: BatchedPerturbationConfig | None = None,
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        cfg = self.config
        if video is not None and not cfg.model_type.has_video:
            raise InputError("Video is not enabled for this model (it is an audio-only transformer)")
        if audio is not None and not cfg.model_type.has_audio:
            raise InputError("Audio is not enabled for this model (it is a video-only transformer)")
        if video is None and audio is None:
            raise InputError("At least one of video or audio must be provided to the transformer")
        batch = (video if video is not None else audio).latent.shape[0]  # type: ignore[union-attr]
        if perturbations is not None and len(perturbations) != batch:
            raise InputError(f"perturbation config has {len(perturbations)} entries for a batch of {batch}")
        vs = self._prepare(video, audio, audio_stream=False) if video is not None else None
        aus = self._prepare(audio, video, audio_stream=True) if audio is not None else None
        masks = None
        if perturbations is not None:
            device = (video if video is not None else audio).latent.device  # type: ignore[union-attr]
            masks = KeepMasks(perturbations, len(self.transformer_blocks), device)
        for index, block in enumerate(self.transformer_blocks):
            vs, aus = block(vs, aus, masks, index)
        v_out = self._head(vs, self.scale_shift_table, self.proj_out) if vs is not None else None
        a_out = self._head(aus, self.audio_scale_shift_table, self.audio_proj_out) if aus is not None else None
        return v_out, a_out

    def _keyframe_embedded(self, x: torch.Tensor, keyframes_mask: torch.Tensor | None) -> torch.Tensor:
        """LTX-2.5 (spec delta B.3): the learned keyframe embedding added to the video tokens whose keyframes mask
        is set (> 0), right after the patchify projection; the product is formed first, then added (unmarked
        tokens add ±0: unchanged bit for bit). No-op without the embedding or without a mask."""
        embedding = getattr(self, "keyframes_abs_pos_embedding", None)
        if embedding is None or keyframes_mask is None:
            return x
        return x + (keyframes_mask > 0).to(x.dtype) * embedding.to(x.dtype)

    def _prepare(self, m: Modality, other: Modality | None, audio_stream: bool) -> StreamState:
        cfg = self.config
        p = "audio_" if audio_stream else ""
        dim = cfg.audio_dim if audio_stream else cfg.video_dim
        heads = cfg.audio_num_attention_heads if audio_stream else cfg.num_attention_heads
        max_pos = cfg.audio_positional_embedding_max_pos if audio_stream else cfg.positional_embedding_max_pos
        dt = m.latent.dtype
        batch = m.latent.shape[0]
        scale = cfg.timestep_scale_multiplier

        x = getattr(self, f"{p}patchify_proj")(m.latent)
        if not audio_stream:
            x = self._keyframe_embedded(x, m.keyframes_mask)
        mod, emb = getattr(self, f"{p}adaln_single")((m.timesteps * scale).flatten(), dt)
        mod, emb = mod.reshape(batch, -1, mod.shape[-1]), emb.reshape(batch, -1, dim)
        pmod = None
        if cfg.has_prompt_adaln:
            pmod, _ = getattr(self, f"{p}prompt_adaln_single")(_per_sample(m.sigma, batch) * scale, dt)
            pmod = pmod.reshape(batch, -1, pmod.shape[-1])
        context = m.context
        if cfg.has_caption_projection:
            context = getattr(self, f"{p}caption_projection")(context)
        context = context.reshape(batch, -1, dim)
        rope_args = dict(
            theta=cfg.positional_embedding_theta, float64=cfg.rope_float64, rope_type=cfg.rope_type, dtype=dt
        )
        pe = rope_table(
            m.positions, width=dim, heads=heads, max_pos=max_pos, use_middle=cfg.use_middle_indices_grid, **rope_args
        )
        state = StreamState(
            x=x,
            mod=mod,
            emb=emb,
            pe=pe,
            context=context,
            context_bias=text_attention_bias(m.context_mask, dt),
            self_bias=self_attention_bias(m.attention_mask, dt),
            enabled=m.enabled,
            pmod=pmod,
        )
        if not cfg.is_audio_video or other is None:
            return state
        cross_pe = rope_table(
            m.positions[:, 0:1],
            width=cfg.audio_cross_attention_dim,
            heads=heads,
            max_pos=(cfg.cross_pe_max_pos,),
            use_middle=True,
            **rope_args,
        )
        c1000 = _other_sigma(other.sigma, batch) * scale
        ss_module = (
            self.av_ca_audio_scale_shift_adaln_single if audio_stream else self.av_ca_video_scale_shift_adaln_single
        )
        gate_module = self.av_ca_v2a_gate_adaln_single if audio_stream else self.av_ca_a2v_gate_adaln_single
        n = c1000.shape[0]
        if self.numerics.av_cross_ss_per_token:  # 1.2.0: this stream's own per-token timesteps, [B, T, 4·D]
            ss, _ = ss_module((m.timesteps * scale).flatten(), dt)
            ss = ss.reshape(batch, -1, ss.shape[-1])
        else:  # 1.1.3: the other stream's σ, one row per sample (or one shared row)
            ss, _ = ss_module(c1000, dt)
            ss = ss.reshape(n, 1, -1)
        gate, _ = gate_module(c1000 * cfg.av_gate_factor, dt)
        return replace(state, cross_pe=cross_pe, cross_ss=ss, cross_gate=gate.reshape(n, 1, -1))

    def _head(self, s: StreamState, table: torch.Tensor, proj: nn.Linear) -> torch.Tensor:
        x = s.x
        shift = table[0].to(x.dtype) + s.emb
        scale = table[1].to(x.dtype) + s.emb
        y = F.layer_norm(x, (x.shape[-1],), eps=self.config.norm_eps)
        return proj(y * (1 + scale) + shift)


def _per_sample(sigma: torch.Tensor, batch: int) -> torch.Tensor:
    """σ as a 1-D tensor of one value per sample (a single value is shared by the batch)."""
    flat = sigma.flatten()
    if flat.numel() == 1 and batch != 1:
        flat = flat.expand(batch)
    if flat.numel() != batch:
        raise InputError(f"sigma has {flat.numel()} values for a batch of {batch}; expected {batch} or 1")
    return flat


def _other_sigma(sigma: torch.Tensor, batch: int) -> torch.Tensor:
    """The other stream's σ for the AV cross-attention AdaLN: one value, or a 1-D tensor of length B."""
    if sigma.numel() > 1 and (sigma.ndim != 1 or sigma.shape[0] != batch):
        raise InputError(
            f"cross-modality sigma has shape {tuple(sigma.shape)}; expected a scalar or a 1-D tensor of length {batch}"
        )
    return sigma.reshape(-1)
