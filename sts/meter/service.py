"""What a simulated meter measures: electricity, water or gas, and what that changes.

A meter's *service* is part of its credit set-up (``CreditConfig.service``;
a state file or set-up without it is an electricity meter). It decides which
class 0 subclasses the meter takes (sts-reference 2.1), which registers a
ClearCredit token may name (2.3: 0/4 electricity, 1/5 water, 2/6 gas, or
0xFFFF for all), and the unit its unit register is shown in:

===========  ======================  =====================  ===================
service      unit tokens             currency tokens        ClearCredit
===========  ======================  =====================  ===================
electricity  subclass 0, 0.1 kWh     subclass 4             0, 4, 0xFFFF
water        subclass 1, 0.1 m3      subclass 5             1, 5, 0xFFFF
gas          subclass 2, 0.1 m3      subclass 6             2, 6, 0xFFFF
===========  ======================  =====================  ===================

Any other subclass is Function (8), as for an electricity meter today.

The volume register. A water or gas meter keeps its volume in the credit
engine's unit register, the one an electricity meter keeps kWh in, with one
cubic metre where an electricity meter has one kWh: its maximum is the same
999,999.9 (``CreditConfig.energy_max_kwh``, which vending's per-token limit
matches, so a token vending splits off never overflows an empty meter), its
resolution the same 0.1 of a token unit. A flow of 1 m3/h is drawn as the
electricity meter draws 1 kW (:func:`flow_load_w`): 1 m3/h for 30 minutes
draws 0.5 m3. The valve is the meter's relay: it closes (the relay opens) when
credit runs out, with the same relay event. Tariff steps, emergency credit and
alarm levels, given "per kWh" in the set-up, are per m3 on a water or gas meter.

Water meter factor (class 2 subclass 7) stays Function (8) on every meter:
sts-reference 2.3 calls it "reserved by STSA for water", and the one source
that gives it a coding does not say what the factor multiplies.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from sts.amounts import AmountRule, check_amount
from sts.errors import FormatError, shown
from sts.tokens.credit import CreditKind
from sts.tokens.management import Register

W_PER_M3_PER_H = 1000
"""A flow of 1 m3/h draws the unit register as 1 kW draws an electricity meter's (1 kWh/h)."""

MAX_FLOW = Decimal(100_000)
"""The largest flow in m3/h (= the meter's largest load, 100 MW)."""

FLOW = AmountRule("flow", MAX_FLOW, places=3, unit="m3/h")


class MeterService(StrEnum):
    """What the meter measures."""

    ELECTRICITY = "electricity"
    WATER = "water"
    GAS = "gas"

    @classmethod
    def parse(cls, value: object) -> MeterService:
        try:
            return cls(value)
        except ValueError:
            choices = ", ".join(s.value for s in cls)
            raise FormatError(f"meter service {shown(value)} is not one of {choices}") from None

    @property
    def unit(self) -> str:
        """The unit of the unit register and of this service's unit tokens."""
        return "kWh" if self is MeterService.ELECTRICITY else "m3"

    @property
    def register_name(self) -> str:
        """What the display calls the unit register."""
        return "energy" if self is MeterService.ELECTRICITY else "volume"

    @property
    def _base(self) -> int:
        return {MeterService.ELECTRICITY: 0, MeterService.WATER: 1, MeterService.GAS: 2}[self]

    @property
    def units_kind(self) -> CreditKind:
        """The class 0 subclass of this service's unit tokens (0, 1 or 2)."""
        return CreditKind(self._base)

    @property
    def currency_kind(self) -> CreditKind:
        """The class 0 subclass of this service's currency tokens (4, 5 or 6)."""
        return CreditKind(self._base + 4)

    @property
    def credit_kinds(self) -> frozenset[CreditKind]:
        return frozenset({self.units_kind, self.currency_kind})

    @property
    def units_register(self) -> Register:
        return Register(self._base)

    @property
    def currency_register(self) -> Register:
        return Register(self._base + 4)

    @property
    def clearable(self) -> frozenset[Register]:
        """The registers a ClearCredit token may name on this meter."""
        return frozenset({self.units_register, self.currency_register, Register.ALL})


def service_of(kind: CreditKind) -> MeterService | None:
    """The service a credit subclass belongs to (None for time, which no meter here takes)."""
    return {0: MeterService.ELECTRICITY, 1: MeterService.WATER, 2: MeterService.GAS}.get(kind & 3)


def flow_load_w(flow_m3_per_h: Decimal) -> int:
    """The load that draws the unit register as ``flow_m3_per_h`` draws a volume register.

    >>> flow_load_w(Decimal("1"))
    1000
    >>> flow_load_w(Decimal("0.25"))
    250
    """
    flow = check_amount(flow_m3_per_h, FLOW)
    return int(flow * W_PER_M3_PER_H)


def load_flow(load_w: int) -> Decimal:
    """The flow in m3/h a water or gas meter's standing load stands for (3 places).

    >>> load_flow(1000)
    Decimal('1.000')
    """
    return (Decimal(load_w) / W_PER_M3_PER_H).quantize(Decimal("0.001"))


__all__ = ["FLOW", "MAX_FLOW", "MeterService", "flow_load_w", "load_flow", "service_of"]
