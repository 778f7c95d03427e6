"""Self-attention masks for appended conditioning tokens.

Layout of the [B, N+M, N+M] mask after appending M tokens to N (of which the first N0 are the generated ones):
the old block keeps its mask (1 if none), the new block attends to itself fully, generated ↔ new is `cross`,
and new ↔ earlier conditioning groups is 0.
"""

from __future__ import annotations

import torch

from ltx_core.conditioning.errors import ConditioningError
from ltx_core.types import LatentState

AttentionMaskValue = float | torch.Tensor


def resolve_cross_mask(
    attention_mask: AttentionMaskValue,
    num_new_tokens: int,
    batch_size: int,
    device: torch.device | str,
    dtype: torch.dtype,
) -> torch.Tensor:
    """A scalar, 0-D, (M,), (1, M) or (B, M) value → a (B, M) tensor."""
    if isinstance(attention_mask, (int, float)):
        return torch.full((batch_size, num_new_tokens), float(attention_mask), device=device, dtype=dtype)
    m = attention_mask.to(device=device, dtype=dtype)
    if m.dim() == 0:
        return m.expand(batch_size, num_new_tokens).clone()
    if m.dim() == 1:
        if m.shape[0] != num_new_tokens:
            raise ConditioningError(f"attention mask length {m.shape[0]} != number of new tokens {num_new_tokens}")
        return m.unsqueeze(0).expand(batch_size, -1).clone()
    if m.dim() == 2:
        if m.shape[1] != num_new_tokens or m.shape[0] not in (1, batch_size):
            raise ConditioningError(
                f"attention mask shape {tuple(m.shape)} is invalid; use (1, {num_new_tokens}) or "
                f"({batch_size}, {num_new_tokens})"
            )
        return m.expand(batch_size, -1).clone()
    raise ConditioningError(f"attention mask must be a scalar, (M,) or (B, M) tensor, got shape {tuple(m.shape)}")


def build_attention_mask(
    existing: torch.Tensor | None,
    num_noisy_tokens: int,
    num_new_tokens: int,
    num_tokens: int,
    cross: torch.Tensor,
    dtype: torch.dtype,
) -> torch.Tensor:
    b = cross.shape[0]
    n, m, n0 = num_tokens, num_new_tokens, num_noisy_tokens
    mask = torch.zeros(b, n + m, n + m, device=cross.device, dtype=dtype)
    mask[:, :n, :n] = 1.0 if existing is None else existing.to(dtype)
    mask[:, n:, n:] = 1.0
    mask[:, :n0, n:] = cross.to(dtype).unsqueeze(1)
    mask[:, n:, :n0] = cross.to(dtype).unsqueeze(2)
    return mask


def update_attention_mask(
    latent_state: LatentState,
    attention_mask: AttentionMaskValue | None,
    num_noisy_tokens: int,
    num_new_tokens: int,
    batch_size: int,
    device: torch.device | str,
    dtype: torch.dtype,
) -> torch.Tensor | None:
    """The state's mask extended for M appended tokens; None while nobody asked for masking."""
    if attention_mask is None:
        if latent_state.attention_mask is None:
            return None
        cross = torch.ones(batch_size, num_new_tokens, device=device, dtype=dtype)
    else:
        cross = resolve_cross_mask(attention_mask, num_new_tokens, batch_size, device, dtype)
    return build_attention_mask(
        latent_state.attention_mask, num_noisy_tokens, num_new_tokens, latent_state.latent.shape[1], cross, dtype
    )


def append_tokens(
    state: LatentState,
    tokens: torch.Tensor,
    mask: torch.Tensor,
    positions: torch.Tensor,
    attention_mask: torch.Tensor | None,
) -> LatentState:
    """Concatenate conditioning tokens (clean) after the existing ones (never keyframes: 0 in the keyframes
    mask)."""
    keyframes = state.keyframes_mask
    if keyframes is not None:
        keyframes = torch.cat([keyframes, torch.zeros_like(mask, dtype=keyframes.dtype)], dim=1)
    return LatentState(
        latent=torch.cat([state.latent, tokens], dim=1),
        denoise_mask=torch.cat([state.denoise_mask, mask], dim=1),
        positions=torch.cat([state.positions, positions], dim=2),
        clean_latent=torch.cat([state.clean_latent, tokens], dim=1),
        attention_mask=attention_mask,
        keyframes_mask=keyframes,
    )
