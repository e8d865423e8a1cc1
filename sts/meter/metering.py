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
step price; monthly service and fixed charges are unchanged. A rate price
never replaces a free-unit or lifeline price.

**Dual resource signal** (``dual_resource_rate``; the datasheet's optional
"Dual Resource Signal (Tariff change)" input, e.g. a site switched to its
standby generator). While the input is on, every kWh goes to TOU rate
``dual_resource_rate`` (1-8) whatever the calendar says, and is priced as that
rate; off, the calendar rules again. Switching it is a standard event (4 on,
5 off). A meter without the setting has no such input.

**Starting current** (``supply.basic_current_a``, ``supply.starting_percent``;
:mod:`sts.meter.measurement`). A stretch whose load draws less than the
starting current registers no energy at all (no active, reactive or apparent
energy, import or export) and draws no credit; its instantaneous values still
read.

**Pulse output** (``pulse_imp_kwh``, ``pulse_imp_kvarh``; 1000 each by
default, 1-100,000). The pulses the meter has emitted are worked out from the
registers: active pulses = floor(+A total in kWh x ``pulse_imp_kwh``),
reactive pulses = floor((Q1 + Q2 + Q3 + Q4) in kvarh x ``pulse_imp_kvarh``)
(the reactive LED flashes for reactive energy of either sign). So 1.5 kWh at
1000 imp/kWh is 1500 pulses, at 400 imp/kWh 600.

**Subsidies** (``subsidies``, up to 5 kinds, currency mode): free units, a
lifeline step, an amount off each kWh, a percentage off, and an amount off
the monthly charges, applied in the order :mod:`sts.meter.subsidy` documents.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from math import hypot
from typing import TYPE_CHECKING, Any

from sts.errors import FormatError, RangeError
from sts.meter import obis, strict
from sts.meter.calendar import ActivityCalendar
from sts.meter.event_logs import Code
from sts.meter.localtime import LocalCalendar, epoch_seconds
from sts.meter.measurement import Instant, LoadModel, LoadPoint, SupplyConfig, raw_instant
from sts.meter.obis import MAX_RATES, ObisCode, RegisterSpec
from sts.meter.profile import LoadProfile
from sts.meter.protection import Guard
from sts.meter.rate_billing import RateBilling
from sts.meter.registers import EnergyRegisters
from sts.meter.subsidy import MAX_SUBSIDIES, Subsidy, check_subsidies, pricing
from sts.meter.survey import DAILY_CHANNELS, MAX_SURVEYS, Survey, SurveyConfig

if TYPE_CHECKING:
    from sts.meter.credit import CreditEngine

SECTION_VERSION = 1
_CONFIG_NAMES = (
    "supply",
    "net_metering",
    "rate_prices",
    "subsidies",
    "dual_resource_rate",
    "pulse_imp_kwh",
    "pulse_imp_kvarh",
)
_MAX_PRICE = Decimal("1000000")
MAX_PULSE_CONSTANT = 100_000
_J_PER_KWH = 3_600_000


