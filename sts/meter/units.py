"""The integer units the credit engine counts in, and their conversions.

Energy is counted in joules (watt-seconds): a whole number for whole watts
over whole seconds, so consumption never rounds. Money is counted in
hundred-thousandths of the currency unit, the resolution of an STS currency
token. Decimals appear only at the edges (configuration, tokens, display)::

    >>> kwh_to_j(Decimal("0.1")), units_to_j(1)
    (360000, 360000)
    >>> j_to_kwh(14_400_000), money_to_units(Decimal("12.5")), units_to_money(1_250_000)
    (Decimal('4.000'), 1250000, Decimal('12.50000'))
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from sts.errors import RangeError

J_PER_KWH = 3_600_000
J_PER_UNIT = 360_000  # one STS unit is 0.1 kWh
MONEY_SCALE = 100_000  # one money unit is 0.00001 of the currency
KWH_DISPLAY = Decimal("0.001")
_MONEY_EXP = Decimal("0.00001")


def kwh_to_j(kwh: Decimal, what: str = "energy") -> int:
    """Joules in ``kwh``, which must be a whole number of joules."""
    joules = kwh * J_PER_KWH
    if joules != joules.to_integral_value():
        raise RangeError(f"{what} {kwh} kWh is not a whole number of joules")
    return int(joules)


def units_to_j(units: int) -> int:
    """Joules in ``units`` tenths of a kWh."""
    return units * J_PER_UNIT


def j_to_kwh(joules: int) -> Decimal:
    """kWh to 0.001 kWh, rounded towards zero (a display never shows more than there is)."""
    return (Decimal(joules) / J_PER_KWH).quantize(KWH_DISPLAY, rounding=ROUND_DOWN)


def money_to_units(amount: Decimal, what: str = "amount") -> int:
    """Hundred-thousandths in ``amount``, which must not be finer than 0.00001."""
    scaled = amount * MONEY_SCALE
    if scaled != scaled.to_integral_value():
        raise RangeError(f"{what} {amount} is finer than the meter's 0.00001 money resolution")
    return int(scaled)


def units_to_money(units: int) -> Decimal:
    """The Decimal amount of ``units`` hundred-thousandths."""
    return Decimal(units).scaleb(-5).quantize(_MONEY_EXP)
