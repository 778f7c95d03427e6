import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ltx_core.components.schedulers import LTX2Scheduler, token_shift, validate_sigmas
from ltx_core.errors import InputError
from ltx_core.testing.cpu_parity import reference_kernels
from ltx_core.testing.golden import load_case, report


@pytest.fixture(scope="module")
def case(golden):
    return load_case(golden / "cases" / "common" / "schedulers.safetensors")


def test_ltx2_schedules_match_golden_bitwise(case):
    runs = case.params["ltx2_scheduler_runs"]
    assert runs
    for run in runs:
        fhw = run["latent_fhw"]
        latent = None if fhw is None else torch.empty(1, 1, *fhw)
        got = LTX2Scheduler().execute(run["steps"], latent, **run["kwargs"])
        expected = case.outputs[f"ltx2_sigmas_{run['index']}"]
        assert got.dtype == torch.float32
        if reference_kernels().strict:  # the sigmas feed every end-to-end case: bitwise with the recording's kernels
            report(f"ltx2_sigmas_{run['index']}", got, expected, 0.0)
            assert torch.equal(got, expected)
        else:  # other kernels' float32 exp / pow may round an ulp apart (docs/parity.md)
            report(f"ltx2_sigmas_{run['index']}", got, expected, 1e-6)


def test_token_count_ignores_batch_and_channels(case):
    run = next(r for r in case.params["ltx2_scheduler_runs"] if r["latent_fhw"] is not None)
    a = LTX2Scheduler().execute(run["steps"], torch.empty(1, 128, *run["latent_fhw"]), **run["kwargs"])
    b = LTX2Scheduler().execute(run["steps"], torch.empty(3, 8, *run["latent_fhw"]), **run["kwargs"])
    assert torch.equal(a, b)


def test_spec_reference_values_30_steps():
    # spec 3.1, printed to 8 decimals
    got = LTX2Scheduler().execute(30)
    assert got[0].item() == pytest.approx(0.99999994, abs=5e-9)
    assert got[1].item() == pytest.approx(0.99495703, abs=5e-9)
    assert got[-2].item() == pytest.approx(0.10000002, abs=5e-9)
    assert got[-1].item() == 0.0


def test_token_shift_anchors():
    assert token_shift(1024) == pytest.approx(0.95)
    assert token_shift(4096) == pytest.approx(2.05)
    assert token_shift(8160) == pytest.approx(3.5052, abs=1e-4)


@settings(max_examples=40, deadline=None)
@given(
    steps=st.integers(min_value=2, max_value=60),
    tokens=st.integers(min_value=1, max_value=16384),
    terminal=st.floats(min_value=0.01, max_value=0.5),
)
def test_schedule_is_monotone_and_ends_at_terminal(steps, tokens, terminal):
    sigmas = LTX2Scheduler().execute(steps, torch.empty(1, 1, tokens), terminal=terminal)
    assert sigmas.shape == (steps + 1,)
    assert torch.all(sigmas[:-1] > sigmas[1:])
    assert sigmas[-1].item() == 0.0
    assert sigmas[-2].item() == pytest.approx(terminal, rel=1e-4)
    assert sigmas[0].item() == pytest.approx(1.0, abs=1e-4)  # f32 stretch leaves it a few ulps off
    validate_sigmas(sigmas)


@settings(max_examples=20, deadline=None)
@given(steps=st.integers(min_value=2, max_value=60), tokens=st.integers(min_value=16384, max_value=200000))
def test_schedule_never_increases_for_huge_token_counts(steps, tokens):
    # the shift extrapolates without a clamp; in f32 neighbouring sigmas near 1 may then coincide (as official),
    # or the stretch divides 0 by 0 (official NaN), which we refuse
    try:
        sigmas = LTX2Scheduler().execute(steps, torch.empty(1, 1, tokens))
    except InputError as e:
        assert "NaN" in str(e)
        return
    assert torch.all(sigmas[:-1] >= sigmas[1:])
    assert sigmas[-1].item() == 0.0


def test_single_stretched_step_is_refused():
    # official: 0/0 in the stretch (NaN); we refuse it with a clear message instead
    with pytest.raises(InputError, match="steps"):
        LTX2Scheduler().execute(1)
    assert LTX2Scheduler().execute(1, stretch=False).tolist()[-1] == 0.0


@pytest.mark.parametrize(
    ("sigmas", "fragment"),
    [
        ([1.0], "at least 2"),
        ([1.0, 0.5, 0.6, 0.0], "strictly decreasing"),
        ([1.0, 0.5, 0.5, 0.0], "strictly decreasing"),
        ([1.0, 0.5, 0.1], "end at 0.0"),
        ([1.5, 0.5, 0.0], "in [0, 1]"),
        ([1.0, math.nan, 0.0], "finite"),
        ([[1.0, 0.0]], "1-D"),
    ],
)
def test_sigma_override_validation(sigmas, fragment):
    with pytest.raises(InputError, match=None) as err:
        validate_sigmas(sigmas)
    msg = str(err.value)
    assert fragment in msg
    assert "\n" not in msg


def test_valid_override_passes_through_as_f32():
    got = validate_sigmas([0.909375, 0.725, 0.421875, 0.0])
    assert got.dtype == torch.float32
    assert got.tolist() == pytest.approx([0.909375, 0.725, 0.421875, 0.0])
