"""Amount coding: the 16-bit exponent/mantissa field and the currency variant.

Expected figures come from the compliance data (CTSA12, as published by
NectarAPI/tokens-service) and from sts-reference.md section 3.
"""

from __future__ import annotations

import pytest

from sts.errors import RangeError
from sts.tokens.amount import (
    MAX_AMOUNT,
    decode_amount,
    decode_currency,
    encode_amount,
    encode_currency,
)

# (units asked for, field, units the meter credits)
PUBLISHED = [
    (1, 0x0001, 1),
    (256, 0x0100, 256),
    (16383, 0x3FFF, 16383),
    (16384, 0x4000, 16384),
    (20000, 0x416A, 20004),
    (180223, 0x8000, 180224),
    (180224, 0x8000, 180224),
    (1818623, 0xC000, 1818624),
    (1818624, 0xC000, 1818624),
    (18201624, 0xFFFF, 18201624),
]


@pytest.mark.parametrize(("units", "field", "decoded"), PUBLISHED)
def test_encode_matches_published_field(units: int, field: int, decoded: int) -> None:
    assert encode_amount(units) == field


@pytest.mark.parametrize(("units", "field", "decoded"), PUBLISHED)
def test_decode_matches_published_credit(units: int, field: int, decoded: int) -> None:
    assert decode_amount(field) == decoded


def test_zero_is_field_zero() -> None:
    assert encode_amount(0) == 0x0000
    assert decode_amount(0x0000) == 0


def test_range_boundaries_by_hand() -> None:
    # e=1 starts at 16384 in steps of 10; its top is 16384 + 16383 * 10 = 180214.
    assert encode_amount(16385) == 0x4001  # rounds up to 16394
    assert decode_amount(0x4001) == 16394
    assert encode_amount(180214) == 0x7FFF
    assert decode_amount(0x7FFF) == 180214
    # 180215..180223 lie between e=1 and e=2: the next representable value is 180224.
    assert encode_amount(180215) == 0x8000
    # e=3 steps by 1000 from 1818624.
    assert encode_amount(1818625) == 0xC001
    assert decode_amount(0xC001) == 1819624


def test_maximum_constant() -> None:
    assert MAX_AMOUNT == 18_201_624


def test_amount_above_maximum_is_range_error_naming_both() -> None:
    with pytest.raises(RangeError) as info:
        encode_amount(18_201_625)
    message = str(info.value)
    assert "18201625" in message
    assert "18,201,624" in message


def test_negative_amount_is_range_error() -> None:
    with pytest.raises(RangeError, match="-1"):
        encode_amount(-1)


@pytest.mark.parametrize("value", [1.5, "100", True, None])
def test_amount_must_be_whole_units(value: object) -> None:
    with pytest.raises(RangeError, match="whole number"):
        encode_amount(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("field", [-1, 0x10000])
def test_decode_rejects_non_16_bit_field(field: int) -> None:
    with pytest.raises(RangeError, match="16-bit"):
        decode_amount(field)


def test_range_error_is_a_value_error_with_the_range_result_code() -> None:
    with pytest.raises(ValueError) as info:
        encode_amount(10**9)
    assert info.value.result_code.text == "Range"  # type: ignore[attr-defined]


# Currency (class 0 subclasses 4-7): 5-bit exponent split over S&E nibble and field.


def test_currency_100_units_worked_example() -> None:
    # 100.00000 = 10,000,000 units: e=3, m=ceil((10,000,000 - 1,818,624) / 1000) = 8182.
    assert encode_currency(10_000_000) == (0x0, 0xDFF6)
    assert decode_currency(0x0, 0xDFF6) == (False, 10_000_624)


def test_currency_negative_sets_sign_bit_and_rounds_down() -> None:
    # A deduction rounds in the customer's favour: m = floor((10,000,000 - 1,818,624) / 1000)
    # = 8181, field 0xC000 | 8181 = 0xDFF5, which stands for 1,818,624 + 8,181,000 = 9,999,624.
    assert encode_currency(10_000_000, negative=True) == (0x8, 0xDFF5)
    assert decode_currency(0x8, 0xDFF5) == (True, 9_999_624)
    # an amount the field holds exactly is not rounded either way
    assert encode_currency(10_000_624, negative=True) == (0x8, 0xDFF6)
    # in the gap between e=3's top (18,201,624) and e=4's start (18,202,624): e=3's top
    assert encode_currency(18_201_625, negative=True) == (0x8, 0xFFFF)


def test_currency_exponent_high_bits_travel_in_nibble() -> None:
    # e=3 tops out at 1,818,624 + 16383 * 1000 = 18,201,624 (nibble 0, field FFFF).
    assert encode_currency(18_201_624) == (0x0, 0xFFFF)
    # e=4 starts at 16384 * (1 + 10 + 100 + 1000) = 18,202,624 in steps of 10,000:
    # e4 e3 e2 = 001 go to the nibble, e1 e0 = 00 to the field's top bits.
    assert encode_currency(18_202_624) == (0x1, 0x0000)
    assert encode_currency(18_201_625) == (0x1, 0x0000)  # rounds up across the gap
    assert decode_currency(0x1, 0x0001) == (False, 18_212_624)
    # e=5 = 0b00101: nibble 1, field top bits 01.
    assert decode_currency(0x1, 0x4000) == (False, 16384 * 11111)


def test_currency_small_amounts_exact() -> None:
    assert encode_currency(1) == (0x0, 0x0001)
    assert encode_currency(16383) == (0x0, 0x3FFF)


def test_currency_negative_magnitude_rejected() -> None:
    with pytest.raises(RangeError, match="negative"):
        encode_currency(-5)


@pytest.mark.parametrize(("nibble", "field"), [(16, 0), (-1, 0), (0, 0x10000)])
def test_currency_decode_rejects_bad_widths(nibble: int, field: int) -> None:
    with pytest.raises(RangeError):
        decode_currency(nibble, field)
