"""Amount coding: the 16-bit exponent/mantissa field and the currency variant.

The 16-bit field holds a 2-bit exponent ``e`` (bits 15..14) and a 14-bit
mantissa ``m`` (bits 13..0). It stands for::

    value = m * 10**e + sum(2**14 * 10**(n - 1) for n in 1..e)

so the four exponents cover contiguous, non-overlapping ranges (0..16383 in
steps of 1, 16384..180214 in steps of 10, and so on up to 18,201,624).
Encoding picks the smallest exponent whose range reaches the value and rounds
the mantissa *up*, in the customer's favour::

    >>> hex(encode_amount(20000)), decode_amount(0x416A)
    ('0x416a', 20004)

A negative currency amount (a deduction) is also rounded in the customer's
favour, which for a deduction is *down*: the magnitude is the largest value
the field holds that is not above the amount. A deduction of 10.00000
(1,000,000 units) is 9.99924, where a credit of 10.00000 is 10.00024::

    >>> decode_currency(*encode_currency(1_000_000, negative=True))
    (True, 999924)

The same coding carries maximum power limits (watts). Currency tokens (class 0
subclasses 4-7) use a 5-bit exponent: bits e4 e3 e2 ride in the low three bits
of the block's S&E nibble, whose top bit is the sign, and e1 e0 in the top two
bits of the 16-bit field.
"""

from __future__ import annotations

from sts.errors import RangeError, shown

MANTISSA_BITS = 14
MANTISSA_LIMIT = 1 << MANTISSA_BITS  # 16384
MAX_EXPONENT = 3
CURRENCY_MAX_EXPONENT = 31


def _offset(exponent: int) -> int:
    """The value that mantissa 0 stands for at this exponent."""
    return sum(MANTISSA_LIMIT * 10 ** (n - 1) for n in range(1, exponent + 1))


_OFFSETS = tuple(_offset(e) for e in range(CURRENCY_MAX_EXPONENT + 2))


def range_top(exponent: int) -> int:
    """The largest value the given exponent can represent exactly."""
    return _OFFSETS[exponent] + (MANTISSA_LIMIT - 1) * 10**exponent


MAX_AMOUNT = range_top(MAX_EXPONENT)  # 18,201,624
MAX_CURRENCY_AMOUNT = range_top(CURRENCY_MAX_EXPONENT)


def _encode(value: int, max_exponent: int, what: str, up: bool = True) -> tuple[int, int]:
    """(exponent, mantissa) for a non-negative value, mantissa rounded up (or down)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise RangeError(f"{what} {shown(value)} is not a whole number of units")
    if value < 0:
        raise RangeError(f"{what} {shown(value)} is negative; expected 0 or more units")
    limit = range_top(max_exponent)
    if value > limit:
        raise RangeError(
            f"{what} {shown(value)} units is above the maximum of {limit:,} units one token "
            "can carry; split it over several tokens"
        )
    for exponent in range(max_exponent + 1):
        if value < _OFFSETS[exponent + 1]:
            step = 10**exponent
            if not up:  # the largest value not above: always inside this exponent's range
                return exponent, (value - _OFFSETS[exponent]) // step
            mantissa = -(-(value - _OFFSETS[exponent]) // step)
            if mantissa < MANTISSA_LIMIT:
                return exponent, mantissa
            # Between the top of this range and the start of the next: the
            # next exponent's mantissa 0 is the smallest value that covers it.
            return exponent + 1, 0
    raise AssertionError("unreachable: value checked against the limit")


def encode_amount(units: int) -> int:
    """The 16-bit field for ``units`` (0.1 kWh, watts, ...), rounded up."""
    exponent, mantissa = _encode(units, MAX_EXPONENT, "amount")
    return exponent << MANTISSA_BITS | mantissa


def decode_amount(field: int) -> int:
    """The number of units a 16-bit amount field stands for."""
    if not 0 <= field <= 0xFFFF:
        raise RangeError(f"amount field {shown(field)} is not a 16-bit value")
    exponent = field >> MANTISSA_BITS
    return (field & (MANTISSA_LIMIT - 1)) * 10**exponent + _OFFSETS[exponent]


def encode_currency(units_1e5: int, negative: bool = False) -> tuple[int, int]:
    """(S&E nibble, 16-bit field) for an amount of 0.00001 currency units.

    The sign travels separately. The magnitude is rounded in the customer's
    favour: up for a credit, down for a deduction (``negative``).
    """
    exponent, mantissa = _encode(
        units_1e5, CURRENCY_MAX_EXPONENT, "currency amount", up=not negative
    )
    nibble = (8 if negative else 0) | exponent >> 2
    return nibble, (exponent & 3) << MANTISSA_BITS | mantissa


def decode_currency(se_nibble: int, field: int) -> tuple[bool, int]:
    """(negative, magnitude in 0.00001 units) from the S&E nibble and the 16-bit field."""
    if not 0 <= se_nibble <= 0xF:
        raise RangeError(f"S&E nibble {shown(se_nibble)} is not a 4-bit value")
    if not 0 <= field <= 0xFFFF:
        raise RangeError(f"currency amount field {shown(field)} is not a 16-bit value")
    exponent = (se_nibble & 7) << 2 | field >> MANTISSA_BITS
    magnitude = (field & (MANTISSA_LIMIT - 1)) * 10**exponent + _OFFSETS[exponent]
    return bool(se_nibble & 8), magnitude
