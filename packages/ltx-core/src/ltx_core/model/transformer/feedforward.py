"""Feed-forward (spec §9: Linear → tanh-GELU → Linear), shared by the transformer blocks and the Gemma connector
blocks (same keys `net.0.proj`, `net.2`), and the caption projection."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class _GeluProj(nn.Module):
    """First layer of the feed-forward, under the official key path `net.0.proj`."""

    def __init__(self, dim_in: int, dim_out: int, bias: bool = True) -> None:
        super().__init__()
        self.proj = nn.Linear(dim_in, dim_out, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.proj(x), approximate="tanh")


class FeedForward(nn.Module):
    """`bias` False: both Linears without bias (LTX-2.5's `ff_bias` / `connector_ff_bias`, spec delta B.3)."""

    def __init__(self, dim: int, mult: int = 4, bias: bool = True) -> None:
        super().__init__()
        self.net = nn.Sequential(_GeluProj(dim, dim * mult, bias), nn.Identity(), nn.Linear(dim * mult, dim, bias=bias))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CaptionProjection(nn.Module):
    """LTX-2 only: text features (Gemma width) → the stream's hidden width, inside the transformer."""

    def __init__(self, in_dim: int, dim: int) -> None:
        super().__init__()
        self.linear_1 = nn.Linear(in_dim, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_2(F.gelu(self.linear_1(x), approximate="tanh"))
