"""Pure helpers: x0/velocity conversions, timestep sinusoid, RoPE grid and rotations (hand-computed values)."""

from __future__ import annotations

import math

import pytest
import torch

from ltx_core.components.velocity import to_velocity
from ltx_core.model.transformer.adaln import timestep_sinusoid
from ltx_core.model.transformer.config import RopeType
from ltx_core.model.transformer.masks import self_attention_bias, text_attention_bias
from ltx_core.model.transformer.rope import apply_rope, frequency_grid, rope_table
from ltx_core.model.transformer.x0 import to_denoised


def test_to_denoised_per_token() -> None:
    x = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])
    v = torch.tensor([[[0.5, -1.0], [2.0, 2.0]]])
    t = torch.tensor([[[0.5], [0.0]]])
    # token 0: x − 0.5·v; token 1 (clean): x unchanged
    assert torch.equal(to_denoised(x, v, t), torch.tensor([[[0.75, 2.5], [3.0, 4.0]]]))


def test_to_denoised_keeps_dtype() -> None:
    x = torch.ones(1, 2, 3, dtype=torch.bfloat16)
    out = to_denoised(x, torch.ones_like(x), 0.25)
    assert out.dtype == torch.bfloat16 and torch.equal(out.float(), torch.full((1, 2, 3), 0.75))


def test_to_velocity() -> None:
    x, x0 = torch.tensor([1.0, 3.0]), torch.tensor([0.0, 1.0])
    assert torch.equal(to_velocity(x, torch.tensor(0.5), x0), torch.tensor([2.0, 4.0]))
    assert torch.equal(to_velocity(x, 0.5, to_denoised(x, torch.tensor([2.0, 4.0]), 0.5)), torch.tensor([2.0, 4.0]))
    with pytest.raises(ValueError, match="sigma"):
        to_velocity(x, 0.0, x0)


def test_sinusoid_reference_values() -> None:
    # Values from the spec §5 (official implementation).
    e = timestep_sinusoid(torch.tensor([1000.0, 0.0]))
    assert e.shape == (2, 256) and e.dtype == torch.float32
    torch.testing.assert_close(e[0, :3], torch.tensor([0.5623790622, 0.7896266580, 0.4399278760]))
    torch.testing.assert_close(e[0, 128:131], torch.tensor([0.8268795609, 0.6135876179, -0.8980330825]))
    assert torch.equal(e[1], torch.cat([torch.ones(128), torch.zeros(128)]))


def test_frequency_grid_reference_values() -> None:
    # Values from the spec §6.2.
    g = frequency_grid(682, 10000.0, float64=True)
    assert g[:3].tolist() == [1.5707963705062866, 1.5921852588653564, 1.6138653755187988]
    assert g[-2:].tolist() == [15496.947265625, 15707.962890625]
    assert frequency_grid(1024, 10000.0, float64=True)[-1].item() == 15707.962890625
    assert frequency_grid(1024, 10000.0, float64=False)[-1].item() == 15707.9638671875


