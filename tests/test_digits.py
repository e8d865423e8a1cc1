"""The 20-digit token: class-bit transposition and the decimal codec (sts-reference.md 6)."""

from __future__ import annotations

import pytest

from sts.errors import FormatError
from sts.tokens.digits import (
    MAX_TOKEN_VALUE,
    format_token,
    parse_token,
    transpose_class,
    untranspose_class,
)


def test_transpose_reference_example() -> None:
    # Encrypted block C267DB18153BDCB4, class 2 -> 2C267DB18153BDCB4.
    assert transpose_class(2, 0xC267DB18153BDCB4) == 0x2C267DB18153BDCB4
    assert format_token(0x2C267DB18153BDCB4, grouped=False) == "50901894209860263092"


def test_untranspose_reference_example() -> None:
    assert untranspose_class(50901894209860263092) == (2, 0xC267DB18153BDCB4)


@pytest.mark.parametrize(
    ("token_class", "block", "number"),
    [
        # Sample-table worked example: C45ED1619406DF95 class 0 -> 2C45ED1618406DF95.
        (0, 0xC45ED1619406DF95, 0x2C45ED1618406DF95),
        # EA11 worked example: 7010D8F4AA0A7BC6 class 2 -> 17010D8F4B20A7BC6.
        (2, 0x7010D8F4AA0A7BC6, 0x17010D8F4B20A7BC6),
        # Eskom "display KRN" class 1 token, block 0000000008000C00.
        (1, 0x0000000008000C00, 18446744073843772416),
    ],
)
def test_transpose_published(token_class: int, block: int, number: int) -> None:
    assert transpose_class(token_class, block) == number
    assert untranspose_class(number) == (token_class, block)


def test_class_bits_sit_at_28_and_27() -> None:
    assert transpose_class(1, 0) == 1 << 27
    assert transpose_class(2, 0) == 1 << 28
    assert transpose_class(3, 0) == 3 << 27
    # Block bits 28 and 27 move to 65 and 64.
    assert transpose_class(0, 1 << 28) == 1 << 65
    assert transpose_class(0, 1 << 27) == 1 << 64


def test_format_groups_of_four() -> None:
    assert format_token(50901894209860263092) == "5090 1894 2098 6026 3092"


def test_format_pads_to_twenty_digits() -> None:
    assert format_token(150997584, grouped=False) == "00000000000150997584"
    assert format_token(0) == "0000 0000 0000 0000 0000"


def test_format_rejects_values_beyond_66_bits() -> None:
    with pytest.raises(FormatError, match=str(1 << 66)):
        format_token(1 << 66)


@pytest.mark.parametrize(
    "text",
    [
        "50901894209860263092",
        "5090 1894 2098 6026 3092",
        "5090-1894-2098-6026-3092",
        " 5090 1894-2098 6026 3092 ",
    ],
)
def test_parse_accepts_spaces_and_dashes(text: str) -> None:
    assert parse_token(text) == 50901894209860263092


def test_parse_keeps_leading_zeros() -> None:
    assert parse_token("0000 0000 0001 5099 7584") == 150997584


def test_parse_largest_token() -> None:
    assert MAX_TOKEN_VALUE == 73786976294838206463
    assert parse_token("73786976294838206463") == (1 << 66) - 1


def test_parse_2_to_66_is_format_error() -> None:
    with pytest.raises(FormatError) as info:
        parse_token("73786976294838206464")
    assert "73786976294838206464" in str(info.value)
    assert "largest" in str(info.value)


def test_parse_letters_name_the_bad_character() -> None:
    with pytest.raises(FormatError) as info:
        parse_token("5090189420986026309X")
    assert "'X'" in str(info.value)


@pytest.mark.parametrize("text", ["5090189420986026309", "509018942098602630921"])
def test_parse_wrong_length_names_the_count(text: str) -> None:
    with pytest.raises(FormatError) as info:
        parse_token(text)
    assert f"has {len(text)} digits" in str(info.value)
    assert "20" in str(info.value)


@pytest.mark.parametrize("text", ["", "5090.1894.2098.6026.3092", "٥٠٩٠١٨٩٤٢٠٩٨٦٠٢٦٣٠٩٢"])
def test_parse_rejects_other_text(text: str) -> None:
    with pytest.raises(FormatError):
        parse_token(text)


def test_parse_non_text_is_format_error() -> None:
    with pytest.raises(FormatError, match="not text"):
        parse_token(50901894209860263092)  # type: ignore[arg-type]


def test_untranspose_rejects_out_of_range() -> None:
    with pytest.raises(FormatError):
        untranspose_class(1 << 66)
    with pytest.raises(FormatError):
        untranspose_class(-1)
