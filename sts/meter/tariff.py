"""The meter's own tariff: what money pays for energy, and the monthly charges.

:class:`MeterTariff` compiles a :class:`~sts.meter.config.TariffConfig` into
exact integer prices so the credit engine can charge each stretch of
consumption without rounding drift. The price of a kWh in step ``i`` is::

    energy = step price
    levies = sum(per-kWh levies) + step price * sum(levy percents) / 100
    price  = energy * (1 + VAT on energy / 100) + levies * (1 + VAT on levies / 100)

Prices are held as a numerator per joule over one common denominator, in
money units (0.00001 of the currency). Charging ``j`` joules adds
``numerator * j`` to a running remainder and takes the whole money units out
of it, so a thousand small charges cost exactly what one big one would::

    >>> from sts.meter.config import EnergyStep, TariffConfig
    >>> tariff = MeterTariff(TariffConfig(steps=(EnergyStep(Decimal(50), Decimal("1.50")),
    ...                                          EnergyStep(None, Decimal(2)))))
    >>> tariff.price_per_kwh(0), tariff.price_per_kwh(180_000_000)
    (Decimal('1.50'), Decimal('2'))
    >>> tariff.charge(3_600_000, 0, carry=0)   # 1 kWh in step 1 costs 1.50
    (150000, 0)

The service charge step (chosen by the month's consumption) and the fixed
charges, each with its VAT, are due when a month closes: see
:meth:`MeterTariff.monthly_charges`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from math import lcm

from sts.meter.config import ChargeKind, TariffConfig
from sts.meter.units import J_PER_KWH, MONEY_SCALE, kwh_to_j

_HUNDRED = Decimal(100)


@dataclass(frozen=True)
class MonthlyCharges:
    """What a closed month costs on top of its energy, VAT included, in money units."""

    service: int
    fixed: int

    @property
    def total(self) -> int:
        return self.service + self.fixed


class MeterTariff:
    """Integer prices per joule for each step, and the monthly charges."""

    def __init__(
        self,
        config: TariffConfig,
        rate_prices: Mapping[int, Decimal] | None = None,
        subsidised: frozenset[int] = frozenset(),
        monthly_credit: Decimal = Decimal(0),
        free_kwh: Decimal = Decimal(0),
    ) -> None:
        self.config = config
        self._subsidised = subsidised  # steps (free units, lifeline) a rate price never replaces
        self._monthly_credit = _to_units(monthly_credit)
        vat_energy = 1 + config.vat_percent(ChargeKind.ENERGY) / _HUNDRED
        vat_levy = 1 + config.vat_percent(ChargeKind.LEVY) / _HUNDRED
        per_kwh_levies = sum((levy.per_kwh for levy in config.levies), Decimal(0))
        levy_percent = sum((levy.percent for levy in config.levies), Decimal(0))
        self._kwh_prices: list[Decimal] = []
        rates = sorted((rate_prices or {}).items())
        for price in [step.price for step in config.steps] + [p for _, p in rates]:
            levies = per_kwh_levies + price * levy_percent / _HUNDRED
            self._kwh_prices.append(price * vat_energy + levies * vat_levy)
        per_joule = [Fraction(p) * MONEY_SCALE / J_PER_KWH for p in self._kwh_prices]
        self.denominator: int = lcm(*(f.denominator for f in per_joule))
        scaled = [f.numerator * (self.denominator // f.denominator) for f in per_joule]
        steps = len(config.steps)
        self.numerators: tuple[int, ...] = tuple(scaled[:steps])
        # TOU rate prices replace the step price (rule: sts.meter.metering)
        self._rate_numerators = {r: n for (r, _), n in zip(rates, scaled[steps:], strict=True)}
        del self._kwh_prices[steps:]
        self.bounds_j: tuple[int | None, ...] = tuple(
            None if s.upto_kwh is None else kwh_to_j(s.upto_kwh, "tariff step bound")
            for s in config.steps
        )
        if free_kwh:  # free units (sts.meter.subsidy): a first step that costs nothing
            self.numerators = (0, *self.numerators)
            self.bounds_j = (kwh_to_j(free_kwh, "free units"), *self.bounds_j)
            self._kwh_prices.insert(0, Decimal(0))
            self._subsidised = frozenset({0, *(i + 1 for i in subsidised)})
        self._service_bounds_j = tuple(
            None if s.upto_kwh is None else kwh_to_j(s.upto_kwh, "service step bound")
            for s in config.service_charge
        )

    def step_index(self, month_j: int) -> int:
        """The step that prices the next joule after ``month_j`` joules this month."""
        for index, bound in enumerate(self.bounds_j):
            if bound is None or month_j < bound:
                return index
        raise AssertionError("the last tariff step has no bound")  # pragma: no cover

    def numerator(self, index: int, rate: int = 0) -> int:
        """The price numerator of step ``index``, or of TOU ``rate`` where it has a price."""
        numerator = self._rate_numerators.get(rate)
        if numerator is None or index in self._subsidised:
            return self.numerators[index]
        return numerator

    @property
    def free_j(self) -> int:
        """Joules at the start of each month that cost nothing (free units; 0: none)."""
        bound = self.bounds_j[0]
        return bound if bound is not None and self.numerators[0] == 0 else 0

    def price_per_kwh(self, month_j: int) -> Decimal:
        """The price of the next kWh, levies and VAT included."""
        return self._kwh_prices[self.step_index(month_j)]

    def charge(self, joules: int, month_j: int, carry: int) -> tuple[int, int]:
        """(money units, new carry) for ``joules`` within the step at ``month_j``."""
        total = carry + self.numerators[self.step_index(month_j)] * joules
        units, rest = divmod(total, self.denominator)
        return units, rest

    def joules_for(self, units: int, month_j: int, carry: int) -> int:
        """The fewest joules at the step of ``month_j`` whose cost reaches ``units``."""
        numerator = self.numerators[self.step_index(month_j)]
        return max(0, -((carry - units * self.denominator) // numerator))

    def monthly_charges(self, month_j: int) -> MonthlyCharges:
        """Service charge for a month that used ``month_j`` joules, plus fixed charges."""
        config = self.config
        service = Decimal(0)
        for step, bound in zip(config.service_charge, self._service_bounds_j, strict=True):
            if bound is None or month_j < bound:
                service = step.amount
                break
        fixed = sum((f.amount for f in config.fixed_charges), Decimal(0))
        service *= 1 + config.vat_percent(ChargeKind.SERVICE) / _HUNDRED
        fixed *= 1 + config.vat_percent(ChargeKind.FIXED) / _HUNDRED
        service_units, fixed_units = _to_units(service), _to_units(fixed)
        credit = self._monthly_credit  # a monthly subsidy: off the service charge, then fixed
        off_service = min(credit, service_units)
        off_fixed = min(credit - off_service, fixed_units)
        return MonthlyCharges(service_units - off_service, fixed_units - off_fixed)


def _to_units(amount: Decimal) -> int:
    return int((amount * MONEY_SCALE).to_integral_value(rounding=ROUND_HALF_UP))
