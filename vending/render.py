"""Text forms of amounts, one way everywhere: money with its currency's minor digits.

Every command that shows money (receipts, reversals, reports, customers'
debt, tariffs, a simulated meter's money wallet) and every ``--json`` money
string uses :func:`money_text`, so "0.03" never sits beside "0.03000"::

    >>> money_text(Decimal("0.03000"))
    '0.03'
    >>> money_text(Decimal("15"), "ZAR")
    '15.00'
    >>> money_text(Decimal("1000"), "UGX")
    '1000'

A figure finer than the currency's minor unit (a meter's money wallet counts
0.00001) keeps the digits it needs rather than being rounded away::

    >>> money_text(Decimal("0.03500"))
    '0.035'
"""

from __future__ import annotations

from decimal import Decimal

from vending.tariff import minor_unit

DEFAULT_CURRENCY = "ZAR"  # two minor digits, as most currencies


def money_text(value: Decimal | int | str, currency: str | None = None) -> str:
    """``value`` with ``currency``'s minor digits (two if unknown), or more where needed."""
    amount = Decimal(value)
    unit = minor_unit(currency or DEFAULT_CURRENCY)
    shown = amount.quantize(unit) if amount == amount.quantize(unit) else amount.normalize()
    if shown.is_zero():
        shown = abs(shown)
    return format(shown, "f")


def kwh_text(value: Decimal | int | str) -> str:
    """kWh as the meter counts them: at least one decimal (0.1 kWh steps), more if needed."""
    amount = Decimal(value)
    step = Decimal("0.1")
    shown = amount.quantize(step) if amount == amount.quantize(step) else amount.normalize()
    return format(abs(shown) if shown.is_zero() else shown, "f")