def _rotate_pairs(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Reference: complex rotation of (x_re, x_im) pairs by `angles`."""
    z = torch.complex(x[..., 0].double(), x[..., 1].double()) * torch.exp(1j * angles.double())
    return torch.stack([z.real, z.imag], dim=-1).float()


def test_frequency_grid_first_built_under_meta_stays_real() -> None:
    """The grid is cached; a first call inside `torch.device("meta")` (FLOP counting, meta builds) must not leave a
    meta tensor in the cache for later real calls. n = 683 is used by no other test, so this call fills the cache."""
    with torch.device("meta"):
        meta = frequency_grid(683, 10000.0, float64=True, device="meta")
    assert meta.is_meta
    real = frequency_grid(683, 10000.0, float64=True)
    assert not real.is_meta and real[0].item() == pytest.approx(math.pi / 2)


def test_split_rope_one_axis_by_hand() -> None:
    # width 8, 2 heads, one axis, theta 10000: n = 4 frequencies π/2·10000^(j/3), no padding, 2 per head.
    theta, start, end, max_pos = 10000.0, 3.0, 5.0, 20.0
    positions = torch.tensor([start, end]).view(1, 1, 1, 2)
    table = rope_table(
        positions,
        width=8,
        heads=2,
        max_pos=[max_pos],
        theta=theta,
        float64=True,
        rope_type=RopeType.SPLIT,
        use_middle=True,
        dtype=torch.float32,
    )
    assert table.cos.shape == (1, 2, 1, 2)
    frac = ((start + end) / 2) / max_pos
    angles = torch.tensor([math.pi / 2 * theta ** (j / 3) * (2 * frac - 1) for j in range(4)])
    x = torch.randn(1, 1, 8)
    got = apply_rope(x, table)
    # head h holds dims [4h, 4h+4); its pairs are (first half, second half) = (4h + i, 4h + 2 + i), i < 2
    for h in range(2):
        pairs = torch.stack([x[0, 0, 4 * h : 4 * h + 2], x[0, 0, 4 * h + 2 : 4 * h + 4]], dim=-1)
        ref = _rotate_pairs(pairs, angles[2 * h : 2 * h + 2])
        torch.testing.assert_close(got[0, 0, 4 * h : 4 * h + 2], ref[:, 0])
        torch.testing.assert_close(got[0, 0, 4 * h + 2 : 4 * h + 4], ref[:, 1])


def test_split_rope_padding_is_identity() -> None:
    # width 8 with 3 axes: n = 1 frequency per axis, 3 rotations + 1 identity slot prepended (head 0, slot 0).
    positions = torch.rand(1, 3, 5, 2)
    table = rope_table(
        positions,
        width=8,
        heads=1,
        max_pos=[20, 2048, 2048],
        theta=10000.0,
        float64=True,
        rope_type=RopeType.SPLIT,
        use_middle=True,
        dtype=torch.float32,
    )
    assert torch.equal(table.cos[..., 0], torch.ones(1, 1, 5)) and torch.equal(table.sin[..., 0], torch.zeros(1, 1, 5))
    x = torch.randn(1, 5, 8)
    y = apply_rope(x, table)
    assert torch.equal(y[..., 0], x[..., 0]) and torch.equal(y[..., 4], x[..., 4])


def test_interleaved_rope_by_hand() -> None:
    theta, max_pos = 100.0, 20.0  # small angles: a float32 angle near 1e4 rad is only good to ~1e-3
    positions = torch.tensor([[2.0, 4.0], [6.0, 7.0]]).view(1, 1, 2, 2)
    table = rope_table(
        positions,
        width=6,
        heads=1,
        max_pos=[max_pos],
        theta=theta,
        float64=False,
        rope_type=RopeType.INTERLEAVED,
        use_middle=True,
        dtype=torch.float32,
    )
    assert table.cos.shape == (1, 2, 6)
    x = torch.randn(1, 2, 6)
    got = apply_rope(x, table)
    for t, (s, e) in enumerate([(2.0, 4.0), (6.0, 7.0)]):
        frac = ((s + e) / 2) / max_pos
        angles = torch.tensor([math.pi / 2 * theta ** (j / 2) * (2 * frac - 1) for j in range(3)])
        ref = _rotate_pairs(x[0, t].view(3, 2), angles).view(6)
        torch.testing.assert_close(got[0, t], ref)


def test_text_bias() -> None:
    m = torch.tensor([[1, 1, 0]])
    b = text_attention_bias(m, torch.float32)
    assert b is not None and b.shape == (1, 1, 1, 3)
    assert b[0, 0, 0].tolist() == [0.0, 0.0, -torch.finfo(torch.float32).max]
    f = torch.zeros(1, 1, 1, 3)
    assert text_attention_bias(f, torch.float32) is f
    with pytest.raises(ValueError, match="bool"):
        text_attention_bias(m.bool(), torch.float32)


def test_self_attention_bias() -> None:
    m = torch.tensor([[[1.0, 0.25], [0.0, -1.0]]])
    b = self_attention_bias(m, torch.bfloat16)
    assert b is not None and b.shape == (1, 1, 2, 2) and b.dtype == torch.bfloat16
    lo = torch.finfo(torch.bfloat16).min
    log_quarter = torch.tensor(math.log(0.25)).bfloat16().item()
    assert b[0, 0].float().tolist() == [[0.0, log_quarter], [lo, lo]]
