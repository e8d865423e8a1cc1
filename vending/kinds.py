"""What a meter measures (its *service*) and what its credit tokens carry (its *token kind*).

STS class 0 tokens (sts-reference 2.1) come in a subclass per service and unit:

===========  ======================  ==========================
service      units (token kind)      currency (token kind)
===========  ======================  ==========================
electricity  subclass 0, 0.1 kWh     subclass 4, 0.00001 money
water        subclass 1, 0.1 m3      subclass 5, 0.00001 money
gas          subclass 2, 0.1 m3      subclass 6, 0.00001 money
===========  ======================  ==========================

A meter is registered with one service and one token kind; a tariff prices
one service's unit (kWh or m3), and a vend refuses a tariff for another
service. Time (subclasses 3 and 7) is not sold.

    >>> Service.WATER.credit_kind(TokenKind.UNITS).name
    'WATER'
    >>> Service.ELECTRICITY.credit_kind(TokenKind.CURRENCY)
    <CreditKind.ELECTRICITY_CURRENCY: 4>
"""

from __future__ import annotations

from enum import StrEnum

from sts.errors import shown
from sts.tokens.credit import CreditKind
from vending.errors import VendingError


class Service(StrEnum):
    """What the meter measures, and so which class 0 subclasses it takes."""

    ELECTRICITY = "electricity"
    WATER = "water"
    GAS = "gas"

    @property
    def unit(self) -> str:
        """The unit a tariff prices and a unit token carries tenths of."""
        return "kWh" if self is Service.ELECTRICITY else "m3"

    def credit_kind(self, kind: TokenKind) -> CreditKind:
        """The class 0 subclass of this service's credit tokens of ``kind``."""
        base = {Service.ELECTRICITY: 0, Service.WATER: 1, Service.GAS: 2}[self]
        return CreditKind(base + (4 if kind is TokenKind.CURRENCY else 0))


class TokenKind(StrEnum):
    """Whether the meter's credit tokens carry units of its service or money."""

    UNITS = "units"
    CURRENCY = "currency"


def parse_service(value: object) -> Service:
    """A :class:`Service` from its name; anything else is one sentence naming the choices."""
    try:
        return Service(value)
    except ValueError:
        raise VendingError(
            f"service {shown(value)} is not one of {', '.join(s.value for s in Service)}",
            "service",
            value,
        ) from None


def parse_token_kind(value: object) -> TokenKind:
    """A :class:`TokenKind` from its name; anything else is one sentence naming the choices."""
    try:
        return TokenKind(value)
    except ValueError:
        raise VendingError(
            f"token kind {shown(value)} is not one of {', '.join(k.value for k in TokenKind)}",
            "token_kind",
            value,
        ) from None