@dataclass(frozen=True)
class MeteringConfig:
    """Supply rating, net metering and TOU prices (see the module docstring)."""

    supply: SupplyConfig = field(default_factory=SupplyConfig)
    net_metering: bool = False
    rate_prices: Mapping[int, Decimal] = field(default_factory=dict)
    subsidies: tuple[Subsidy, ...] = ()
    dual_resource_rate: int | None = None
    pulse_imp_kwh: int = 1000
    pulse_imp_kvarh: int = 1000

    def __post_init__(self) -> None:
        for name in ("pulse_imp_kwh", "pulse_imp_kvarh"):
            value = getattr(self, name)
            if type(value) is not int or not 1 <= value <= MAX_PULSE_CONSTANT:
                raise RangeError(f"{name} {value!r} is not a whole 1-{MAX_PULSE_CONSTANT}")
        rate = self.dual_resource_rate
        if rate is not None and (type(rate) is not int or not 1 <= rate <= MAX_RATES):
            raise RangeError(f"dual_resource_rate {rate!r} is not a TOU rate 1-{MAX_RATES}")
        object.__setattr__(self, "subsidies", tuple(self.subsidies))
        check_subsidies(self.subsidies)
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
            "subsidies": [sub.to_dict() for sub in self.subsidies],
            "dual_resource_rate": self.dual_resource_rate,
            "pulse_imp_kwh": self.pulse_imp_kwh,
            "pulse_imp_kvarh": self.pulse_imp_kvarh,
        }

    @classmethod
    def from_dict(cls, data: Any, path: str = "metering.config") -> MeteringConfig:
        d = strict.obj(
            data,
            path,
            (),
            (*_CONFIG_NAMES,),
        )
        prices_in = d.get("rate_prices", {})
        if not isinstance(prices_in, dict):
            raise FormatError(f"{path}.rate_prices is not an object of rate: price")
        prices = {}
        strict.unknown_key(prices_in, f"{path}.rate_prices", map(str, range(1, MAX_RATES + 1)))
        for key, value in prices_in.items():
            price = strict.as_decimal(value, f"{path}.rate_prices.{key}", Decimal(0), _MAX_PRICE)
            if not price:
                raise FormatError(f"{path}.rate_prices.{key} is 0; a rate price must be above 0")
            prices[int(key)] = price
        items = strict.as_list(d.get("subsidies", []), f"{path}.subsidies", MAX_SUBSIDIES)
        subsidies = tuple(
            Subsidy.from_dict(x, f"{path}.subsidies[{i}]") for i, x in enumerate(items)
        )
        dual = d.get("dual_resource_rate")
        if dual is not None:
            dual = strict.as_int(dual, f"{path}.dual_resource_rate", 1, MAX_RATES)
        try:
            return cls(
                SupplyConfig.from_dict(d.get("supply", {}), f"{path}.supply"),
                strict.as_bool(d.get("net_metering", False), f"{path}.net_metering"),
                prices,
                subsidies,
                dual,
                strict.as_int(
                    d.get("pulse_imp_kwh", 1000), f"{path}.pulse_imp_kwh", 1, MAX_PULSE_CONSTANT
                ),
                strict.as_int(
                    d.get("pulse_imp_kvarh", 1000),
                    f"{path}.pulse_imp_kvarh",
                    1,
                    MAX_PULSE_CONSTANT,
                ),
            )
        except RangeError as exc:
            raise FormatError(f"{path}: {exc}") from None


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
        surveys: list[Survey] | None = None,
        daily_survey: Survey | None = None,
        billing: RateBilling | None = None,
        guard: Guard | None = None,
    ) -> None:
        self.config = config if config is not None else MeteringConfig()
        self.calendar = calendar if calendar is not None else ActivityCalendar()
        self.registers = registers if registers is not None else EnergyRegisters()
        self.load = load if load is not None else LoadModel(constant=LoadPoint(0))
        self.surveys = list(surveys or ())
        if len(self.surveys) > MAX_SURVEYS:
            raise RangeError(f"{len(self.surveys)} surveys; the meter keeps at most {MAX_SURVEYS}")
        if any(sv.daily for sv in self.surveys):
            raise RangeError("a survey needs a capture period of 1-60 minutes")
        self.daily_survey = (
            daily_survey if daily_survey is not None else Survey(default_daily_config())
        )
        self.billing = billing if billing is not None else RateBilling()
        self.guard = guard if guard is not None else Guard()
        self._next_event: int | None = None  # next capture or local midnight (None: not started)
        self._schedule: list[tuple[Survey, list, bool]] = []  # survey, how to read it, instant?
        self._midnight = 0
        self._cal = LocalCalendar("UTC")
        self._point = LoadPoint(0)
        self._below_start = False  # the point draws less than the starting current
        self._start_va2 = self.config.supply.starting_va2(None)
        self._rate = 1
        self._rate_until = -1
        self._engine: CreditEngine | None = None
        self.dual_resource = False  # the tariff change input (see the module docstring)
        self.listeners: list[Callable[[int, int, int, bool, LoadPoint, int], None]] = []

    def bind(self, engine: CreditEngine) -> None:
        """Ride on ``engine``'s clock: report stretches, credit export, price rates."""
        self._engine = engine
        self._cal = LocalCalendar(engine.config.timezone)
        engine.observer = self._observe
        self.guard.bind(engine, self._cal, self.config.supply)
        config = self.config
        if config.rate_prices or config.subsidies:
            if engine.config.tariff is None:
                raise FormatError("TOU rate prices and subsidies need a money tariff")
            p = pricing(engine.config.tariff, config.rate_prices, config.subsidies)
            engine.set_pricing(p.tariff, p.rate_prices, p.subsidised, p.monthly_credit, p.free_kwh)

    # -- the clock --------------------------------------------------------------------------

    def profile(self, load: Any, step_s: int) -> LoadProfile:
        """The engine's load profile for ``load`` (None: the standing load model)."""
        if load is not None:
            self.load = LoadModel.of(load, step_s)
        return _MeteredProfile(self)

    def set_clock_back(self, delta: int) -> None:
        """The clock went back ``delta`` seconds (negative): work out captures, the billing
        day and the TOU rate again from the new time. Each survey keeps its next capture,
        so no row is captured twice and rows stay in time order; protection timers keep the
        time they had left."""
        self._next_event = None
        self._rate_until = -1
        self.guard.shift_timers(delta)

    def settle_load(self) -> None:
        """After a run: a load given as a function stands on as its last point."""
        if not self.load.storable:
            self.load = LoadModel(constant=self._point)

    def _span(self, calendar: LocalCalendar, t: int, limit: int) -> tuple[int, int]:
        if self._next_event is None:
            self._start(t)
        point, held = self.load.span(calendar, t, limit)
        left = self._next_event - t  # type: ignore[operator]
        if left < held:
            held = left
        guard = self.guard
        guard.check(t, point)
        if guard.reconnect_at is not None or guard.locked:  # an over-current timer may run
            left = guard.next_timer() - t
            if 0 < left < held:
                held = left
        if t >= self._rate_until:
            self._rate, self._rate_until = self.calendar.span(calendar, t)
            if self.dual_resource:
                self._rate = self.config.dual_resource_rate  # type: ignore[assignment]
            if self._engine is not None:
                self._engine.tou_rate = self._rate
        left = self._rate_until - t
        if left < held:
            held = left
        self._point = point
        p = point[0]
        q = point[1]
        start = self._start_va2 if point[2] is None else self.config.supply.starting_va2(point[2])
        if p * p + q * q < start:  # below the starting current: no energy, no credit
            self._below_start = True
            return 0, held
        self._below_start = False
        return (p if p > 0 else 0), held

    def _observe(self, t0: int, t1: int, delivered: int, closed: bool) -> None:
        # the hot path of a long run: EnergyRegisters.add written out in place
        point = self._point
        p = point[0]  # active_w, reactive_var: read by index on this hot path
        q = point[1]
        rate = self._rate
        r = self.registers
        if p > 0:
            if delivered:
                r.import_j[0] += delivered
                r.import_j[rate] += delivered
                if q:
                    r.q_s[1 if q > 0 else 4] += abs(q) * delivered // p
                    r.s_import += round(hypot(p, q)) * delivered // p  # LoadPoint.apparent_va
                else:
                    r.s_import += delivered
        elif closed and (p or q) and not self._below_start:
            seconds = t1 - t0
            exported = -p * seconds
            s = point.apparent_va * seconds
            r.add(rate, 0, exported, abs(q) * seconds, point.quadrant, 0 if p else s, s if p else 0)
            if exported and self.config.net_metering and self._engine is not None:
                self._engine.credit_export(exported, t1)
        if self.listeners:
            for listener in self.listeners:
                listener(t0, t1, delivered, closed, point, rate)
        if self._next_event is not None and t1 >= self._next_event:
            self._due(t1, point, closed)

    # -- surveys and billing -----------------------------------------------------------------

    def _all_surveys(self) -> list[Survey]:
        return [*self.surveys, self.daily_survey]

    def _start(self, t: int) -> None:
        """First run: schedule captures and open the billing day at epoch second ``t``."""
        cal = self._cal
        self._schedule = []
        for survey in self._all_surveys():
            if survey.next_at is None or survey.next_at <= t:
                survey.next_at = self._next_capture(survey, t)
            plan = [_channel(c) for c in survey.config.channels]
            needs_instant = any(type(item) is int for item in plan)
            self._schedule.append((survey, plan, needs_instant))
        if self.billing.day is None:
            r = self.registers
            self.billing.start(cal.local(t).date(), r.import_j, r.export_j)
        self._midnight = cal.next_midnight(t)
        self._next_event = min(self._midnight, *(sv.next_at for sv in self._all_surveys()))

    def _next_capture(self, survey: Survey, t: int) -> int:
        if survey.daily:
            return self._cal.next_midnight(t)
        period = survey.config.period_min * 60
        return t - t % period + period

    def _due(self, t: int, point: LoadPoint, closed: bool) -> None:
        """Captures and billing closes due at ``t`` (the end of a stretch)."""
        instant: dict[int, int] | None = None
        r = self.registers
        if t >= self._midnight:
            self.billing.close_day(self._cal.local(t).date(), r.import_j, r.export_j)
            self._midnight = self._cal.next_midnight(t)
        soonest = self._midnight
        for survey, plan, needs_instant in self._schedule:
            at = survey.next_at
            assert at is not None
            if at <= t:
                if needs_instant and instant is None:
                    instant = _instant_raw(raw_instant(point, self.config.supply, closed))
                row = [instant[item] if type(item) is int else item(r) for item in plan]  # type: ignore
                while at <= t:
                    survey.capture(at, row)
                    at = self._next_capture(survey, at)
                survey.next_at = at
            if at < soonest:
                soonest = at
        self._next_event = soonest

    # -- reading ----------------------------------------------------------------------------

    def set_calendar(self, calendar: ActivityCalendar) -> None:
        """Replace the TOU calendar (a head end's write); the rate in force is looked up
        again at the next stretch, so the new tables count from the meter's clock on."""
        self.calendar = calendar
        self._rate_until = -1

    def rate_at(self, when: datetime) -> int:
        """The TOU rate in force at ``when`` (1 without a calendar; the dual resource rate
        while that input is on)."""
        if self.dual_resource:
            return self.config.dual_resource_rate  # type: ignore[return-value]
        return self.calendar.rate_at(when.astimezone(self._cal.tz))

    def set_dual_resource(self, t: int, on: bool) -> None:
        """The tariff change input switched at epoch second ``t`` (the meter is run up to
        ``t`` first); RangeError on a meter without ``dual_resource_rate``."""
        rate = self.config.dual_resource_rate
        if rate is None:
            raise RangeError("this meter has no tariff change input (no dual_resource_rate)")
        if on == self.dual_resource:
            return
        self.dual_resource = on
        self._rate_until = -1  # the rate is worked out again from the next stretch
        code = Code.TARIFF_INPUT_ON if on else Code.TARIFF_INPUT_OFF
        self.guard.record(t, code, f"rate {rate}" if on else "the calendar's rate")

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
        point, _ = self.load.span(self._cal, epoch_seconds(when), 1)
        raw = _instant_raw(raw_instant(point, self.config.supply, relay_closed))
        out += [Reading(spec, raw[spec.obis.c]) for spec in obis.INSTANTANEOUS]
        active, reactive = self.pulses()
        out += [Reading(obis.PULSES_ACTIVE, active), Reading(obis.PULSES_REACTIVE, reactive)]
        return out

    def pulses(self) -> tuple[int, int]:
        """(active, reactive) pulses the pulse output has emitted (module docstring)."""
        r, c = self.registers, self.config
        active = r.import_j[0] * c.pulse_imp_kwh // _J_PER_KWH
        reactive = sum(r.q_s[1:]) * c.pulse_imp_kvarh // _J_PER_KWH
        return active, reactive

    def survey(self, number: int) -> Survey:
        """Survey ``number`` (1-3 as configured; 0 is the daily survey)."""
        if number == 0:
            return self.daily_survey
        if isinstance(number, int) and 1 <= number <= len(self.surveys):
            return self.surveys[number - 1]
        count = len(self.surveys)
        have = {0: "", 1: "survey 1 and "}.get(count, f"surveys 1-{count} and ")
        raise FormatError(
            f"survey {number!r} is not configured; this meter has {have}the daily survey 0"
        )

    # -- persistence ------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": SECTION_VERSION,
            "config": self.config.to_dict(),
            "calendar": self.calendar.to_dict(),
            "registers": self.registers.to_dict(),
            "load": self.load.to_dict(),
            "surveys": [sv.to_dict() for sv in self.surveys],
            "daily_survey": self.daily_survey.to_dict(),
            "billing": self.billing.to_dict(),
            "protection": self.guard.to_dict(),
            "dual_resource": self.dual_resource,
        }

    @classmethod
    def from_dict(cls, data: Any, path: str = "metering") -> Metering:
        d = strict.obj(
            data,
            path,
            ("version", "config", "calendar", "registers", "load"),
            ("surveys", "daily_survey", "billing", "protection", "dual_resource"),
        )
        if d["version"] != SECTION_VERSION:
            raise FormatError(f"{path}.version is {d['version']!r}; expected {SECTION_VERSION}")
        items = strict.as_list(d.get("surveys", []), f"{path}.surveys", MAX_SURVEYS)
        surveys = [Survey.from_dict(sv, f"{path}.surveys[{i}]") for i, sv in enumerate(items)]
        if any(sv.daily for sv in surveys):
            raise FormatError(f"{path}.surveys: a survey needs a capture period of 1-60 minutes")
        daily = d.get("daily_survey")
        if daily is not None:
            daily = Survey.from_dict(daily, f"{path}.daily_survey")
            if not daily.daily:
                raise FormatError(f"{path}.daily_survey must have period_min 0 (daily)")
        billing = d.get("billing")
        config = MeteringConfig.from_dict(d["config"], f"{path}.config")
        dual = strict.as_bool(d.get("dual_resource", False), f"{path}.dual_resource")
        if dual and config.dual_resource_rate is None:
            raise FormatError(f"{path}.dual_resource is on; the meter has no dual_resource_rate")
        metering = cls(
            config,
            ActivityCalendar.from_dict(d["calendar"], f"{path}.calendar"),
            EnergyRegisters.from_dict(d["registers"], f"{path}.registers"),
            LoadModel.from_dict(d["load"], f"{path}.load"),
            surveys,
            daily,
            None if billing is None else RateBilling.from_dict(billing, f"{path}.billing"),
            None
            if d.get("protection") is None
            else Guard.from_dict(d["protection"], f"{path}.protection"),
        )
        metering.dual_resource = dual
        return metering

    @classmethod
    def from_settings(cls, data: Any, path: str = "metering") -> Metering:
        """A new meter's metering from user settings (each optional): "supply",
        "net_metering", "rate_prices", "calendar", "load", "surveys" (up to 3 of
        {"channels", "period_min", "capacity"}), "daily_survey" ({"channels", "capacity"})
        and "protection" (:meth:`sts.meter.protection.Guard.from_settings`)."""
        names = (
            "supply",
            "net_metering",
            "rate_prices",
            "calendar",
            "load",
            "surveys",
            "daily_survey",
            "protection",
            "subsidies",
            "dual_resource_rate",
            "pulse_imp_kwh",
            "pulse_imp_kvarh",
        )
        d = strict.obj(data, path, (), names)
        config = {k: d[k] for k in _CONFIG_NAMES if k in d}
        items = strict.as_list(d.get("surveys", []), f"{path}.surveys", MAX_SURVEYS)
        surveys = []
        for i, item in enumerate(items):
            sv = SurveyConfig.from_dict(item, f"{path}.surveys[{i}]")
            if sv.period_min == 0:
                raise FormatError(f"{path}.surveys[{i}].period_min must be 1-60")
            surveys.append(Survey(sv))
        daily = None
        if "daily_survey" in d:
            where = f"{path}.daily_survey"
            given = strict.obj(d["daily_survey"], where, (), ("channels", "capacity"))
            defaults = {"channels": list(DAILY_CHANNELS), "capacity": 366}
            daily = Survey(SurveyConfig.from_dict(defaults | given | {"period_min": 0}, where))
        return cls(
            MeteringConfig.from_dict(config, path),
            ActivityCalendar.from_dict(d.get("calendar", {}), f"{path}.calendar"),
            None,
            LoadModel.from_dict(d["load"], f"{path}.load") if "load" in d else None,
            surveys,
            daily,
            None,
            Guard.from_settings(d.get("protection", {}), f"{path}.protection"),
        )


