"""Metering: the measuring side of the meter, beside the credit engine.

:class:`Metering` holds the load model (:mod:`sts.meter.measurement`), the
TOU activity calendar (:mod:`sts.meter.calendar`) and the energy registers
(:mod:`sts.meter.registers`), and rides on the credit engine's clock: the
meter hands the engine a load profile whose every stretch is cut where the
load point *or the tariff rate* changes, and the engine reports back, for
each stretch, the energy it actually delivered. So:

- +A (import) is exactly the energy the credit engine delivered and charged:
  a relay opened by no credit, a power-limit trip or tamper stops the
  registers at the same second it stops the supply;
- export (P < 0) and reactive energy count while the relay is closed;
  reactive and apparent energy of an import stretch are scaled by the share
  of the stretch the relay was closed (Q * delivered / P);
- prepayment draws credit on imported energy only.

**Net metering** (``net_metering``, off by default). Off: export is
registered (-A) and never adds credit. On: each exported joule is added to
the energy wallet as it is exported, kWh for kWh, up to the wallet's maximum
(what does not fit is registered but not credited); owed emergency credit
and debt are not repaid from it (tokens repay those). The ledger counts it
apart (``export_credited_j``), so credit from tokens stays auditable.

**TOU prices** (``rate_prices``, currency mode). A kWh bought with money in
rate ``r`` costs ``rate_prices[r]`` *instead of* the step price when the rate
has a price; a rate without one pays the step price. The monthly steps go on
counting every kWh (they price the rates without a price, and choose the
service-charge step); levies and VAT apply to a rate price exactly as to a
step price; monthly service and fixed charges are unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sts.errors import FormatError, RangeError
from sts.meter import obis, strict
from sts.meter.calendar import ActivityCalendar
from sts.meter.localtime import LocalCalendar, epoch_seconds
from sts.meter.measurement import Instant, LoadModel, LoadPoint, SupplyConfig
from sts.meter.obis import MAX_RATES, RegisterSpec
from sts.meter.profile import LoadProfile
from sts.meter.registers import EnergyRegisters

if TYPE_CHECKING:
    from sts.meter.credit import CreditEngine

SECTION_VERSION = 1
_MAX_PRICE = Decimal("1000000")


@dataclass(frozen=True)
class MeteringConfig:
    """Supply rating, net metering and TOU prices (see the module docstring)."""

    supply: SupplyConfig = field(default_factory=SupplyConfig)
    net_metering: bool = False
    rate_prices: Mapping[int, Decimal] = field(default_factory=dict)

    def __post_init__(self) -> None:
        prices = dict(self.rate_prices)
        for rate, price in prices.items():
            if not isinstance(rate, int) or not 1 <= rate <= MAX_RATES:
                raise RangeError(f"TOU rate {rate!r} is not 1-{MAX_RATES}")
            if not isinstance(price, Decimal) or not Decimal(0) < price <= _MAX_PRICE:
                raise RangeError(
                    f"price {price!r} of rate {rate} is not above 0 and at most {_MAX_PRICE}"
                )
        object.__setattr__(self, "rate_prices", prices)

    def to_dict(self) -> dict[str, Any]:
        return {
            "supply": self.supply.to_dict(),
            "net_metering": self.net_metering,
            "rate_prices": {str(r): str(p) for r, p in sorted(self.rate_prices.items())},
        }

    @classmethod
    def from_dict(cls, data: Any, path: str = "metering.config") -> MeteringConfig:
        d = strict.obj(data, path, (), ("supply", "net_metering", "rate_prices"))
        prices_in = d.get("rate_prices", {})
        if not isinstance(prices_in, dict):
            raise FormatError(f"{path}.rate_prices is not an object of rate: price")
        prices = {}
        for key, value in prices_in.items():
            if not (isinstance(key, str) and key.isdigit() and 1 <= int(key) <= MAX_RATES):
                raise FormatError(
                    f"{path}.rate_prices has rate {key!r}; expected '1'-'{MAX_RATES}'"
                )
            price = strict.as_decimal(value, f"{path}.rate_prices.{key}", Decimal(0), _MAX_PRICE)
            if not price:
                raise FormatError(f"{path}.rate_prices.{key} is 0; a rate price must be above 0")
            prices[int(key)] = price
        return cls(
            SupplyConfig.from_dict(d.get("supply", {}), f"{path}.supply"),
            strict.as_bool(d.get("net_metering", False), f"{path}.net_metering"),
            prices,
        )


@dataclass(frozen=True)
class Reading:
    """One register as a DLMS client reads it: spec, raw value, and the quantity."""

    spec: RegisterSpec
    value: int

    @property
    def quantity(self) -> Decimal:
        return self.spec.quantity(self.value)

    def to_dict(self) -> dict[str, Any]:
        return {
            "obis": str(self.spec.obis),
            "name": self.spec.name,
            "value": self.value,
            "scaler": self.spec.scaler,
            "unit": int(self.spec.unit),
            "unit_symbol": self.spec.unit.symbol,
            "quantity": str(self.quantity),
        }


class _MeteredProfile(LoadProfile):
    """The credit engine's view of the load model: import watts, cut at metering changes."""

    def __init__(self, metering: Metering) -> None:
        super().__init__(constant=0)
        self.span = metering._span  # type: ignore[method-assign]

    @property
    def storable(self) -> bool:
        return False


