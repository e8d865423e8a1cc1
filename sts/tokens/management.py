"""Class 2 management tokens that carry a TID (subclasses 0, 1, 2, 5, 6, 7).

They share one layout::

    bits 59..56  RND    4 random bits
    bits 55..32  TID    24 bits
    bits 31..16  value  16 bits, meaning per subclass

======  ==========================  ==================================================
sub     token                       value
======  ==========================  ==================================================
0       SetMaximumPowerLimit        watts, in the exponent/mantissa amount coding
1       ClearCredit                 register: 0 electricity, 1 water, 2 gas, 3 time,
                                    4-7 the currency registers, 0xFFFF all
2       SetTariffRate               16 bits reserved by the STSA, carried as they are
5       ClearTamperCondition        pad, ignored by meters (usually 0)
6       SetMaximumPhasePowerUnbalanceLimit  watts, amount coding
7       SetWaterMeterFactor         16 bits reserved by the STSA for water
======  ==========================  ==================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, Self

from sts.tokens.amount import decode_amount, encode_amount
from sts.tokens.base import Token, TokenClass, check_width


class Register(IntEnum):
    """The credit registers a ClearCredit token can name."""

    ELECTRICITY = 0
    WATER = 1
    GAS = 2
    TIME = 3
    ELECTRICITY_CURRENCY = 4
    WATER_CURRENCY = 5
    GAS_CURRENCY = 6
    TIME_CURRENCY = 7
    ALL = 0xFFFF


@dataclass(frozen=True)
class ManagementToken(Token):
    """Base of the class 2 tokens with RND, TID and a 16-bit value."""

    rnd: int
    tid: int
    value: int

    token_class: ClassVar[TokenClass] = TokenClass.MANAGEMENT
    carries_tid: ClassVar[bool] = True

    def __post_init__(self) -> None:
        check_width("RND", self.rnd, 4)
        check_width("TID", self.tid, 24)
        check_width("value", self.value, 16)

    def payload(self) -> int:
        return self.rnd << 40 | self.tid << 16 | self.value

    @classmethod
    def from_payload(cls, subclass: int, payload: int) -> Self:
        return cls(payload >> 40, payload >> 16 & 0xFFFFFF, payload & 0xFFFF)

    def fields(self) -> dict[str, int | str]:
        return {"rnd": self.rnd, "tid": self.tid, "value": self.value}


class _WattsValue:
    """Mixin for tokens whose value is a power in watts, amount-coded."""

    value: int

    @property
    def watts(self) -> int:
        return decode_amount(self.value)

    @classmethod
    def for_watts(cls, watts: int, tid: int, rnd: int) -> Self:
        """The token for ``watts``, rounded up to what the field can hold."""
        return cls(rnd, tid, encode_amount(watts))  # type: ignore[call-arg]


@dataclass(frozen=True)
class SetPowerLimit(_WattsValue, ManagementToken):
    """SetMaximumPowerLimit (class 2, subclass 0): the load limit in watts."""

    subclass: ClassVar[int] = 0


@dataclass(frozen=True)
class ClearCredit(ManagementToken):
    """ClearCredit (class 2, subclass 1): empty one credit register, or all."""

    subclass: ClassVar[int] = 1

    @property
    def register(self) -> Register | int:
        """The named register, or the raw value when it names none."""
        try:
            return Register(self.value)
        except ValueError:
            return self.value

    @classmethod
    def for_register(cls, register: Register, tid: int, rnd: int) -> Self:
        return cls(rnd, tid, int(register))


@dataclass(frozen=True)
class SetTariffRate(ManagementToken):
    """SetTariffRate (class 2, subclass 2): a 16-bit rate reserved for the STSA."""

    subclass: ClassVar[int] = 2


@dataclass(frozen=True)
class ClearTamper(ManagementToken):
    """ClearTamperCondition (class 2, subclass 5); the value is padding."""

    subclass: ClassVar[int] = 5


@dataclass(frozen=True)
class SetPhaseUnbalanceLimit(_WattsValue, ManagementToken):
    """SetMaximumPhasePowerUnbalanceLimit (class 2, subclass 6), in watts."""

    subclass: ClassVar[int] = 6


@dataclass(frozen=True)
class SetWaterMeterFactor(ManagementToken):
    """SetWaterMeterFactor (class 2, subclass 7): a 16-bit factor reserved for water."""

    subclass: ClassVar[int] = 7


MANAGEMENT_TOKENS: tuple[type[ManagementToken], ...] = (
    SetPowerLimit,
    ClearCredit,
    SetTariffRate,
    ClearTamper,
    SetPhaseUnbalanceLimit,
    SetWaterMeterFactor,
)