def default_daily_config() -> SurveyConfig:
    """The 24-hour daily survey: +A and -A, total and per rate, for a year and a day."""
    return SurveyConfig(tuple(ObisCode.parse(c) for c in DAILY_CHANNELS), 0, 366)


def _instant_raw(raw: tuple[int, ...]) -> dict[int, int]:
    """Raw instantaneous register values by OBIS value group C (from ``raw_instant``)."""
    v, i, n, p, q, s, pf, angle, f, _ = raw
    return {
        32: v,
        31: i,
        91: n,
        1: p if p > 0 else 0,
        2: -p if p < 0 else 0,
        3: q,
        9: s,
        13: pf,
        14: f,
        81: angle,
    }


def _channel(code: ObisCode) -> Callable[[EnergyRegisters], int] | int:
    """How a survey captures a channel: a reader of the energy registers (whole Wh, varh,
    VAh), or the OBIS value group C of an instantaneous value."""
    if code.d == 7:
        return code.c
    c, e = code.c, code.e
    if c == 1:
        return lambda r: r.import_j[e] // 3600
    if c == 2:
        return lambda r: r.export_j[e] // 3600
    if 5 <= c <= 8:
        return lambda r: r.q_s[c - 4] // 3600
    if c == 15:
        return lambda r: (r.import_j[0] + r.export_j[0]) // 3600
    if c == 9:
        return lambda r: r.s_import // 3600
    return lambda r: r.s_export // 3600
