"""Per-modality helpers that build, patchify and strip the diffusion state of one target shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import torch

from ltx_core.components.patchifiers import AudioPatchifier, VideoLatentPatchifier, video_positions
from ltx_core.types import (
    VIDEO_SCALE_FACTORS,
    AudioLatentShape,
    LatentState,
    SpatioTemporalScaleFactors,
    VideoLatentShape,
)


class LatentTools(Protocol):
    """What conditioning items and stages need from a modality's tools."""

    @property
    def target_shape(self) -> VideoLatentShape | AudioLatentShape: ...

    def create_initial_state(
        self, device: torch.device | str, dtype: torch.dtype, initial_latent: torch.Tensor | None = None
    ) -> LatentState: ...

    def patchify(self, state: LatentState) -> LatentState: ...

    def unpatchify(self, state: LatentState) -> LatentState: ...

    def clear_conditioning(self, state: LatentState) -> LatentState: ...


class _ToolsBase:
    patchifier: VideoLatentPatchifier | AudioPatchifier
    target_shape: VideoLatentShape | AudioLatentShape

    def _positions(self, device: torch.device | str) -> torch.Tensor:
        raise NotImplementedError

    def create_initial_state(
        self, device: torch.device | str, dtype: torch.dtype, initial_latent: torch.Tensor | None = None
    ) -> LatentState:
        """Unpatchified zeros (or the given latent, used exactly as passed), mask of ones (f32), then patchify."""
        target = self.target_shape.to_torch_shape()
        if initial_latent is not None:
            if initial_latent.shape != target:
                raise ValueError(f"initial latent shape {tuple(initial_latent.shape)} != target {tuple(target)}")
            latent = initial_latent
        else:
            latent = torch.zeros(target, device=device, dtype=dtype)
        mask = torch.ones(self.target_shape.mask_shape().to_torch_shape(), device=device, dtype=torch.float32)
        state = LatentState(
            latent=latent,
            denoise_mask=mask,
            positions=self._positions(device),
            clean_latent=latent.clone(),
            keyframes_mask=self._keyframes_mask(mask),
        )
        return self.patchify(state)

    def _keyframes_mask(self, mask: torch.Tensor) -> torch.Tensor | None:
        """The initial keyframes mask in the (unpatchified) mask layout: none for audio."""
        return None

    def patchify(self, state: LatentState) -> LatentState:
        if state.latent.shape != self.target_shape.to_torch_shape():
            raise ValueError(
                f"latent shape {tuple(state.latent.shape)} != target {tuple(self.target_shape.to_torch_shape())}"
            )
        p = self.patchifier
        keyframes = state.keyframes_mask
        return state.with_(
            latent=p.patchify(state.latent),
            clean_latent=p.patchify(state.clean_latent),
            denoise_mask=p.patchify(state.denoise_mask),
            keyframes_mask=None if keyframes is None else p.patchify(keyframes),
        )

    def unpatchify(self, state: LatentState) -> LatentState:
        p = self.patchifier
        keyframes = state.keyframes_mask
        return state.with_(
            latent=p.unpatchify(state.latent, self.target_shape),
            clean_latent=p.unpatchify(state.clean_latent, self.target_shape),
            denoise_mask=p.unpatchify(state.denoise_mask, self.target_shape.mask_shape()),
            keyframes_mask=None if keyframes is None else p.unpatchify(keyframes, self.target_shape.mask_shape()),
        )

    def clear_conditioning(self, state: LatentState) -> LatentState:
        """Drop appended conditioning tokens; mask back to ones, no attention mask, no keyframes mask."""
        n = self.patchifier.get_token_count(self.target_shape)
        return LatentState(
            latent=state.latent[:, :n].clone(),
            denoise_mask=torch.ones_like(state.denoise_mask[:, :n]),
            positions=state.positions[:, :, :n].clone(),
            clean_latent=state.clean_latent[:, :n].clone(),
            attention_mask=None,
        )


@dataclass(frozen=True)
class VideoLatentTools(_ToolsBase):
    patchifier: VideoLatentPatchifier
    target_shape: VideoLatentShape
    frame_rate: float
    scale_factors: SpatioTemporalScaleFactors = field(default=VIDEO_SCALE_FACTORS)
    causal_fix: bool = True

    def _positions(self, device: torch.device | str) -> torch.Tensor:
        bounds = self.patchifier.get_patch_grid_bounds(self.target_shape, device=device)
        return video_positions(bounds, self.frame_rate, self.scale_factors, self.causal_fix)

    def _keyframes_mask(self, mask: torch.Tensor) -> torch.Tensor | None:
        """1 on target latent frame 0 (it encodes a single pixel frame), 0 on the later ones (delta B.4): every
        video state carries it, whatever the conditioning and the checkpoint."""
        keyframes = torch.zeros_like(mask)
        keyframes[:, :, 0] = 1.0
        return keyframes


@dataclass(frozen=True)
class AudioLatentTools(_ToolsBase):
    patchifier: AudioPatchifier
    target_shape: AudioLatentShape

    def _positions(self, device: torch.device | str) -> torch.Tensor:
        return self.patchifier.get_patch_grid_bounds(self.target_shape, device=device)
