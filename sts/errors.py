"""The project's one error hierarchy.

Every error the token engine, the meter or the vending backend raises derives
from :class:`StsError`. Errors that a meter would answer with a result code
carry that code, so a caller can turn an exception straight into what the
meter's display would show::

    try:
        token = sts.decode(digits, key)
    except StsError as exc:
        print(exc.result_code.text)     # "CRC", "Format", ...

Each message names the offending value and what was expected.
"""

from __future__ import annotations

from sts.results import ResultCode


class StsError(Exception):
    """Base class of every error this project raises on purpose."""

    result_code: ResultCode | None = None


class FormatError(StsError, ValueError):
    """Input that is not in the expected form: bad digits, length, hex, field width."""

    result_code = ResultCode.FORMAT


class CrcError(StsError):
    """The CRC of a (decrypted) block does not match: a wrong key or a mistyped token."""

    result_code = ResultCode.CRC


class RangeError(StsError, ValueError):
    """A value outside what its field or the meter can hold (amount too large, TID past 2^24-1)."""

    result_code = ResultCode.RANGE


class RegisterOverflowError(StsError, ValueError):
    """Credit that would take a meter register past its maximum (the wallet is full)."""

    result_code = ResultCode.OVERFLOW


class FunctionError(StsError):
    """Something this toolkit or meter does not support (DKGA01/03, 3-token key change sets)."""

    result_code = ResultCode.FUNCTION


class KeyTypeError(StsError):
    """A key type that is not allowed where it is used (a change to KT 0, an unknown KT)."""

    result_code = ResultCode.KEY_TYPE


class ChecksumError(FormatError):
    """A Luhn check digit (DRN or MeterPAN) that does not match its digits."""


#: How many characters of a bad input an error message shows.
ECHO_LIMIT = 40


def shown(value: object, limit: int = ECHO_LIMIT) -> str:
    """``repr(value)`` for an error message, cut short when the input is long.

    A message names the bad value, but a 1 MB string or a 100,000-digit number
    must not be copied into it whole: text longer than ``limit`` characters is
    shown as its first ``limit`` characters and its length, a huge integer by
    its size::

        >>> shown("12345")
        "'12345'"
        >>> shown("9" * 100_000, limit=8)
        "'99999999'... (100000 characters)"
    """
    if isinstance(value, str | bytes):
        if len(value) <= limit:
            return repr(value)
        unit = "characters" if isinstance(value, str) else "bytes"
        return f"{value[:limit]!r}... ({len(value)} {unit})"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 4 * limit:
        return f"a {value.bit_length()}-bit number"
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"
