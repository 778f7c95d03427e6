"""The run-wide numerics switch: the two releases by name, and a one-line refusal of any other."""

import pytest

from ltx_core.errors import InputError
from ltx_core.numerics import DEFAULT_NUMERICS, NUMERICS_1_1_3, NUMERICS_1_2_0, numerics_named


def test_names_resolve_and_default_is_1_2_0() -> None:
    assert numerics_named("1.2.0") is NUMERICS_1_2_0
    assert numerics_named("1.1.3") is NUMERICS_1_1_3
    assert DEFAULT_NUMERICS is NUMERICS_1_2_0


def test_unknown_name_is_one_line_error_naming_the_valid_ones() -> None:
    with pytest.raises(InputError) as err:
        numerics_named("1.1.4")
    message = str(err.value)
    assert "\n" not in message and "'1.1.4'" in message and "'1.2.0'" in message and "'1.1.3'" in message
