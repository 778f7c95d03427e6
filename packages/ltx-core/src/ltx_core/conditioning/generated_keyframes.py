"""Generated keyframe slots (spec delta B.4, new_pipelines §8): extra single-pixel-frame latent tokens that the model
generates together with the video, at chosen interior frames.

Each slot is one latent frame's worth of tokens (H·W) placed at one pixel frame `k` (time `[k, k + 1) / fps`, the
target grid's spatial bounds without the causal fix), fully denoised (mask 1) and marked in the keyframes mask, so a
checkpoint with the keyframe embedding (LTX-2.5) treats it as a keyframe. All slots are appended as one block; after
the loop `extract_generated_keyframes` reads them back (the only appended tokens with keyframes mask 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch

from ltx_core.components.latent_tools import VideoLatentTools
from ltx_core.components.patchifiers import get_pixel_coords
from ltx_core.conditioning.errors import ConditioningError
from ltx_core.conditioning.mask_utils import update_attention_mask
from ltx_core.types import LatentState, VideoLatentShape


def evenly_spaced_keyframes(count: int, num_frames: int) -> list[int]:
    """`count` interior pixel frames of a `num_frames` clip: `round(linspace(0, F − 1, N + 2))[1:-1]` (float32
    linspace, round half to even), the official rule for `--num-generated-keyframes N`."""
    if count < 0:
        raise ConditioningError(f"generated keyframes {count} must be 0 or more")
    if count == 0:
        return []
    if num_frames < count + 2:
        raise ConditioningError(
            f"{count} generated keyframes need at least {count + 2} frames, got {num_frames}: use at most "
            f"{max(num_frames - 2, 0)}"
        )
    grid = torch.linspace(0, num_frames - 1, count + 2, dtype=torch.float32)
    return [int(v) for v in torch.round(grid).to(torch.int64)[1:-1]]


@dataclass(frozen=True)
class VideoGeneratedKeyframeSlots:
    """Slots at pixel frames `positions` (sorted, de-duplicated, within the target's frames); the slot latents start
    from zeros, or from `initial_keyframes` `(B, C, K, H, W)` (one latent frame per slot, in position order)."""

    positions: tuple[int, ...]
    initial_keyframes: torch.Tensor | None = None

    # Its tokens are generated, not clean conditioning: the latent rows keep the slot content under the 1.2.0 rule
    # that other items leave the latent alone (delta A.5; `create_noised_state`).
    generates_tokens: ClassVar[bool] = True

    @classmethod
    def at(cls, positions: Sequence[int], initial_keyframes: torch.Tensor | None = None) -> VideoGeneratedKeyframeSlots:
        return cls(tuple(sorted({int(p) for p in positions})), initial_keyframes)

    def apply_to(self, latent_state: LatentState, latent_tools: VideoLatentTools) -> LatentState:
        target = latent_tools.target_shape
        num_frames = (target.frames - 1) * latent_tools.scale_factors.time + 1
        positions = sorted(set(self.positions))
        if not positions:
            return latent_state
        if positions[0] < 0 or positions[-1] >= num_frames:
            raise ConditioningError(
                f"generated keyframe positions {positions} must lie within the {num_frames} frames [0, {num_frames})"
            )
        k = len(positions)
        slot_shape = VideoLatentShape(target.batch, target.channels, k, target.height, target.width)
        device = latent_state.latent.device
        if self.initial_keyframes is None:
            slots = torch.zeros(slot_shape.to_torch_shape(), device=device, dtype=latent_state.latent.dtype)
        else:
            slots = self.initial_keyframes.to(device=device, dtype=latent_state.latent.dtype)
            if tuple(slots.shape) != tuple(slot_shape.to_torch_shape()):
                raise ConditioningError(
                    f"initial keyframes shape {tuple(slots.shape)} does not match the {k} slots "
                    f"{tuple(slot_shape.to_torch_shape())}"
                )
        tokens = latent_tools.patchifier.patchify(slots)
        n = tokens.shape[1]
        b = tokens.shape[0]

        # One latent frame's spatial bounds (no causal fix), then each slot's time [k, k + 1) / fps.
        one_frame = VideoLatentShape(target.batch, target.channels, 1, target.height, target.width)
        bounds = latent_tools.patchifier.get_patch_grid_bounds(one_frame, device=device)
        spatial = get_pixel_coords(bounds, latent_tools.scale_factors, causal_fix=False).float()
        per_slot = []
        for frame in positions:
            p = spatial.clone()
            p[:, 0, :, 0] = float(frame)
            p[:, 0, :, 1] = float(frame + 1)
            p[:, 0, ...] = p[:, 0, ...] / latent_tools.frame_rate
            per_slot.append(p)
        slot_positions = torch.cat(per_slot, dim=2).to(latent_state.positions.device)

        ones = torch.ones(b, n, 1, device=device, dtype=latent_state.denoise_mask.dtype)
        attention = update_attention_mask(
            latent_state, None, target.token_count(), n, b, device, latent_state.latent.dtype
        )
        keyframes = latent_state.keyframes_mask
        if keyframes is not None:
            keyframes = torch.cat([keyframes, torch.ones_like(ones, dtype=keyframes.dtype)], dim=1)
        return LatentState(
            latent=torch.cat([latent_state.latent, tokens], dim=1),
            denoise_mask=torch.cat([latent_state.denoise_mask, ones], dim=1),
            positions=torch.cat([latent_state.positions, slot_positions], dim=2),
            clean_latent=torch.cat([latent_state.clean_latent, torch.zeros_like(tokens)], dim=1),
            attention_mask=attention,
            keyframes_mask=keyframes,
        )


def extract_generated_keyframes(state: LatentState, latent_tools: VideoLatentTools) -> torch.Tensor | None:
    """The slot latents `(B, C, K, H, W)` of a final state: the appended tokens marked in the keyframes mask (None
    when the state has no slots)."""
    keyframes = state.keyframes_mask
    target = latent_tools.target_shape
    n = latent_tools.patchifier.get_token_count(target)
    if keyframes is None or keyframes.shape[1] == n:
        return None
    marked = (keyframes[0, n:, 0] > 0).nonzero().flatten() + n
    if marked.numel() == 0:
        return None
    per_frame = target.height * target.width
    tokens = state.latent[:, marked]
    k = marked.numel() // per_frame
    shape = VideoLatentShape(target.batch, target.channels, k, target.height, target.width)
    return latent_tools.patchifier.unpatchify(tokens, shape)
