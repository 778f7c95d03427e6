"""The 1.2.0 end-to-end recordings as the golden tests list them: the re-recordings of the 1.1.3 cases in `e2e_120/`,
each run with 1.2.0 numerics, and the kernels they are compared on (measured: AVX2)."""

from __future__ import annotations

import pytest

from ltx_core.numerics import NUMERICS_1_1_3, NUMERICS_1_2_0
from ltx_core.testing.cpu_parity import AVX2_CAPS, recording_kernels
from ltx_core.testing.golden import e2e_case_id, e2e_cases, every_e2e_case, golden_dir, load_case

CASES_120 = e2e_cases("*", release="1.2.0")


def test_re_recordings_listed_with_their_1_1_3_twins() -> None:
    if not CASES_120:
        pytest.skip(f"no 1.2.0 end-to-end recordings under {golden_dir()} (the in-repo subset has none)")
    for path in CASES_120:
        case = load_case(path)
        assert path.parent.name == "e2e_120" and case.numerics is NUMERICS_1_2_0
        twin = golden_dir() / case.params["replay_of"]
        assert twin.is_file() and load_case(twin).numerics is NUMERICS_1_1_3
        assert any(p.name == path.name for p in e2e_cases(path.name)), f"{path.name}: no 1.1.3 recording listed"
        assert recording_kernels(case) == (AVX2_CAPS["ATEN_CPU_CAPABILITY"].upper(), AVX2_CAPS)
    ids = [e2e_case_id(p) for p in every_e2e_case("*")]
    assert len(ids) == len(set(ids)) == len(e2e_cases("*")) + len(CASES_120)


def test_unknown_release_is_refused() -> None:
    with pytest.raises(ValueError, match=r"1\.1\.4"):
        e2e_cases("*", release="1.1.4")
