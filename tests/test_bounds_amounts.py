"""sts.amounts: the one parser of decimals that people type (money, kWh, debt)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sts.amounts import MAX_TEXT, AmountRule, parse_amount, to_decimal
from sts.errors import FormatError, RangeError, StsError

MONEY = AmountRule("payment", Decimal(1000), above_low=True, places=2)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("150", Decimal(150)),
        (" 12.50 ", Decimal("12.50")),
        ("+3", Decimal(3)),
        (".5", Decimal("0.5")),
    ],
)
def test_plain_ascii_decimals_are_read(text: str, value: Decimal) -> None:
    assert parse_amount(text, MONEY) == value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1e3", "'1e3' is not written as a plain decimal"),
        ("1_000", "'1_000' is not written as a plain decimal"),
        ("\u0661\u0660\u0660", "is not written as a plain decimal"),  # Arabic-Indic 100
        ("\uff11\uff10", "is not written as a plain decimal"),  # full-width 10
        ("inf", "'inf' is not a finite number"),
        ("-Infinity", "is not a finite number"),
        ("nan", "'nan' is not a finite number"),
        ("sNaN", "is not a finite number"),
        ("abc", "'abc' is not a number"),
        ("", "'' is not a number"),
        ("1.2.3", "is not a number"),
        ("12\x00", "is not a number"),
        ("9" * (MAX_TEXT + 1), f"\\({MAX_TEXT + 1} characters\\) is too long for an amount"),
        ("9" * 100_000, r"\(100000 characters\) is too long"),
    ],
)
def test_anything_else_is_a_format_error_naming_it(text: str, message: str) -> None:
    with pytest.raises(FormatError, match=message) as caught:
        parse_amount(text, MONEY)
    assert len(str(caught.value)) < 200


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "payment 0 is not above zero"),
        ("-5", "payment -5 is not above zero"),
        ("1000.01", r"payment 1000\.01 is above the limit of 1000"),
        (Decimal("1e400"), r"payment 1E\+400 is above the limit of 1000"),
        (Decimal("-1e400"), r"payment -1E\+400 is not above zero"),
        ("12.345", r"payment 12\.345 has more than 2 decimal places; expected a multiple of 0\.01"),
        (Decimal("1e-400"), "has more than 2 decimal places"),
    ],
)
def test_bounds_and_places_are_range_errors(value: object, message: str) -> None:
    with pytest.raises(RangeError, match=message):
        parse_amount(value, MONEY)


def test_decimals_and_ints_are_taken_by_value_floats_and_bools_refused() -> None:
    assert parse_amount(Decimal("12.500"), MONEY) == Decimal("12.500")
    assert parse_amount(7, MONEY) == 7
    with pytest.raises(FormatError, match="parse_float=Decimal"):
        parse_amount(12.5, MONEY)
    with pytest.raises(FormatError, match="is not a Decimal"):
        parse_amount(True, MONEY)
    with pytest.raises(FormatError, match="is not a finite number"):
        parse_amount(Decimal("NaN"), MONEY)


def test_stored_data_may_use_scientific_notation_typed_text_may_not() -> None:
    assert to_decimal("1.5E+3", "price", exponent=True) == Decimal(1500)
    with pytest.raises(FormatError):
        to_decimal("1.5E+3", "price")
    with pytest.raises(FormatError):
        to_decimal("1e99999", "price", exponent=True)


def test_the_error_class_can_be_chosen() -> None:
    class Refused(StsError):
        pass

    with pytest.raises(Refused):
        parse_amount("abc", MONEY, Refused)
    with pytest.raises(Refused):
        parse_amount("0", MONEY, Refused)
