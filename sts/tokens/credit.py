"""Class 0 tokens: transfer credit, in units (subclasses 0-3) or currency (4-7).

Units layout (subclasses 0-3)::

    bits 59..56  RND     4 random bits
    bits 55..32  TID     24 bits, minutes since the base date
    bits 31..16  Amount  16-bit exponent/mantissa field (see ``amount``)

Currency layout (subclasses 4-7, Edition 3)::

    bits 59..56  S&E     sign (bit 59, 1 = negative) and exponent bits e4 e3 e2
    bits 55..32  TID
    bits 31..16  exponent bits e1 e0, then the 14-bit mantissa

Currency tokens have no RND and use CRC_C. Units are 0.1 kWh, 0.1 m3 or 0.1
minute; currency amounts are in 0.00001 of the currency unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import IntEnum
from typing import ClassVar, Self

from sts.errors import FormatError
from sts.tokens.amount import decode_amount, decode_currency, encode_amount, encode_currency
from sts.tokens.base import Token, TokenClass, check_width


class CreditKind(IntEnum):
    """Class 0 subclasses: what the credit is for and in what unit."""

    ELECTRICITY = 0
    WATER = 1
    GAS = 2
    TIME = 3
    ELECTRICITY_CURRENCY = 4
    WATER_CURRENCY = 5
    GAS_CURRENCY = 6
    TIME_CURRENCY = 7

    @property
    def is_currency(self) -> bool:
        return self >= CreditKind.ELECTRICITY_CURRENCY

    @property
    def unit(self) -> str:
        """The unit of one whole quantity (units are tenths of it for subclasses 0-3)."""
        return ("kWh", "m3", "m3", "min")[self & 3] if not self.is_currency else "currency"


UNITS_PER_QUANTITY = 10  # 0.1 kWh / m3 / minute per unit
CURRENCY_UNITS_PER_WHOLE = 100_000  # 0.00001 currency unit per unit


def _kind(value: int, currency: bool) -> CreditKind:
    try:
        kind = CreditKind(value)
    except ValueError:
        raise FormatError(f"class 0 subclass {value!r} is not a credit subclass (0-7)") from None
    if kind.is_currency != currency:
        wanted = "4-7 (currency)" if currency else "0-3 (units)"
        raise FormatError(f"class 0 subclass {value} is not in {wanted}")
    return kind


@dataclass(frozen=True)
class TransferCredit(Token):
    """Credit in units: electricity, water, gas or time (class 0, subclasses 0-3)."""

    kind: CreditKind
    rnd: int
    tid: int
    amount: int  # the raw 16-bit field

    token_class: ClassVar[TokenClass] = TokenClass.CREDIT
    carries_tid: ClassVar[bool] = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", _kind(self.kind, currency=False))
        check_width("RND", self.rnd, 4)
        check_width("TID", self.tid, 24)
        check_width("amount field", self.amount, 16)

    @property
    def subclass(self) -> int:  # type: ignore[override]
        return int(self.kind)

    @classmethod
    def for_units(cls, kind: CreditKind, units: int, tid: int, rnd: int) -> Self:
        """A token for ``units`` tenths (0.1 kWh, ...), rounded up to what the field holds."""
        return cls(kind, rnd, tid, encode_amount(units))

    @property
    def units(self) -> int:
        """The tenths of a kWh (m3, minute) the meter credits."""
        return decode_amount(self.amount)

    @property
    def quantity(self) -> Decimal:
        """The credit in whole kWh, m3 or minutes."""
        return Decimal(self.units) / UNITS_PER_QUANTITY

    def payload(self) -> int:
        return self.rnd << 40 | self.tid << 16 | self.amount

    @classmethod
    def from_payload(cls, subclass: int, payload: int) -> Self:
        return cls(CreditKind(subclass), payload >> 40, payload >> 16 & 0xFFFFFF, payload & 0xFFFF)

    def fields(self) -> dict[str, int | str]:
        return {"rnd": self.rnd, "tid": self.tid, "amount": self.amount}


@dataclass(frozen=True)
class CurrencyCredit(Token):
    """Credit in money (class 0, subclasses 4-7), with sign and 5-bit exponent."""

    kind: CreditKind
    se: int  # sign and exponent-high nibble
    tid: int
    amount: int  # raw 16-bit field: exponent bits e1 e0, 14-bit mantissa

    token_class: ClassVar[TokenClass] = TokenClass.CREDIT
    carries_tid: ClassVar[bool] = True
    uses_crc_c: ClassVar[bool] = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", _kind(self.kind, currency=True))
        check_width("S&E nibble", self.se, 4)
        check_width("TID", self.tid, 24)
        check_width("amount field", self.amount, 16)

    @property
    def subclass(self) -> int:  # type: ignore[override]
        return int(self.kind)

    @classmethod
    def for_amount(cls, kind: CreditKind, units_1e5: int, tid: int, negative: bool = False) -> Self:
        """A token for ``units_1e5`` hundred-thousandths of the currency, rounded in the
        customer's favour (a credit up, a deduction down)."""
        se, field = encode_currency(units_1e5, negative)
        return cls(kind, se, tid, field)

    @property
    def negative(self) -> bool:
        return bool(self.se & 8)

    @property
    def units_1e5(self) -> int:
        """The magnitude in 0.00001 currency units."""
        return decode_currency(self.se, self.amount)[1]

    @property
    def value(self) -> Decimal:
        """The signed amount in whole currency units."""
        magnitude = Decimal(self.units_1e5) / CURRENCY_UNITS_PER_WHOLE
        return -magnitude if self.negative else magnitude

    def payload(self) -> int:
        return self.se << 40 | self.tid << 16 | self.amount

    @classmethod
    def from_payload(cls, subclass: int, payload: int) -> Self:
        return cls(CreditKind(subclass), payload >> 40, payload >> 16 & 0xFFFFFF, payload & 0xFFFF)

    def fields(self) -> dict[str, int | str]:
        return {"se": self.se, "tid": self.tid, "amount": self.amount}
