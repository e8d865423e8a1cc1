"""DRN and MeterPAN: Luhn check digits and the IIN chosen by DRN length (reference 11)."""

from __future__ import annotations

import pytest

from sts.errors import ChecksumError, FormatError
from sts.tokens.meter_number import (
    drn_of_pan,
    is_valid_drn,
    is_valid_pan,
    luhn_check_digit,
    meter_pan,
    validate_drn,
    validate_pan,
)


@pytest.mark.parametrize(
    ("digits", "check"),
    [
        ("60072700000000000", 9),
        ("00000100000000008", 2),
        ("60072711111111115", 3),
        ("60072747500150231", 2),
        ("4750015023", 1),
        ("010000000000", 8),
    ],
)
def test_luhn_published(digits: str, check: int) -> None:
    assert luhn_check_digit(digits) == check


def test_luhn_rejects_non_digits() -> None:
    with pytest.raises(FormatError, match="'12a4'"):
        luhn_check_digit("12a4")


def test_drn_to_pan_two_digit_manufacturer() -> None:
    assert meter_pan("47500150231") == "600727475001502312"


def test_drn_to_pan_four_digit_manufacturer_gets_iin_0000() -> None:
    # DRN 0100 00000000 8: its PAN 0000 + DRN + check 2 is a compliance-test PAN.
    assert meter_pan("0100000000008") == "000001000000000082"


def test_drn_with_spaces_and_dashes() -> None:
    assert validate_drn("4750 0150 231") == "47500150231"
    assert meter_pan("47-500150231") == "600727475001502312"


def test_wrong_drn_check_digit_is_checksum_error() -> None:
    with pytest.raises(ChecksumError) as info:
        meter_pan("47500150230")
    assert "47500150230" in str(info.value)
    assert "1" in str(info.value)  # the digit it should have been


def test_checksum_error_is_a_format_error() -> None:
    assert issubclass(ChecksumError, FormatError)


@pytest.mark.parametrize("drn", ["4750015023", "475001502311", "47500150231000"])
def test_drn_length_must_be_11_or_13(drn: str) -> None:
    with pytest.raises(FormatError, match=f"has {len(drn)} digits; expected 11 or 13"):
        validate_drn(drn)


def test_drn_letters_rejected() -> None:
    with pytest.raises(FormatError, match="not all digits"):
        validate_drn("4750015023A")


def test_is_valid_drn() -> None:
    assert is_valid_drn("47500150231")
    assert not is_valid_drn("47500150232")
    assert not is_valid_drn("hello")


@pytest.mark.parametrize("pan", ["600727000000000009", "000001000000000082", "600727111111111153"])
def test_reference_pans_validate(pan: str) -> None:
    assert validate_pan(pan) == pan
    assert is_valid_pan(pan)


def test_pan_wrong_check_digit() -> None:
    with pytest.raises(ChecksumError, match="check digit 8; its digits give 9"):
        validate_pan("600727000000000008")


@pytest.mark.parametrize("pan", ["60072700000000009", "6007270000000000090", "60072700000000000X"])
def test_pan_must_be_18_digits(pan: str) -> None:
    with pytest.raises(FormatError, match="18 digits"):
        validate_pan(pan)


def test_drn_of_pan() -> None:
    assert drn_of_pan("600727475001502312") == "47500150231"
    assert drn_of_pan("000001000000000082") == "0100000000008"


def test_drn_of_pan_unknown_iin() -> None:
    # 1 2 3 4 5 6 0...0: from the right, 5 and 1 are doubled (10 -> 1, 2) and the
    # others kept: 2 + 2 + 6 + 4 + 1 + 6 = 21, check digit 9.
    assert luhn_check_digit("12345600000000000") == 9
    with pytest.raises(FormatError, match="neither IIN"):
        drn_of_pan("123456000000000009")
