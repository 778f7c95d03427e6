import math

import pytest
import torch

from ltx_core.components.guiders import (
    MultiModalGuider,
    MultiModalGuiderFactory,
    MultiModalGuiderParams,
    create_multimodal_guider_factory,
)
from ltx_core.errors import InputError
from ltx_core.numerics import NUMERICS_1_1_3
from ltx_core.testing.golden import load_case, report

TOL = 1e-5


@pytest.fixture(scope="module")
def case(golden):
    return load_case(golden / "cases" / "common" / "guiders.safetensors")


def _passes(case):
    i = case.inputs
    return i["cond"], i["uncond_text"], i["uncond_perturbed"], i["uncond_modality"]


def test_multimodal_guider_matches_golden(case):
    names = [k.removeprefix("multimodal_") for k in case.outputs if k.startswith("multimodal_")]
    assert names
    for name in names:
        params = MultiModalGuiderParams(**case.params[name])
        got = MultiModalGuider(params, numerics=NUMERICS_1_1_3).calculate(*_passes(case))
        report(f"multimodal_{name}", got, case.outputs[f"multimodal_{name}"], TOL)


def test_skip_step_pattern_matches_golden(case):
    pattern = case.params["skip_step_2_pattern_steps_0_to_9"]
    guider = MultiModalGuider(MultiModalGuiderParams(skip_step=2))
    assert [guider.should_skip_step(s) for s in range(len(pattern))] == pattern
    assert not any(MultiModalGuider().should_skip_step(s) for s in range(10))


def test_absent_passes_and_flags():
    cond = torch.randn(1, 5, 3)
    g = MultiModalGuider(MultiModalGuiderParams())
    assert torch.equal(g.calculate(cond), cond)
    assert not g.do_unconditional_generation()
    assert not g.do_perturbed_generation()
    assert not g.do_isolated_modality_generation()
    g2 = MultiModalGuider(MultiModalGuiderParams(cfg_scale=2.0, stg_scale=0.5, modality_scale=1.5))
    assert g2.do_unconditional_generation() and g2.do_perturbed_generation() and g2.do_isolated_modality_generation()


def test_rescale_restores_cond_std():
    torch.manual_seed(0)
    cond, uncond = torch.randn(1, 50, 4), torch.randn(1, 50, 4)
    g = MultiModalGuider(MultiModalGuiderParams(cfg_scale=5.0, rescale_scale=1.0))
    out = g.calculate(cond, uncond)
    assert out.std().item() == pytest.approx(cond.std().item(), rel=1e-5)


def test_bf16_op_order_is_left_to_right():
    """1.1.3 numerics compute in bf16 left to right; 1.2.0 the same expression in float32, cast back once."""
    torch.manual_seed(1)
    c, u, p, m = (torch.randn(1, 64, 8).bfloat16() for _ in range(4))
    params = MultiModalGuiderParams(cfg_scale=3.0, stg_scale=1.0, modality_scale=3.0)
    expected = ((c + 2.0 * (c - u)) + 1.0 * (c - p)) + 2.0 * (c - m)
    got = MultiModalGuider(params, numerics=NUMERICS_1_1_3).calculate(c, u, p, m)
    assert got.dtype == torch.bfloat16
    assert torch.equal(got, expected)
    c32, u32, p32, m32 = (t.float() for t in (c, u, p, m))
    expected = (((c32 + 2.0 * (c32 - u32)) + 1.0 * (c32 - p32)) + 2.0 * (c32 - m32)).bfloat16()
    got = MultiModalGuider(params).calculate(c, u, p, m)
    assert got.dtype == torch.bfloat16
    assert torch.equal(got, expected)


def test_factory_bins():
    low = MultiModalGuiderParams(cfg_scale=2.0)
    mid = MultiModalGuiderParams(cfg_scale=3.0)
    high = MultiModalGuiderParams(cfg_scale=4.0)
    f = MultiModalGuiderFactory.from_dict({0.3: low, 0.7: mid, 0.9: high})
    assert f.params(0.95) == high  # above every key → the largest key
    assert f.params(0.9) == high
    assert f.params(0.8) == high
    assert f.params(0.7) == mid
    assert f.params(0.5) == mid
    assert f.params(0.1) == low
    assert f.params(0.0) == low
    assert MultiModalGuiderFactory.constant(mid).params(123.0) == mid
    with pytest.raises(InputError):
        MultiModalGuiderFactory.from_dict({})


def test_create_factory_keeps_or_rebuilds_context():
    params = MultiModalGuiderParams(cfg_scale=2.0)
    neg = torch.zeros(1, 2, 3)
    f = create_multimodal_guider_factory(params, neg)
    assert f.entries[0][0] == math.inf and f.negative_context is neg
    assert create_multimodal_guider_factory(f) is f
    neg2 = torch.ones(1, 2, 3)
    f2 = create_multimodal_guider_factory(f, neg2)
    assert f2.negative_context is neg2 and f2.entries == f.entries
    old = create_multimodal_guider_factory(f2, numerics=NUMERICS_1_1_3)
    assert old.build_from_sigma(0.5).numerics is NUMERICS_1_1_3 and old.negative_context is neg2
    assert create_multimodal_guider_factory(old, neg).numerics is NUMERICS_1_1_3
    assert f2.build_from_sigma(0.5).negative_context is neg2


def test_negative_skip_step_rejected():
    with pytest.raises(InputError, match="skip_step"):
        MultiModalGuiderParams(skip_step=-1)
