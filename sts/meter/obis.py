"""OBIS codes, DLMS units and scalers: how the meter names and scales its quantities.

Every register the simulated meter keeps is identified the way a DLMS/COSEM
meter identifies it: an OBIS code (IEC 62056-6-1, six value groups A.B.C.D.E.F)
and a *scaler-unit* (IEC 62056-6-2, class 3 "register", attribute 3): the
value is an integer and the quantity it stands for is ``value * 10**scaler``
in ``unit``. A DLMS server can therefore serve each :class:`RegisterSpec` as
one class 3 object, one to one::

    >>> code = ObisCode.parse("1.0.1.8.0.255")
    >>> code, code.with_rate(3)
    (ObisCode('1.0.1.8.0.255'), ObisCode('1.0.1.8.3.255'))
    >>> SPECS[code].unit, SPECS[code].scaler
    (<Unit.WATT_HOUR: 30>, 0)
    >>> SPECS[ObisCode.parse("1.0.32.7.0.255")].quantity(2301)
    Decimal('230.1')

Value group C names the quantity (1 +A, 2 -A, 5-8 reactive Q1-Q4, 9/10
apparent import/export, 15 |A|, 13 power factor, 14 frequency, 31 current,
32 voltage, 81 angle, 91 neutral current), D the kind (7 instantaneous,
8 time integral since the start: an energy register) and E the tariff rate
(0 total, 1-8 per rate).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import IntEnum

from sts.errors import FormatError, shown


class Unit(IntEnum):
    """DLMS unit enumeration values (IEC 62056-6-2, the 'unit' table)."""

    DEGREE = 8
    WATT = 27
    VOLT_AMPERE = 28
    VAR = 29
    WATT_HOUR = 30
    VOLT_AMPERE_HOUR = 31
    VAR_HOUR = 32
    AMPERE = 33
    VOLT = 35
    HERTZ = 44
    NONE = 255

    @property
    def symbol(self) -> str:
        return _SYMBOLS[self]


_SYMBOLS = {
    Unit.DEGREE: "deg",
    Unit.WATT: "W",
    Unit.VOLT_AMPERE: "VA",
    Unit.VAR: "var",
    Unit.WATT_HOUR: "Wh",
    Unit.VOLT_AMPERE_HOUR: "VAh",
    Unit.VAR_HOUR: "varh",
    Unit.AMPERE: "A",
    Unit.VOLT: "V",
    Unit.HERTZ: "Hz",
    Unit.NONE: "",
}


@dataclass(frozen=True, order=True)
class ObisCode:
    """Six value groups A.B.C.D.E.F, each 0-255."""

    a: int
    b: int
    c: int
    d: int
    e: int
    f: int

    def __post_init__(self) -> None:
        for group in (self.a, self.b, self.c, self.d, self.e, self.f):
            if not isinstance(group, int) or not 0 <= group <= 255:
                raise FormatError(f"OBIS value group {group!r} is not 0-255")

    @classmethod
    def parse(cls, text: str) -> ObisCode:
        """An OBIS code from 'A.B.C.D.E.F' (dots; also 'A-B:C.D.E*F')."""
        if not isinstance(text, str):
            raise FormatError(f"OBIS code {shown(text)} is not text like '1.0.1.8.0.255'")
        normal = text.strip().replace("-", ".").replace(":", ".").replace("*", ".")
        parts = normal.split(".")
        if len(parts) != 6 or not all(p.isascii() and p.isdigit() for p in parts):
            raise FormatError(f"OBIS code {shown(text)} is not six numbers like '1.0.1.8.0.255'")
        return cls(*(int(p) for p in parts))

    def with_rate(self, rate: int) -> ObisCode:
        """The same quantity for tariff rate ``rate`` (value group E)."""
        return ObisCode(self.a, self.b, self.c, self.d, rate, self.f)

    def to_bytes(self) -> bytes:
        """The 6-byte logical name DLMS uses on the wire."""
        return bytes((self.a, self.b, self.c, self.d, self.e, self.f))

    def __str__(self) -> str:
        return f"{self.a}.{self.b}.{self.c}.{self.d}.{self.e}.{self.f}"

    def __repr__(self) -> str:
        return f"ObisCode('{self}')"


@dataclass(frozen=True)
class RegisterSpec:
    """One register: its OBIS code, a name, and its DLMS scaler and unit."""

    obis: ObisCode
    name: str
    scaler: int
    unit: Unit

    def quantity(self, value: int) -> Decimal:
        """The physical quantity of a raw register value: ``value * 10**scaler``."""
        return Decimal(value).scaleb(self.scaler)


def _spec(code: str, name: str, scaler: int, unit: Unit) -> RegisterSpec:
    return RegisterSpec(ObisCode.parse(code), name, scaler, unit)


MAX_RATES = 8

# Energy registers (class 3, D = 8: time integral). Energy is counted whole Wh.
ACTIVE_IMPORT = _spec("1.0.1.8.0.255", "active energy import (+A)", 0, Unit.WATT_HOUR)
ACTIVE_EXPORT = _spec("1.0.2.8.0.255", "active energy export (-A)", 0, Unit.WATT_HOUR)
ACTIVE_ABSOLUTE = _spec("1.0.15.8.0.255", "active energy absolute |A|", 0, Unit.WATT_HOUR)
REACTIVE_Q1 = _spec("1.0.5.8.0.255", "reactive energy Q1", 0, Unit.VAR_HOUR)
REACTIVE_Q2 = _spec("1.0.6.8.0.255", "reactive energy Q2", 0, Unit.VAR_HOUR)
REACTIVE_Q3 = _spec("1.0.7.8.0.255", "reactive energy Q3", 0, Unit.VAR_HOUR)
REACTIVE_Q4 = _spec("1.0.8.8.0.255", "reactive energy Q4", 0, Unit.VAR_HOUR)
APPARENT_IMPORT = _spec("1.0.9.8.0.255", "apparent energy import", 0, Unit.VOLT_AMPERE_HOUR)
APPARENT_EXPORT = _spec("1.0.10.8.0.255", "apparent energy export", 0, Unit.VOLT_AMPERE_HOUR)

# Instantaneous values (class 3, D = 7).
VOLTAGE = _spec("1.0.32.7.0.255", "voltage L1", -1, Unit.VOLT)
CURRENT = _spec("1.0.31.7.0.255", "current L1", -2, Unit.AMPERE)
NEUTRAL_CURRENT = _spec("1.0.91.7.0.255", "neutral current", -2, Unit.AMPERE)
ACTIVE_POWER = _spec("1.0.1.7.0.255", "active power import", 0, Unit.WATT)
ACTIVE_POWER_EXPORT = _spec("1.0.2.7.0.255", "active power export", 0, Unit.WATT)
REACTIVE_POWER = _spec("1.0.3.7.0.255", "reactive power (+ inductive)", 0, Unit.VAR)
APPARENT_POWER = _spec("1.0.9.7.0.255", "apparent power", 0, Unit.VOLT_AMPERE)
POWER_FACTOR = _spec("1.0.13.7.0.255", "power factor", -3, Unit.NONE)
FREQUENCY = _spec("1.0.14.7.0.255", "supply frequency", -2, Unit.HERTZ)
PHASE_ANGLE = _spec("1.0.81.7.40.255", "angle I(L1) to U(L1)", -1, Unit.DEGREE)

TOTAL_ENERGY = (
    ACTIVE_IMPORT,
    ACTIVE_EXPORT,
    ACTIVE_ABSOLUTE,
    REACTIVE_Q1,
    REACTIVE_Q2,
    REACTIVE_Q3,
    REACTIVE_Q4,
    APPARENT_IMPORT,
    APPARENT_EXPORT,
)
INSTANTANEOUS = (
    VOLTAGE,
    CURRENT,
    NEUTRAL_CURRENT,
    ACTIVE_POWER,
    ACTIVE_POWER_EXPORT,
    REACTIVE_POWER,
    APPARENT_POWER,
    POWER_FACTOR,
    FREQUENCY,
    PHASE_ANGLE,
)


# The pulse output (the datasheet's configurable pulse constant): pulses emitted so far.
# No standard OBIS code names a pulse count (1.0.0.3.0/1 are the meter *constants*), so
# these use manufacturer-specific value groups C = 128 and 129. They are listed by
# ``sts meter registers`` but are not in SPECS: no survey captures them and the DLMS
# server does not serve them.
PULSES_ACTIVE = _spec("1.0.128.8.0.255", "pulse output, active import (pulses)", 0, Unit.NONE)
PULSES_REACTIVE = _spec("1.0.129.8.0.255", "pulse output, reactive (pulses)", 0, Unit.NONE)


def _rated(spec: RegisterSpec, rate: int) -> RegisterSpec:
    return RegisterSpec(
        spec.obis.with_rate(rate), f"{spec.name} rate {rate}", spec.scaler, spec.unit
    )


RATE_IMPORT = tuple(_rated(ACTIVE_IMPORT, r) for r in range(1, MAX_RATES + 1))
RATE_EXPORT = tuple(_rated(ACTIVE_EXPORT, r) for r in range(1, MAX_RATES + 1))

SPECS: dict[ObisCode, RegisterSpec] = {
    spec.obis: spec for spec in (*TOTAL_ENERGY, *RATE_IMPORT, *RATE_EXPORT, *INSTANTANEOUS)
}
"""Every register the meter serves, by OBIS code."""


def spec_of(code: str | ObisCode) -> RegisterSpec:
    """The register with OBIS ``code``; FormatError naming it when the meter has none."""
    obis = code if isinstance(code, ObisCode) else ObisCode.parse(code)
    try:
        return SPECS[obis]
    except KeyError:
        raise FormatError(f"the meter has no register with OBIS code {obis}") from None
