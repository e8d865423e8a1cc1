"""How a meter's credit engine is set up: tariff, emergency credit, friendly time,
alarms, load control and register limits.

Everything here is plain, frozen configuration data with its validation and a
JSON form (``to_dict``/``from_dict``: money and kWh as decimal strings, never
floats). The behaviour that uses it lives in the modules named after each part
(``tariff``, ``friendly``, ``alarms``, ``load``, ``credit``).

The limits follow the Magno 22 datasheet: up to 10 tariff steps, 5 monthly
service charge steps, 3 fixed charges, 5 levies, 3 VAT rates, 3 low-credit
alarm levels and 200 friendly special days::

    >>> config = CreditConfig(
    ...     timezone="+02:00",
    ...     tariff=TariffConfig(steps=(EnergyStep(Decimal("50"), Decimal("1.20")),
    ...                                EnergyStep(None, Decimal("2.00")))),
    ...     friendly=FriendlyConfig(hours=(time(18), time(7)), weekdays=frozenset({5, 6})),
    ... )
    >>> CreditConfig.from_dict(config.to_dict()) == config
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from itertools import pairwise
from typing import Any

from sts.errors import FormatError, RangeError
from sts.meter.localtime import parse_zone
from sts.meter.service import MeterService

MAX_STEPS = 10
MAX_SERVICE_STEPS = 5
MAX_FIXED_CHARGES = 3
MAX_LEVIES = 5
MAX_VAT_RATES = 3
MAX_SPECIAL_DATES = 200
ALARM_LEVELS = 3

DEFAULT_ENERGY_MAX_KWH = Decimal("999999.9")
DEFAULT_MONEY_MAX = Decimal("9999999.99")

WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def to_decimal(value: Any, what: str) -> Decimal:
    """A Decimal from a Decimal, int or decimal string; floats are refused (money is exact)."""
    if isinstance(value, bool | float):
        raise FormatError(f"{what} {value!r} must be a Decimal, int or decimal string, not a float")
    try:
        result = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise FormatError(f"{what} {value!r} is not a decimal number") from None
    if not result.is_finite():
        raise FormatError(f"{what} {value!r} is not a finite number")
    return result


def _non_negative(value: Any, what: str) -> Decimal:
    result = to_decimal(value, what)
    if result < 0:
        raise RangeError(f"{what} {result} is negative; expected 0 or more")
    return result


def _optional_decimal(value: Any) -> str | None:
    return None if value is None else str(value)


def _check_count(items: tuple[Any, ...], limit: int, what: str) -> None:
    if len(items) > limit:
        raise RangeError(f"{len(items)} {what} configured; the meter holds at most {limit}")


def _check_bounds(bounds: list[Decimal | None], what: str) -> None:
    """Step upper bounds rise strictly and only the last one is open (None)."""
    if not bounds:
        raise RangeError(f"{what} need at least one step")
    if bounds[-1] is not None:
        raise RangeError(f"the last of the {what} must have no upper bound (upto None)")
    previous = Decimal(0)
    for bound in bounds[:-1]:
        if bound is None:
            raise RangeError(f"only the last of the {what} may have no upper bound")
        if bound <= previous:
            raise RangeError(
                f"{what} upper bounds must rise above 0 step by step; {bound} follows {previous}"
            )
        previous = bound


# -- tariff ----------------------------------------------------------------------------------------


class ChargeKind(StrEnum):
    """The parts of a bill a VAT rate can apply to."""

    ENERGY = "energy"
    LEVY = "levy"
    SERVICE = "service"
    FIXED = "fixed"


@dataclass(frozen=True)
class EnergyStep:
    """One step of the energy price: ``price`` per kWh while this month's use is below ``upto``.

    ``upto_kwh`` is the monthly consumption at which the next step starts;
    the last step has None (no upper bound).
    """

    upto_kwh: Decimal | None
    price: Decimal

    def __post_init__(self) -> None:
        if self.upto_kwh is not None:
            object.__setattr__(self, "upto_kwh", _non_negative(self.upto_kwh, "step bound kWh"))
        price = _non_negative(self.price, "step price")
        if price == 0:
            raise RangeError("step price 0 is not allowed; every kWh bought with money costs")
        object.__setattr__(self, "price", price)

    def to_dict(self) -> dict[str, Any]:
        return {"upto_kwh": _optional_decimal(self.upto_kwh), "price": str(self.price)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EnergyStep:
        return cls(data["upto_kwh"], data["price"])


@dataclass(frozen=True)
class ServiceChargeStep:
    """A monthly service charge of ``amount`` for a month whose use stayed below ``upto_kwh``."""

    upto_kwh: Decimal | None
    amount: Decimal

    def __post_init__(self) -> None:
        if self.upto_kwh is not None:
            object.__setattr__(self, "upto_kwh", _non_negative(self.upto_kwh, "service step kWh"))
        object.__setattr__(self, "amount", _non_negative(self.amount, "service charge"))

    def to_dict(self) -> dict[str, Any]:
        return {"upto_kwh": _optional_decimal(self.upto_kwh), "amount": str(self.amount)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ServiceChargeStep:
        return cls(data["upto_kwh"], data["amount"])


@dataclass(frozen=True)
class FixedCharge:
    """A flat monthly charge (e.g. a network or meter rental charge)."""

    name: str
    amount: Decimal

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", _non_negative(self.amount, f"fixed charge {self.name}"))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "amount": str(self.amount)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FixedCharge:
        return cls(data["name"], data["amount"])


@dataclass(frozen=True)
class Levy:
    """A levy on energy: ``per_kwh`` currency per kWh plus ``percent`` of the energy price."""

    name: str
    per_kwh: Decimal = Decimal(0)
    percent: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "per_kwh", _non_negative(self.per_kwh, f"levy {self.name}"))
        object.__setattr__(self, "percent", _non_negative(self.percent, f"levy {self.name} %"))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "per_kwh": str(self.per_kwh), "percent": str(self.percent)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Levy:
        return cls(data["name"], data["per_kwh"], data["percent"])


@dataclass(frozen=True)
class VatRate:
    """A VAT rate in percent on the named parts of the bill."""

    name: str
    percent: Decimal
    applies_to: frozenset[ChargeKind] = frozenset(ChargeKind)

    def __post_init__(self) -> None:
        object.__setattr__(self, "percent", _non_negative(self.percent, f"VAT {self.name} %"))
        object.__setattr__(self, "applies_to", frozenset(ChargeKind(k) for k in self.applies_to))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "percent": str(self.percent),
            "applies_to": sorted(k.value for k in self.applies_to),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VatRate:
        return cls(data["name"], data["percent"], frozenset(data["applies_to"]))


@dataclass(frozen=True)
class TariffConfig:
    """The meter's own tariff: what the money wallet pays for energy and each month.

    Energy steps are priced by the kWh used so far this calendar month (all
    energy counts, whichever wallet paid for it). The service charge step and
    the fixed charges are taken from the money wallet when a month closes, for
    the month that closed.
    """

    steps: tuple[EnergyStep, ...]
    service_charge: tuple[ServiceChargeStep, ...] = ()
    fixed_charges: tuple[FixedCharge, ...] = ()
    levies: tuple[Levy, ...] = ()
    vat: tuple[VatRate, ...] = ()

    def __post_init__(self) -> None:
        for name in ("steps", "service_charge", "fixed_charges", "levies", "vat"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        _check_count(self.steps, MAX_STEPS, "tariff steps")
        _check_bounds([s.upto_kwh for s in self.steps], "tariff steps")
        _check_count(self.service_charge, MAX_SERVICE_STEPS, "service charge steps")
        if self.service_charge:
            _check_bounds([s.upto_kwh for s in self.service_charge], "service charge steps")
        _check_count(self.fixed_charges, MAX_FIXED_CHARGES, "fixed charges")
        _check_count(self.levies, MAX_LEVIES, "levies")
        _check_count(self.vat, MAX_VAT_RATES, "VAT rates")

    def vat_percent(self, kind: ChargeKind) -> Decimal:
        """The total VAT percentage on one part of the bill."""
        return sum((v.percent for v in self.vat if kind in v.applies_to), Decimal(0))

    def to_dict(self) -> dict[str, Any]:
        return {
            "steps": [s.to_dict() for s in self.steps],
            "service_charge": [s.to_dict() for s in self.service_charge],
            "fixed_charges": [f.to_dict() for f in self.fixed_charges],
            "levies": [levy.to_dict() for levy in self.levies],
            "vat": [v.to_dict() for v in self.vat],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TariffConfig:
        return cls(
            tuple(EnergyStep.from_dict(s) for s in data["steps"]),
            tuple(ServiceChargeStep.from_dict(s) for s in data.get("service_charge", ())),
            tuple(FixedCharge.from_dict(f) for f in data.get("fixed_charges", ())),
            tuple(Levy.from_dict(levy) for levy in data.get("levies", ())),
            tuple(VatRate.from_dict(v) for v in data.get("vat", ())),
        )


# -- friendly time ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FriendlyConfig:
    """When the relay is never opened for lack of credit.

    ``hours`` is (start, end) in local time; an end before the start wraps
    past midnight (18:00-07:00). ``weekdays`` uses Monday = 0 ... Sunday = 6.
    ``special_dates`` are whole local days (public holidays), at most 200.
    """

    hours: tuple[time, time] | None = None
    weekdays: frozenset[int] = frozenset()
    special_dates: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if self.hours is not None:
            start, end = self.hours
            for moment in (start, end):
                if moment.second or moment.microsecond or moment.tzinfo is not None:
                    raise RangeError(f"friendly hour {moment} must be a whole local minute")
            if start == end:
                raise RangeError(f"friendly hours start and end at the same time {start}")
            object.__setattr__(self, "hours", (start, end))
        days = frozenset(self.weekdays)
        if any(not isinstance(d, int) or not 0 <= d <= 6 for d in days):
            raise RangeError(f"friendly weekdays {sorted(days)} must be 0 (Mon) to 6 (Sun)")
        object.__setattr__(self, "weekdays", days)
        dates = frozenset(self.special_dates)
        if len(dates) > MAX_SPECIAL_DATES:
            raise RangeError(
                f"{len(dates)} friendly special days; the meter holds {MAX_SPECIAL_DATES}"
            )
        object.__setattr__(self, "special_dates", dates)

    @property
    def configured(self) -> bool:
        return bool(self.hours or self.weekdays or self.special_dates)

    def to_dict(self) -> dict[str, Any]:
        return {
            "hours": None if self.hours is None else [t.strftime("%H:%M") for t in self.hours],
            "weekdays": sorted(self.weekdays),
            "special_dates": sorted(d.isoformat() for d in self.special_dates),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FriendlyConfig:
        hours = data.get("hours")
        return cls(
            None if hours is None else (time.fromisoformat(hours[0]), time.fromisoformat(hours[1])),
            frozenset(data.get("weekdays", ())),
            frozenset(date.fromisoformat(d) for d in data.get("special_dates", ())),
        )


# -- emergency credit ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EmergencyConfig:
    """Emergency credit: up to ``limit_kwh`` when both wallets are at or below the thresholds.

    A limit of 0 means the meter offers none. ``automatic`` grants it as soon
    as credit runs out, without a keypad code.
    """

    limit_kwh: Decimal = Decimal(0)
    automatic: bool = False
    available_below_kwh: Decimal = Decimal(0)
    available_below_money: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "limit_kwh", _non_negative(self.limit_kwh, "emergency limit kWh"))
        object.__setattr__(
            self,
            "available_below_kwh",
            _non_negative(self.available_below_kwh, "emergency threshold kWh"),
        )
        object.__setattr__(
            self,
            "available_below_money",
            _non_negative(self.available_below_money, "emergency threshold money"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "limit_kwh": str(self.limit_kwh),
            "automatic": self.automatic,
            "available_below_kwh": str(self.available_below_kwh),
            "available_below_money": str(self.available_below_money),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EmergencyConfig:
        return cls(
            data["limit_kwh"],
            bool(data["automatic"]),
            data["available_below_kwh"],
            data["available_below_money"],
        )


# -- alarms ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlarmThreshold:
    """Credit is low at this level when the energy wallet is at or below ``energy_kwh``
    and the money wallet at or below ``money``."""

    energy_kwh: Decimal
    money: Decimal

    def __post_init__(self) -> None:
        object.__setattr__(self, "energy_kwh", _non_negative(self.energy_kwh, "alarm kWh"))
        object.__setattr__(self, "money", _non_negative(self.money, "alarm money"))

    def to_dict(self) -> dict[str, Any]:
        return {"energy_kwh": str(self.energy_kwh), "money": str(self.money)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AlarmThreshold:
        return cls(data["energy_kwh"], data["money"])


DEFAULT_ALARMS = (
    AlarmThreshold(Decimal(10), Decimal(20)),
    AlarmThreshold(Decimal(5), Decimal(10)),
    AlarmThreshold(Decimal(1), Decimal(2)),
)


@dataclass(frozen=True)
class AlarmConfig:
    """The three low-credit levels, level 1 first (the highest thresholds)."""

    levels: tuple[AlarmThreshold, ...] = DEFAULT_ALARMS

    def __post_init__(self) -> None:
        levels = tuple(self.levels)
        if len(levels) != ALARM_LEVELS:
            raise RangeError(f"{len(levels)} alarm levels given; the meter has {ALARM_LEVELS}")
        for upper, lower in pairwise(levels):
            if lower.energy_kwh > upper.energy_kwh or lower.money > upper.money:
                raise RangeError(
                    f"alarm levels must fall from level 1 to level 3; {lower} is above {upper}"
                )
        object.__setattr__(self, "levels", levels)

    def to_dict(self) -> dict[str, Any]:
        return {"levels": [level.to_dict() for level in self.levels]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AlarmConfig:
        return cls(tuple(AlarmThreshold.from_dict(level) for level in data["levels"]))


# -- load control ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadControlConfig:
    """Maximum power limiting and what else opens the relay.

    A demand above ``power_limit_w`` (None: no limit; a SetMaximumPowerLimit
    token replaces it) opens the relay; it closes again after
    ``reconnect_delay_s``. The ``lockout_trips``-th trip within
    ``lockout_window_s`` locks the relay open for ``lockout_s`` (None: until a
    new power limit is set).
    """

    power_limit_w: int | None = None
    reconnect_delay_s: int = 60
    lockout_trips: int = 3
    lockout_window_s: int = 600
    lockout_s: int | None = 1800
    open_on_tamper: bool = True

    def __post_init__(self) -> None:
        if self.power_limit_w is not None and self.power_limit_w <= 0:
            raise RangeError(f"power limit {self.power_limit_w} W must be above 0 (or None)")
        if self.reconnect_delay_s < 1:
            raise RangeError(f"reconnect delay {self.reconnect_delay_s} s must be at least 1 s")
        if self.lockout_trips < 1:
            raise RangeError(f"lock-out after {self.lockout_trips} trips: expected 1 or more")
        if self.lockout_window_s < 0:
            raise RangeError(f"lock-out window {self.lockout_window_s} s is negative")
        if self.lockout_s is not None and self.lockout_s < 1:
            raise RangeError(f"lock-out time {self.lockout_s} s must be at least 1 s (or None)")

    def to_dict(self) -> dict[str, Any]:
        return {
            "power_limit_w": self.power_limit_w,
            "reconnect_delay_s": self.reconnect_delay_s,
            "lockout_trips": self.lockout_trips,
            "lockout_window_s": self.lockout_window_s,
            "lockout_s": self.lockout_s,
            "open_on_tamper": self.open_on_tamper,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LoadControlConfig:
        return cls(**data)


# -- the whole engine ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreditConfig:
    """Everything the credit engine is set up with.

    ``tariff`` None makes an energy-only meter: it refuses currency credit
    (Function). ``timezone`` is a fixed offset or a zone name; friendly hours
    and billing days follow it. ``profile_step_s`` is how often a load given as
    a function of time is sampled. ``service`` (:mod:`sts.meter.service`) is
    what the meter measures: electricity (kWh), water or gas (m3).
    """

    timezone: str = "UTC"
    tariff: TariffConfig | None = None
    emergency: EmergencyConfig = field(default_factory=EmergencyConfig)
    friendly: FriendlyConfig = field(default_factory=FriendlyConfig)
    alarms: AlarmConfig = field(default_factory=AlarmConfig)
    load_control: LoadControlConfig = field(default_factory=LoadControlConfig)
    energy_max_kwh: Decimal = DEFAULT_ENERGY_MAX_KWH
    money_max: Decimal = DEFAULT_MONEY_MAX
    profile_step_s: int = 60
    service: MeterService = MeterService.ELECTRICITY

    def __post_init__(self) -> None:
        parse_zone(self.timezone)
        object.__setattr__(self, "energy_max_kwh", _non_negative(self.energy_max_kwh, "max kWh"))
        object.__setattr__(self, "money_max", _non_negative(self.money_max, "max money"))
        if self.profile_step_s < 1:
            raise RangeError(f"profile step {self.profile_step_s} s must be at least 1 s")
        object.__setattr__(self, "service", MeterService.parse(self.service))

    def to_dict(self) -> dict[str, Any]:
        return {
            "timezone": self.timezone,
            "tariff": None if self.tariff is None else self.tariff.to_dict(),
            "emergency": self.emergency.to_dict(),
            "friendly": self.friendly.to_dict(),
            "alarms": self.alarms.to_dict(),
            "load_control": self.load_control.to_dict(),
            "energy_max_kwh": str(self.energy_max_kwh),
            "money_max": str(self.money_max),
            "profile_step_s": self.profile_step_s,
            "service": self.service.value,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CreditConfig:
        tariff = data.get("tariff")
        return cls(
            timezone=data["timezone"],
            tariff=None if tariff is None else TariffConfig.from_dict(tariff),
            emergency=EmergencyConfig.from_dict(data["emergency"]),
            friendly=FriendlyConfig.from_dict(data["friendly"]),
            alarms=AlarmConfig.from_dict(data["alarms"]),
            load_control=LoadControlConfig.from_dict(data["load_control"]),
            energy_max_kwh=data["energy_max_kwh"],
            money_max=data["money_max"],
            profile_step_s=data["profile_step_s"],
            service=data.get("service", MeterService.ELECTRICITY),  # older files: electricity
        )
