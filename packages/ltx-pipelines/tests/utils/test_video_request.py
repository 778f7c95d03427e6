"""`VideoRequest`: one call's seed and geometry, checked in one place before any model is built."""

from __future__ import annotations

import pytest

from ltx_core.errors import InputError
from ltx_core.geometry import ONE_STAGE_DIVISOR, TWO_STAGE_DIVISOR
from ltx_pipelines.utils.inputs import VideoRequest


def test_check_refuses_a_bad_size_in_one_line_naming_the_valid_ones() -> None:
    request = VideoRequest(seed=1, height=96, width=64, num_frames=9, frame_rate=24.0)
    assert request.check(ONE_STAGE_DIVISOR) is request  # 96 = 3 x 32: a valid one-stage height
    with pytest.raises(InputError) as refused:
        request.check(TWO_STAGE_DIVISOR)
    assert str(refused.value) == (
        "height 96 must be a positive multiple of 64 for two-stage pipelines; nearest valid: 64 or 128"
    )
    with pytest.raises(InputError, match=r"num_frames 10 must be 8k\+1"):
        VideoRequest(1, 64, 64, 10, 24.0).check(TWO_STAGE_DIVISOR)
    with pytest.raises(InputError, match=r"frame_rate 0\.0 must be > 0"):
        VideoRequest(1, 64, 64, 9, 0.0).check(TWO_STAGE_DIVISOR)


def test_half_is_stage_1_of_the_same_request() -> None:
    assert VideoRequest(7, 128, 192, 17, 25.0).half() == VideoRequest(7, 64, 96, 17, 25.0)
