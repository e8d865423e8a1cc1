"""Meter numbers: the DRN on the meter's face and the 18-digit MeterPAN.

The DRN (decoder reference number) is the manufacturer code (2 or 4 digits),
an 8-digit serial and a Luhn check digit: 11 or 13 digits. The MeterPAN adds
an issuer number (IIN) chosen by the DRN's length, ``600727`` for 11 digits
and ``0000`` for 13, and a second Luhn digit over all 17 digits before it::

    >>> meter_pan("47500150231")
    '600727475001502312'

Same verbs as for every format here: ``compact`` strips spaces and dashes,
``validate_*`` returns the compact number or raises, ``is_valid_*`` answers
yes or no.
"""

from __future__ import annotations

from sts.errors import ChecksumError, FormatError, shown

IIN_2_DIGIT_MFR = "600727"
IIN_4_DIGIT_MFR = "0000"
PAN_DIGITS = 18


def compact(number: str) -> str:
    """The number without spaces and dashes."""
    return str(number).replace(" ", "").replace("-", "").strip()


def luhn_check_digit(digits: str) -> int:
    """The Luhn digit to append to ``digits``."""
    if not digits.isascii() or not digits.isdigit():
        raise FormatError(f"{shown(digits)} is not a string of digits")
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:  # every second digit from the right, starting with the last
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return (10 - total % 10) % 10


def validate_drn(drn: str) -> str:
    """The compact DRN if it has 11 or 13 digits and a correct check digit."""
    number = compact(drn)
    if not number.isascii() or not number.isdigit():
        raise FormatError(f"meter number {shown(drn)} is not all digits; expected 11 or 13 digits")
    if len(number) not in (11, 13):
        raise FormatError(f"meter number {shown(drn)} has {len(number)} digits; expected 11 or 13")
    expected = luhn_check_digit(number[:-1])
    if int(number[-1]) != expected:
        raise ChecksumError(
            f"meter number {shown(drn)} has check digit {number[-1]}; its digits give {expected}"
        )
    return number


def is_valid_drn(drn: str) -> bool:
    try:
        validate_drn(drn)
    except FormatError:
        return False
    return True


def meter_pan(drn: str) -> str:
    """The 18-digit MeterPAN of a DRN (which is checked first)."""
    number = validate_drn(drn)
    body = (IIN_2_DIGIT_MFR if len(number) == 11 else IIN_4_DIGIT_MFR) + number
    return body + str(luhn_check_digit(body))


def validate_pan(pan: str) -> str:
    """The compact MeterPAN if it has 18 digits and a correct final check digit."""
    number = compact(pan)
    if not number.isascii() or not number.isdigit() or len(number) != PAN_DIGITS:
        raise FormatError(f"MeterPAN {shown(pan)} is not 18 digits")
    expected = luhn_check_digit(number[:-1])
    if int(number[-1]) != expected:
        raise ChecksumError(
            f"MeterPAN {shown(pan)} has check digit {number[-1]}; its digits give {expected}"
        )
    return number


def is_valid_pan(pan: str) -> bool:
    try:
        validate_pan(pan)
    except FormatError:
        return False
    return True


def drn_of_pan(pan: str) -> str:
    """The DRN inside a MeterPAN (11 digits after IIN 600727, else 13 after 0000)."""
    number = validate_pan(pan)
    if number.startswith(IIN_2_DIGIT_MFR):
        return number[6:17]
    if number.startswith(IIN_4_DIGIT_MFR):
        return number[4:17]
    raise FormatError(f"MeterPAN {shown(pan)} has neither IIN 600727 nor 0000")
