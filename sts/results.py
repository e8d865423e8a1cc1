"""The sixteen STS token result codes (IEC 62055-41 7.1.4) and their display texts.

A meter answers every token it is given with exactly one of these codes. The
short text is what the meter's display shows for it.
"""

from __future__ import annotations

from enum import IntEnum


class ResultCode(IntEnum):
    """Token status codes as a meter reports them."""

    ACCEPT = 1
    FIRST_KCT = 2
    SECOND_KCT = 3
    OVERFLOW = 4
    KEY_TYPE = 5
    FORMAT = 6
    RANGE = 7
    FUNCTION = 8
    OLD = 9
    USED = 10
    KEY_EXPIRED = 11
    DDTK = 12
    CRC = 13
    MFR_CODE = 14
    LOCKOUT = 15
    NOT_READY = 16

    @property
    def text(self) -> str:
        """The short text a meter display shows for this result."""
        return _DISPLAY_TEXT[self]

    @property
    def accepted(self) -> bool:
        """True for the codes that mean the token was taken (fully or as part of a set)."""
        return self in (ResultCode.ACCEPT, ResultCode.FIRST_KCT, ResultCode.SECOND_KCT)


_DISPLAY_TEXT = {
    ResultCode.ACCEPT: "Accept",
    ResultCode.FIRST_KCT: "1st KCT",
    ResultCode.SECOND_KCT: "2nd KCT",
    ResultCode.OVERFLOW: "Overflow",
    ResultCode.KEY_TYPE: "Key type",
    ResultCode.FORMAT: "Format",
    ResultCode.RANGE: "Range",
    ResultCode.FUNCTION: "Function",
    ResultCode.OLD: "Old",
    ResultCode.USED: "Used",
    ResultCode.KEY_EXPIRED: "Key expired",
    ResultCode.DDTK: "DDTK",
    ResultCode.CRC: "CRC",
    ResultCode.MFR_CODE: "Mfr code",
    ResultCode.LOCKOUT: "Lockout",
    ResultCode.NOT_READY: "Not ready",
}