class Metering:
    """Load model, calendar and registers of one meter (see the module docstring)."""

    def __init__(
        self,
        config: MeteringConfig | None = None,
        calendar: ActivityCalendar | None = None,
        registers: EnergyRegisters | None = None,
        load: LoadModel | None = None,
    ) -> None:
        self.config = config or MeteringConfig()
        self.calendar = calendar or ActivityCalendar()
        self.registers = registers or EnergyRegisters()
        self.load = load or LoadModel(constant=LoadPoint(0))
        self._cal = LocalCalendar("UTC")
        self._point = LoadPoint(0)
        self._rate = 1
        self._rate_until = -1
        self._engine: CreditEngine | None = None
        self.listeners: list[Callable[[int, int, int, bool, LoadPoint, int], None]] = []

    def bind(self, engine: CreditEngine) -> None:
        """Ride on ``engine``'s clock: report stretches, credit export, price rates."""
        self._engine = engine
        self._cal = LocalCalendar(engine.config.timezone)
        engine.observer = self._observe
        if self.config.rate_prices:
            engine.set_rate_prices(self.config.rate_prices)

    # -- the clock --------------------------------------------------------------------------

    def profile(self, load: Any, step_s: int) -> LoadProfile:
        """The engine's load profile for ``load`` (None: the standing load model)."""
        if load is not None:
            self.load = LoadModel.of(load, step_s)
        return _MeteredProfile(self)

    def settle_load(self) -> None:
        """After a run: a load given as a function stands on as its last point."""
        if not self.load.storable:
            self.load = LoadModel(constant=self._point)

    def _span(self, calendar: LocalCalendar, t: int, limit: int) -> tuple[int, int]:
        point, held = self.load.span(calendar, t, limit)
        if t >= self._rate_until:
            self._rate, self._rate_until = self.calendar.span(calendar, t)
            if self._engine is not None:
                self._engine.tou_rate = self._rate
        left = self._rate_until - t
        if left < held:
            held = left
        self._point = point
        return (point.active_w if point.active_w > 0 else 0), held

    def _observe(self, t0: int, t1: int, delivered: int, closed: bool) -> None:
        point = self._point
        p = point.active_w
        q = point.reactive_var
        rate = self._rate
        if p > 0:
            if delivered:
                self.registers.add(
                    rate,
                    delivered,
                    0,
                    abs(q) * delivered // p,
                    point.quadrant,
                    point.apparent_va * delivered // p,
                    0,
                )
        elif closed and (p or q):
            seconds = t1 - t0
            exported = -p * seconds
            s = point.apparent_va * seconds
            self.registers.add(
                rate, 0, exported, abs(q) * seconds, point.quadrant, 0 if p else s, s if p else 0
            )
            if exported and self.config.net_metering and self._engine is not None:
                self._engine.credit_export(exported, t1)
        for listener in self.listeners:
            listener(t0, t1, delivered, closed, point, rate)

    # -- reading ----------------------------------------------------------------------------

    def rate_at(self, when: datetime) -> int:
        """The TOU rate in force at ``when`` (1 without a calendar)."""
        return self.calendar.rate_at(when.astimezone(self._cal.tz))

    def instant(self, when: datetime, relay_closed: bool) -> Instant:
        """The instantaneous values at ``when`` under the standing load model."""
        point, _ = self.load.span(self._cal, epoch_seconds(when), 1)
        return Instant.of(point, self.config.supply, relay_closed)

    def readings(self, when: datetime, relay_closed: bool) -> list[Reading]:
        """Every register, energy then instantaneous, as (spec, raw value)."""
        r = self.registers
        out = [Reading(spec, r.value(spec.obis)) for spec in obis.TOTAL_ENERGY]
        out += [Reading(spec, r.value(spec.obis)) for spec in obis.RATE_IMPORT]
        out += [Reading(spec, r.value(spec.obis)) for spec in obis.RATE_EXPORT]
        i = self.instant(when, relay_closed)
        p = i.active_w
        raw = {
            obis.VOLTAGE: int(i.voltage_v * 10),
            obis.CURRENT: int(i.current_a * 100),
            obis.NEUTRAL_CURRENT: int(i.neutral_a * 100),
            obis.ACTIVE_POWER: p if p > 0 else 0,
            obis.ACTIVE_POWER_EXPORT: -p if p < 0 else 0,
            obis.REACTIVE_POWER: i.reactive_var,
            obis.APPARENT_POWER: i.apparent_va,
            obis.POWER_FACTOR: int(i.power_factor * 1000),
            obis.FREQUENCY: int(i.frequency_hz * 100),
            obis.PHASE_ANGLE: int(i.angle_deg * 10),
        }
        out += [Reading(spec, raw[spec]) for spec in obis.INSTANTANEOUS]
        return out

    # -- persistence ------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": SECTION_VERSION,
            "config": self.config.to_dict(),
            "calendar": self.calendar.to_dict(),
            "registers": self.registers.to_dict(),
            "load": self.load.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Any, path: str = "metering") -> Metering:
        d = strict.obj(data, path, ("version", "config", "calendar", "registers", "load"))
        if d["version"] != SECTION_VERSION:
            raise FormatError(f"{path}.version is {d['version']!r}; expected {SECTION_VERSION}")
        return cls(
            MeteringConfig.from_dict(d["config"], f"{path}.config"),
            ActivityCalendar.from_dict(d["calendar"], f"{path}.calendar"),
            EnergyRegisters.from_dict(d["registers"], f"{path}.registers"),
            LoadModel.from_dict(d["load"], f"{path}.load"),
        )

    @classmethod
    def from_settings(cls, data: Any, path: str = "metering") -> Metering:
        """A new meter's metering from user settings: {"supply", "net_metering",
        "rate_prices", "calendar", "load"}, each optional."""
        d = strict.obj(
            data, path, (), ("supply", "net_metering", "rate_prices", "calendar", "load")
        )
        config = {k: d[k] for k in ("supply", "net_metering", "rate_prices") if k in d}
        return cls(
            MeteringConfig.from_dict(config, path),
            ActivityCalendar.from_dict(d.get("calendar", {}), f"{path}.calendar"),
            None,
            LoadModel.from_dict(d["load"], f"{path}.load") if "load" in d else None,
        )
