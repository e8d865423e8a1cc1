"""Subsidies: up to 5 kinds, applied to the meter's money tariff in a fixed order.

The Magno 22's "Tariff Expense" lists up to 5 kinds of subsidy beside the steps,
service charge, fixed charges, levies and VAT. This meter knows five kinds,
each at most once:

    free_units  the first ``kwh`` of each month cost nothing
    lifeline    the first ``kwh`` of each month cost ``amount`` per kWh (a lifeline step)
    per_kwh     ``amount`` off every kWh's energy price (not below 0)
    percent     ``amount`` percent off every kWh's energy price
    monthly     ``amount`` off each month's service and fixed charges (not below 0)

**Order** (decision): for each kWh bought with money,

1. free units, then the lifeline, then the tariff's monthly steps choose the
   base price by the kWh used so far this month (free units win where both
   cover a kWh; a TOU rate price, :mod:`sts.meter.metering`, replaces a step
   price but never a free or lifeline price);
2. the per-kWh subsidy is taken off that price, then the percentage;
3. levies and VAT apply to what is left, as they do to any step price;
4. at month end the monthly subsidy is taken off the service charge, then the
   fixed charges, after their VAT.

The free-unit and lifeline thresholds become step bounds, so with them the
tariff may hold at most 10 steps in all. Worked example: steps 2.00/kWh up to
100 kWh then 3.00; lifeline 50 kWh at 0.50; 10 % off. The 40th kWh costs
0.50 * 0.9 = 0.45, the 60th 2.00 * 0.9 = 1.80, the 120th 3.00 * 0.9 = 2.70::

    >>> from sts.meter.config import EnergyStep, TariffConfig
    >>> tariff = TariffConfig(steps=(EnergyStep(Decimal(100), Decimal(2)),
    ...                              EnergyStep(None, Decimal(3))))
    >>> p = pricing(tariff, {}, (Subsidy(Kind.LIFELINE, Decimal(50), Decimal("0.50")),
    ...                          Subsidy(Kind.PERCENT, None, Decimal(10))))
    >>> [(str(s.upto_kwh), str(s.price)) for s in p.tariff.steps], sorted(p.subsidised)
    ([('50', '0.45'), ('100', '1.8'), ('None', '2.7')], [0])

Free units are handed to the tariff engine apart (``free_kwh``), as a first
step at price 0 before these steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sts.errors import FormatError, RangeError
from sts.meter import strict
from sts.meter.config import MAX_STEPS, EnergyStep, TariffConfig

MAX_SUBSIDIES = 5
_HUNDRED = Decimal(100)


class Kind(StrEnum):
    FREE_UNITS = "free_units"
    LIFELINE = "lifeline"
    PER_KWH = "per_kwh"
    PERCENT = "percent"
    MONTHLY = "monthly"


_NEEDS_KWH = {Kind.FREE_UNITS, Kind.LIFELINE}
_NEEDS_AMOUNT = {Kind.LIFELINE, Kind.PER_KWH, Kind.PERCENT, Kind.MONTHLY}


@dataclass(frozen=True)
class Subsidy:
    """One subsidy: its kind, a monthly kWh threshold and/or an amount (see the module)."""

    kind: Kind
    kwh: Decimal | None = None
    amount: Decimal | None = None

    def __post_init__(self) -> None:
        kind = Kind(self.kind)
        object.__setattr__(self, "kind", kind)
        if (self.kwh is not None) != (kind in _NEEDS_KWH):
            raise RangeError(
                f"subsidy {kind.value} {'needs' if kind in _NEEDS_KWH else 'takes no'} kwh"
            )
        if (self.amount is not None) != (kind in _NEEDS_AMOUNT):
            raise RangeError(
                f"subsidy {kind.value} {'needs' if kind in _NEEDS_AMOUNT else 'takes no'} amount"
            )
        if self.kwh is not None and not Decimal(0) < self.kwh <= Decimal(100_000):
            raise RangeError(f"subsidy {kind.value} kwh {self.kwh} is not above 0, <= 100000")
        if self.amount is not None:
            high = _HUNDRED if kind is Kind.PERCENT else Decimal(1_000_000)
            if not Decimal(0) <= self.amount <= high:
                raise RangeError(f"subsidy {kind.value} amount {self.amount} is not 0-{high}")

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind.value}
        if self.kwh is not None:
            data["kwh"] = str(self.kwh)
        if self.amount is not None:
            data["amount"] = str(self.amount)
        return data

    @classmethod
    def from_dict(cls, data: Any, path: str) -> Subsidy:
        d = strict.obj(data, path, ("kind",), ("kwh", "amount"))
        try:
            kind = Kind(d["kind"])
        except ValueError:
            kinds = ", ".join(k.value for k in Kind)
            raise FormatError(f"{path}.kind is {d['kind']!r}; expected one of {kinds}") from None
        kwh = None if "kwh" not in d else strict.as_decimal(d["kwh"], f"{path}.kwh")
        amount = None if "amount" not in d else strict.as_decimal(d["amount"], f"{path}.amount")
        try:
            return cls(kind, kwh, amount)
        except RangeError as exc:
            raise FormatError(f"{path}: {exc}") from None


def check_subsidies(subsidies: tuple[Subsidy, ...]) -> None:
    if len(subsidies) > MAX_SUBSIDIES:
        raise RangeError(f"{len(subsidies)} subsidies; the meter holds at most {MAX_SUBSIDIES}")
    kinds = [s.kind for s in subsidies]
    if len(set(kinds)) != len(kinds):
        raise RangeError("each kind of subsidy may be given once")


@dataclass(frozen=True)
class Pricing:
    """The tariff the money wallet pays: subsidised steps and rate prices, which step
    indices a rate price must not replace, and the monthly subsidy."""

    tariff: TariffConfig
    rate_prices: Mapping[int, Decimal]
    subsidised: frozenset[int]
    monthly_credit: Decimal
    free_kwh: Decimal = Decimal(0)  # a free first step before ``tariff``'s steps


def pricing(
    tariff: TariffConfig, rate_prices: Mapping[int, Decimal], subsidies: tuple[Subsidy, ...]
) -> Pricing:
    """The effective prices after ``subsidies`` (order in the module docstring)."""
    check_subsidies(subsidies)
    by_kind = {s.kind: s for s in subsidies}
    free = by_kind.get(Kind.FREE_UNITS)
    lifeline = by_kind.get(Kind.LIFELINE)
    per_kwh = by_kind[Kind.PER_KWH].amount if Kind.PER_KWH in by_kind else Decimal(0)
    percent = by_kind[Kind.PERCENT].amount if Kind.PERCENT in by_kind else Decimal(0)
    monthly = by_kind[Kind.MONTHLY].amount if Kind.MONTHLY in by_kind else Decimal(0)
    assert per_kwh is not None and percent is not None and monthly is not None

    def subsidise(price: Decimal) -> Decimal:
        return max(Decimal(0), price - per_kwh) * (_HUNDRED - percent) / _HUNDRED

    free_kwh = free.kwh if free is not None else Decimal(0)
    life_kwh = lifeline.kwh if lifeline is not None else Decimal(0)
    assert free_kwh is not None and life_kwh is not None
    bounds = sorted(
        {s.upto_kwh for s in tariff.steps if s.upto_kwh is not None}
        | ({free_kwh} if free else set())
        | ({life_kwh} if lifeline else set())
    )
    segments: list[tuple[Decimal | None, Decimal, bool]] = []
    for upto in [*bounds, None]:
        below = upto if upto is not None else None
        if below is not None and below <= free_kwh:
            price, special = Decimal(0), True
        elif lifeline is not None and below is not None and below <= life_kwh:
            assert lifeline.amount is not None
            price, special = subsidise(lifeline.amount), True
        else:
            price, special = subsidise(_step_price(tariff, below)), False
        if segments and segments[-1][1:] == (price, special):
            segments[-1] = (upto, price, special)
        else:
            segments.append((upto, price, special))
    if len(segments) > MAX_STEPS:
        raise RangeError(
            f"with the subsidy thresholds the tariff has {len(segments)} steps; at most {MAX_STEPS}"
        )
    # the free segment (price 0, which a configured step may not have) goes to the
    # tariff engine apart, as its first step
    priced = segments[1:] if free is not None else segments
    steps = tuple(EnergyStep(upto, price) for upto, price, _ in priced)
    return Pricing(
        replace(tariff, steps=steps),
        {rate: subsidise(price) for rate, price in rate_prices.items()},
        frozenset(i for i, (_, _, special) in enumerate(priced) if special),
        monthly,
        free_kwh,
    )


def _step_price(tariff: TariffConfig, upto: Decimal | None) -> Decimal:
    """The price of the original step a segment ending at ``upto`` lies in."""
    for step in tariff.steps:
        if step.upto_kwh is None or (upto is not None and upto <= step.upto_kwh):
            return step.price
    return tariff.steps[-1].price
