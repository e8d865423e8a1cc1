"""The 20-digit token: class-bit transposition and the decimal codec.

The 64-bit block (encrypted for classes 0 and 2) and the 2-bit class make a
66-bit number: block bits 28 and 27 move up to bits 65 and 64, and the class
takes their place (class MSB at bit 28, LSB at bit 27). That number, written
in decimal and zero-padded, is the 20-digit token, shown in groups of four::

    >>> format_token(transpose_class(2, 0xC267DB18153BDCB4))
    '5090 1894 2098 6026 3092'

Input may carry spaces and dashes between digits; anything else, the wrong
number of digits, or a value of 2^66 or more is a :class:`FormatError`.
"""

from __future__ import annotations

from sts.errors import FormatError, shown

TOKEN_DIGITS = 20
MAX_TOKEN_VALUE = (1 << 66) - 1
_BITS_28_27 = 3 << 27
_LOW_64 = (1 << 64) - 1


def transpose_class(token_class: int, block: int) -> int:
    """The 66-bit token number for a 64-bit block of the given class."""
    return (
        (block & _BITS_28_27) << 37  # bits 28,27 -> 65,64
        | (block & ~_BITS_28_27 & _LOW_64)
        | token_class << 27
    )


def untranspose_class(number: int) -> tuple[int, int]:
    """(class, 64-bit block) from a 66-bit token number."""
    if not 0 <= number <= MAX_TOKEN_VALUE:
        raise FormatError(f"token value {shown(number)} is not below 2^66")
    return (number >> 27) & 3, (number & _LOW_64 & ~_BITS_28_27) | (number >> 37 & _BITS_28_27)


def format_token(number: int, grouped: bool = True) -> str:
    """The token number as 20 digits, in groups of four unless ``grouped`` is False."""
    if not 0 <= number <= MAX_TOKEN_VALUE:
        raise FormatError(f"token value {shown(number)} is not below 2^66")
    digits = f"{number:020d}"
    if not grouped:
        return digits
    return " ".join(digits[i : i + 4] for i in range(0, TOKEN_DIGITS, 4))


def parse_token(text: str) -> int:
    """The 66-bit number of a typed token; spaces and dashes are ignored."""
    if not isinstance(text, str):
        raise FormatError(f"token {shown(text)} is not text; expected 20 digits")
    digits = text.replace(" ", "").replace("-", "")
    if not (digits.isascii() and digits.isdigit()):
        bad = next((ch for ch in digits if not ("0" <= ch <= "9")), "")
        raise FormatError(
            f"token {shown(text)} contains {bad!r}; expected 20 digits (spaces and dashes allowed)"
        )
    if len(digits) != TOKEN_DIGITS:
        raise FormatError(f"token {shown(text)} has {len(digits)} digits; expected 20")
    number = int(digits)
    if number > MAX_TOKEN_VALUE:
        raise FormatError(
            f"token {shown(text)} is {number}, above the largest token {MAX_TOKEN_VALUE}"
        )
    return number
