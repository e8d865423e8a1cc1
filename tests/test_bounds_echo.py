"""Errors that echo input cut it short: a prefix and the length, never the whole input.

A 100,000-digit token once made 214 KB of error text; a 1 MB string was echoed
whole by decode errors.
"""

from __future__ import annotations

import pytest

import sts
from sts.errors import FormatError, StsError
from sts.tokens.amount import encode_amount
from sts.tokens.meter_number import validate_drn
from sts.tokens.tid import BaseDate


def test_shown_cuts_long_input_and_names_its_length() -> None:
    from sts.errors import shown

    assert shown("abc") == "'abc'"
    assert shown("x" * 41) == "'" + "x" * 40 + "'... (41 characters)"
    assert shown(b"\x00" * 100).endswith("(100 bytes)")
    assert shown(10**5000) == "a 16610-bit number"
    assert shown(12345) == "12345"


@pytest.mark.parametrize(
    "text", ["9" * 100_000, "x" * 1_000_000, "1234 " * 200_000, "-" * 1_000_000 + "1"]
)
def test_decode_errors_do_not_echo_huge_input(text: str) -> None:
    with pytest.raises(FormatError) as caught:
        sts.decode(text)
    assert len(str(caught.value)) < 200
    assert f"({len(text)} characters)" in str(caught.value)


def test_other_token_fields_do_not_echo_huge_input() -> None:
    for call in (
        lambda: validate_drn("1" * 100_000),
        lambda: BaseDate.parse("2" * 100_000),
        lambda: sts.DecoderKey.from_hex("A" * 100_000),
        lambda: encode_amount(10**5000),
    ):
        with pytest.raises(StsError) as caught:
            call()
        assert len(str(caught.value)) < 200, str(caught.value)[:300]
