"""Class 1 tokens: InitiateMeterTest/Display.

These tokens are not encrypted, carry no TID and work on any STS meter whose
manufacturer code they name (00 / 0000 is accepted by every meter).

Subclass 0 (2-digit manufacturer codes)::

    bits 59..24  Control  36 bits, one bit per test or display
    bits 23..16  MfrCode  8 bits

Subclass 1 (4-digit manufacturer codes)::

    bits 59..32  Control  28 bits
    bits 31..16  MfrCode  16 bits

The Eskom "show me the KRN" token ``1844 6744 0738 4377 2416`` is subclass 0,
control bit 3, manufacturer 00.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntFlag
from typing import ClassVar, Self

from sts.errors import FormatError
from sts.tokens.base import Token, TokenClass, check_width


class TestControl(IntFlag):
    """The control bits of a class 1 token: which tests and displays to run."""

    __test__ = False  # not a pytest test class

    LOAD_SWITCH = 1 << 0
    DISPLAY_TEST = 1 << 1
    TOTAL_ENERGY = 1 << 2
    KEY_REVISION = 1 << 3
    TARIFF_INDEX = 1 << 4
    TOKEN_READER = 1 << 5
    POWER_LIMIT = 1 << 6
    TAMPER_STATUS = 1 << 7
    POWER_NOW = 1 << 8
    SOFTWARE_VERSION = 1 << 9
    PHASE_UNBALANCE_LIMIT = 1 << 10
    WATER_FACTOR = 1 << 11
    TARIFF_RATE = 1 << 12


#: Control value that asks for every test and display, by subclass.
ALL_TESTS = {0: (1 << 36) - 1, 1: (1 << 28) - 1}
_CONTROL_BITS = {0: 36, 1: 28}
_MFR_BITS = {0: 8, 1: 16}


@dataclass(frozen=True)
class MeterTestToken(Token):
    """InitiateMeterTest/Display (class 1, subclass 0 or 1)."""

    __test__ = False  # not a pytest test class

    variant: int  # the subclass: 0 for 2-digit, 1 for 4-digit manufacturer codes
    control: int
    mfr: int

    token_class: ClassVar[TokenClass] = TokenClass.TEST

    def __post_init__(self) -> None:
        if self.variant not in _CONTROL_BITS:
            raise FormatError(f"class 1 subclass {self.variant!r} is not a test token (0 or 1)")
        check_width("control", self.control, _CONTROL_BITS[self.variant])
        check_width("manufacturer code", self.mfr, _MFR_BITS[self.variant])

    @property
    def subclass(self) -> int:  # type: ignore[override]
        return self.variant

    @property
    def runs_all(self) -> bool:
        """True when every control bit is set: run all tests and displays."""
        return self.control == ALL_TESTS[self.variant]

    @property
    def functions(self) -> TestControl:
        """The named tests and displays asked for (unnamed bits are dropped)."""
        known = 0
        for flag in TestControl:
            known |= flag
        return TestControl(self.control & known)

    def payload(self) -> int:
        return self.control << _MFR_BITS[self.variant] | self.mfr

    @classmethod
    def from_payload(cls, subclass: int, payload: int) -> Self:
        mfr_bits = _MFR_BITS[subclass]
        return cls(subclass, payload >> mfr_bits, payload & ((1 << mfr_bits) - 1))

    def fields(self) -> dict[str, int | str]:
        return {"control": self.control, "mfr": self.mfr}
