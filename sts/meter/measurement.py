"""The load model: what the meter measures at each instant.

A :class:`LoadPoint` is the load on the meter's terminals at one instant:
active power in watts (negative: the premises *export*, e.g. rooftop solar),
reactive power in var (positive: inductive, negative: capacitive), and
optionally the voltage, frequency and neutral current when they differ from
the supply's. The signs of P and Q place it in one of the four quadrants::

             Q > 0 (inductive)
       Q2: export, ind. | Q1: import, inductive
     P < 0 -------------+------------- P > 0
       Q3: export, cap. | Q4: import, capacitive
             Q < 0 (capacitive)

:class:`Instant` is what the meter derives from a point, with the relay
closed, rounded to each register's DLMS scaler (:mod:`sts.meter.obis`)::

    S     = sqrt(P^2 + Q^2)            apparent power, VA
    I     = S / V                      current, A
    PF    = P / S                      power factor, signed (negative on export; 1 at no load)
    angle = atan2(Q, P) in degrees     V-I phase angle: Q1 0..90, Q2 90..180,
                                       Q3 -180..-90, Q4 -90..0
    In    = I unless the point gives it (a healthy single-phase meter's
            neutral carries the phase current)

Worked example (a 3-4-5 triangle): 1840 W and 1380 var at 230 V give
S = 2300 VA, I = 10.00 A, PF = 0.800, angle = 36.9 degrees::

    >>> supply = SupplyConfig()
    >>> i = Instant.of(LoadPoint(1840, 1380), supply, relay_closed=True)
    >>> i.apparent_va, i.current_a, i.power_factor, i.angle_deg, i.quadrant
    (2300, Decimal('10.00'), Decimal('0.800'), Decimal('36.9'), 1)

:class:`LoadModel` gives the point at each epoch second, like the credit
engine's load profiles: constant, a daily shape of equal slots, or a function
of local time sampled every ``step_s`` seconds; a daily *voltage profile* may
be laid over any of them (a point's own voltage wins).

:class:`SupplyConfig` is the rating: nominal voltage in one of the datasheet's
bands, 220-240 V or 110-120 V (230 V by default), and 50 or 60 Hz. Its
operating range is 50-120 % of nominal on the 220-240 V band and 80-120 % on
the 110-120 V band. It also holds the basic current Ib (5 A, the datasheet's
5(100) A and 5(80) A) and the *starting current* as a percentage of Ib (0.4 %,
so 20 mA): a load drawing less current than that registers no energy and
draws no credit (IEC 62053-21's starting current), though its instantaneous
values still read. At 230 V the threshold is 0.02 A * 230 V = 4.6 VA, so a
4 W load (17.4 mA) registers nothing and a 5 W load (21.7 mA) registers::

    >>> SupplyConfig().starting_va2(None)   # (4.6 VA) squared, compared with P^2 + Q^2
    21.16
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from operator import itemgetter
from typing import Any

from sts.errors import FormatError, RangeError
from sts.meter import strict
from sts.meter.localtime import LocalCalendar
from sts.meter.profile import LoadProfile

SECONDS_PER_DAY = 86_400
MAX_POWER_W = 1_000_000  # far beyond a 100 A meter; a bound on what a user can type
_MAX = MAX_POWER_W
_TENTH = Decimal("0.1")
_HUNDREDTH = Decimal("0.01")
_THOUSANDTH = Decimal("0.001")
MAX_BASIC_A = Decimal(100)
MAX_STARTING_PERCENT = Decimal(10)


def _q(value: float | Decimal, step: Decimal) -> Decimal:
    return Decimal(value).quantize(step, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class SupplyConfig:
    """The meter's rating: nominal voltage, frequency, basic current and starting current."""

    nominal_v: Decimal = Decimal(230)
    frequency_hz: int = 50
    basic_current_a: Decimal = Decimal(5)
    starting_percent: Decimal = Decimal("0.4")

    def __post_init__(self) -> None:
        v = self.nominal_v
        if isinstance(v, bool) or not isinstance(v, int | Decimal):
            raise FormatError(f"nominal voltage {v!r} is not a number of volts")
        v = Decimal(v)
        object.__setattr__(self, "nominal_v", v)
        if v != round(v, 1):
            raise RangeError(f"nominal voltage {v} V is finer than 0.1 V")
        if not (Decimal(110) <= v <= Decimal(120) or Decimal(220) <= v <= Decimal(240)):
            raise RangeError(
                f"nominal voltage {v} V is outside the ratings 110-120 V and 220-240 V"
            )
        if self.frequency_hz not in (50, 60):
            raise RangeError(f"supply frequency {self.frequency_hz!r} Hz is not 50 or 60")
        ib, pct = self.basic_current_a, self.starting_percent
        if not isinstance(ib, Decimal) or not Decimal("0.01") <= ib <= MAX_BASIC_A:
            raise RangeError(f"basic current {ib!r} A is not 0.01-{MAX_BASIC_A} A")
        if not isinstance(pct, Decimal) or not Decimal(0) <= pct <= MAX_STARTING_PERCENT:
            raise RangeError(f"starting current {pct!r} % of Ib is not 0-{MAX_STARTING_PERCENT} %")

    @property
    def starting_current_a(self) -> Decimal:
        """The starting current in amperes (Ib x percentage / 100)."""
        return self.basic_current_a * self.starting_percent / 100

    def starting_va2(self, voltage_v: Decimal | None) -> float:
        """The square of the apparent power the starting current makes at ``voltage_v``
        (None: nominal); a point with P^2 + Q^2 below it draws less than the starting
        current (I = S / V), so the meter's hot loop makes one comparison of squares."""
        volts = self.nominal_v if voltage_v is None else voltage_v
        return float((self.starting_current_a * volts) ** 2)

    @property
    def operating_range_v(self) -> tuple[Decimal, Decimal]:
        """(lowest, highest) voltage the meter operates at."""
        low = Decimal("0.5") if self.nominal_v >= 220 else Decimal("0.8")
        return self.nominal_v * low, self.nominal_v * Decimal("1.2")

    def to_dict(self) -> dict[str, Any]:
        return {
            "nominal_v": str(self.nominal_v),
            "frequency_hz": self.frequency_hz,
            "basic_current_a": str(self.basic_current_a),
            "starting_percent": str(self.starting_percent),
        }

    @classmethod
    def from_dict(cls, data: Any, path: str = "supply") -> SupplyConfig:
        d = strict.obj(
            data,
            path,
            (),
            ("nominal_v", "frequency_hz", "basic_current_a", "starting_percent"),
        )
        nominal = strict.as_decimal(d.get("nominal_v", 230), f"{path}.nominal_v")
        frequency = strict.as_int(d.get("frequency_hz", 50), f"{path}.frequency_hz")
        ib = strict.as_decimal(
            d.get("basic_current_a", "5"), f"{path}.basic_current_a", Decimal("0.01"), MAX_BASIC_A
        )
        pct = strict.as_decimal(
            d.get("starting_percent", "0.4"),
            f"{path}.starting_percent",
            Decimal(0),
            MAX_STARTING_PERCENT,
        )
        try:
            return cls(nominal, frequency, ib, pct)
        except RangeError as exc:
            raise FormatError(f"{path}: {exc}") from None


class LoadPoint(tuple):
    """The load at one instant: P (W, negative = export), Q (var, negative = capacitive),
    and optional voltage (V), frequency (Hz), neutral current (A) and terminal
    temperature (degrees Celsius).

    Immutable and compared by value like a frozen dataclass, but a tuple underneath:
    a load given as a function of time makes one point per simulated minute, and a
    tuple is made and compared in C (``benchmarks/meter.py``).
    """

    __slots__ = ()

    def __new__(
        cls,
        active_w: int,
        reactive_var: int = 0,
        voltage_v: Decimal | None = None,
        frequency_hz: Decimal | None = None,
        neutral_a: Decimal | None = None,
        temperature_c: Decimal | None = None,
    ) -> LoadPoint:
        p, q = active_w, reactive_var
        if not (type(p) is int and type(q) is int and -_MAX <= p <= _MAX and -_MAX <= q <= _MAX):
            for name, value in (("active_w", p), ("reactive_var", q)):
                if not isinstance(value, int) or isinstance(value, bool):
                    raise RangeError(f"{name} {value!r} is not a whole number")
                if abs(value) > MAX_POWER_W:
                    raise RangeError(f"{name} {value} is beyond +-{MAX_POWER_W}")
        if (
            voltage_v is not None
            or frequency_hz is not None
            or neutral_a is not None
            or temperature_c is not None
        ):
            _check_extra(voltage_v, frequency_hz, neutral_a, temperature_c)
        return tuple.__new__(cls, (p, q, voltage_v, frequency_hz, neutral_a, temperature_c))

    active_w = property(itemgetter(0))
    reactive_var = property(itemgetter(1))
    voltage_v = property(itemgetter(2))
    frequency_hz = property(itemgetter(3))
    neutral_a = property(itemgetter(4))
    temperature_c = property(itemgetter(5))

    def __repr__(self) -> str:
        names = ("voltage_v", "frequency_hz", "neutral_a", "temperature_c")
        pairs = zip(names, self[2:], strict=True)
        extra = "".join(f", {n}={v!r}" for n, v in pairs if v is not None)
        return f"LoadPoint(active_w={self[0]}, reactive_var={self[1]}{extra})"

    def __getnewargs__(self) -> tuple[Any, ...]:
        return tuple(self)

    @property
    def import_w(self) -> int:
        """The active power drawn from the grid (0 while exporting)."""
        return self.active_w if self.active_w > 0 else 0

    @property
    def apparent_va(self) -> int:
        """sqrt(P^2 + Q^2) to the whole VA (exact for whole-number triangles)."""
        p, q = self.active_w, self.reactive_var
        if not q:
            return abs(p)
        if not p:
            return abs(q)
        return round(math.hypot(p, q))

    @property
    def quadrant(self) -> int:
        """1-4 as in the module docstring; P = 0 counts as import, Q = 0 as inductive."""
        if self.active_w >= 0:
            return 1 if self.reactive_var >= 0 else 4
        return 2 if self.reactive_var >= 0 else 3

    def to_dict(self) -> dict[str, Any] | int:
        extra = {k: str(v) for k, v in zip(_EXTRA_KEYS, self[2:], strict=True) if v is not None}
        if not self.reactive_var and not extra:
            return self.active_w
        return {"p": self.active_w, "q": self.reactive_var, **extra}

    @classmethod
    def from_dict(cls, data: Any, path: str) -> LoadPoint:
        """A point from whole watts or {"p", "q", "v", "hz", "n", "temp"}."""
        if isinstance(data, int) and not isinstance(data, bool):
            return _point(path, data)
        d = strict.obj(data, path, ("p",), ("q", *_EXTRA_KEYS))
        p = strict.as_int(d["p"], f"{path}.p", -MAX_POWER_W, MAX_POWER_W)
        q = strict.as_int(d.get("q", 0), f"{path}.q", -MAX_POWER_W, MAX_POWER_W)

        def opt(key: str, lo: int, hi: int) -> Decimal | None:
            if key not in d:
                return None
            return strict.as_decimal(d[key], f"{path}.{key}", Decimal(lo), Decimal(hi))

        try:
            return cls(
                p,
                q,
                opt("v", 0, 500),
                opt("hz", 40, 70),
                opt("n", 0, 1000),
                opt("temp", _TEMPERATURE[0], _TEMPERATURE[1]),
            )
        except RangeError as exc:
            raise FormatError(f"{path}: {exc}") from None


_EXTRA_KEYS = ("v", "hz", "n", "temp")
_TEMPERATURE = (-50, 200)  # degrees Celsius a terminal sensor reports


def _check_extra(
    voltage: Decimal | None,
    frequency: Decimal | None,
    neutral: Decimal | None,
    temperature: Decimal | None,
) -> None:
    for name, value, low, high, places in (
        ("voltage", voltage, 0, 500, 1),
        ("frequency", frequency, 40, 70, 2),
        ("neutral current", neutral, 0, 1000, 2),
        ("temperature", temperature, *_TEMPERATURE, 1),
    ):
        if value is None:
            continue
        if not isinstance(value, Decimal) or not value.is_finite():
            raise RangeError(f"{name} {value!r} is not a Decimal")
        if not low <= value <= high:
            raise RangeError(f"{name} {value} is not {low}-{high}")
        if value != value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN):
            raise RangeError(f"{name} {value} is finer than the meter's {places} decimals")


def _point(path: str, watts: int) -> LoadPoint:
    strict.as_int(watts, path, -MAX_POWER_W, MAX_POWER_W)
    return LoadPoint(watts)


def as_point(value: Any) -> LoadPoint:
    """A LoadPoint from a point or watts (int, float or Decimal; negative = export)."""
    if isinstance(value, LoadPoint):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise RangeError(f"load {value!r} is neither watts nor a LoadPoint")
    if isinstance(value, float) and not math.isfinite(value):
        raise RangeError(f"load {value!r} is not a finite number of watts")
    whole = value if type(value) is int else int(_q(value, Decimal(1)))
    if abs(whole) > MAX_POWER_W:
        raise RangeError(f"load {value} W is beyond +-{MAX_POWER_W} W")
    return LoadPoint(whole)


@dataclass(frozen=True)
class Instant:
    """The instantaneous values a meter shows, each rounded to its register's scaler."""

    voltage_v: Decimal
    current_a: Decimal
    neutral_a: Decimal
    active_w: int
    reactive_var: int
    apparent_va: int
    power_factor: Decimal
    angle_deg: Decimal
    frequency_hz: Decimal
    quadrant: int

    @classmethod
    def of(cls, point: LoadPoint, supply: SupplyConfig, relay_closed: bool) -> Instant:
        """The values for ``point`` (no current flows through an open relay)."""
        v, i, n, p, q, s, pf, angle, f, quadrant = raw_instant(point, supply, relay_closed)
        return cls(
            Decimal(v).scaleb(-1),
            Decimal(i).scaleb(-2),
            Decimal(n).scaleb(-2),
            p,
            q,
            s,
            Decimal(pf).scaleb(-3),
            Decimal(angle).scaleb(-1),
            Decimal(f).scaleb(-2),
            quadrant,
        )


def _div(n: int, d: int) -> int:
    """n / d rounded half to even (d > 0)."""
    q, r = divmod(n, d)
    if 2 * r > d or (2 * r == d and q % 2):
        q += 1
    return q


def raw_instant(point: LoadPoint, supply: SupplyConfig, relay_closed: bool) -> tuple[int, ...]:
    """The instantaneous values as DLMS raw integers at their scalers: (voltage 0.1 V,
    current 0.01 A, neutral 0.01 A, P W, Q var, S VA, PF 0.001, angle 0.1 degree,
    frequency 0.01 Hz, quadrant). Integer arithmetic throughout but for the angle."""
    volts = point.voltage_v if point.voltage_v is not None else supply.nominal_v
    v = int(volts * 10)
    f = (
        int(point.frequency_hz * 100)
        if point.frequency_hz is not None
        else supply.frequency_hz * 100
    )
    if not relay_closed:
        return v, 0, 0, 0, 0, 0, 1000, 0, f, 0
    p, q = point.active_w, point.reactive_var
    s = point.apparent_va
    current = _div(s * 1000, v) if v else 0
    if not s:
        return (
            v,
            0,
            current if point.neutral_a is None else int(point.neutral_a * 100),
            0,
            0,
            0,
            1000,
            0,
            f,
            0,
        )
    neutral = current if point.neutral_a is None else int(point.neutral_a * 100)
    pf = _div(p * 1000, s)
    angle = round(math.degrees(math.atan2(q, p)) * 10)
    return v, current, neutral, p, q, s, pf, angle, f, point.quadrant


class LoadModel:
    """Load points by time: constant, a daily shape, or a function of local time;
    optionally with a daily voltage profile."""

    def __init__(
        self,
        constant: LoadPoint | None = None,
        daily: tuple[LoadPoint, ...] | None = None,
        function: Callable[[datetime], Any] | None = None,
        step_s: int = 60,
        voltage: tuple[Decimal, ...] | None = None,
    ) -> None:
        self.constant_point = constant
        self.daily_points = daily
        self.function = function
        self.step_s = step_s
        self.voltage = voltage
        self._slot = SECONDS_PER_DAY // len(daily) if daily else 0
        self._vslot = SECONDS_PER_DAY // len(voltage) if voltage else 0
        self._last: tuple[int, LoadPoint] | None = None

    @classmethod
    def of(cls, load: Any, step_s: int = 60) -> LoadModel:
        """A model from watts, a LoadPoint, a daily sequence of either, a function of local
        time returning either, or a model."""
        if isinstance(load, LoadModel):
            return load
        if isinstance(load, LoadProfile):
            if not load.storable:
                raise RangeError("give the function itself rather than a LoadProfile of it")
            return cls.from_dict(load.to_dict())
        if isinstance(load, LoadPoint | int | float | Decimal) and not isinstance(load, bool):
            return cls(constant=as_point(load))
        if callable(load):
            if not isinstance(step_s, int) or step_s < 1:
                raise RangeError(f"sampling step {step_s!r} s must be at least 1 s")
            return cls(function=load, step_s=step_s)
        if isinstance(load, Sequence) and not isinstance(load, str):
            return cls(daily=_daily(tuple(as_point(v) for v in load), "daily load"))
        raise RangeError(f"load {load!r} is neither watts, a daily profile nor a function of time")

    def with_voltage(self, voltage: Sequence[Any] | None) -> LoadModel:
        """This model with a daily voltage profile (equal slots, like a daily load)."""
        if voltage is None:
            self.voltage, self._vslot = None, 0
            return self
        try:
            values = tuple(Decimal(str(v)) for v in voltage)
        except (ArithmeticError, ValueError, TypeError):
            raise RangeError(f"voltage profile {voltage!r} is not a list of volts") from None
        _daily(values, "voltage profile")
        if any(not Decimal(0) <= v <= Decimal(500) or v != round(v, 1) for v in values):
            raise RangeError("voltage profile values must be 0-500 V to 0.1 V")
        self.voltage, self._vslot = values, SECONDS_PER_DAY // len(values)
        return self

    @property
    def storable(self) -> bool:
        return self.function is None

    def span(self, calendar: LocalCalendar, t: int, limit: int) -> tuple[LoadPoint, int]:
        """(point at ``t``, seconds it holds, at most ``limit``), voltage profile applied."""
        if self.constant_point is not None:
            point, held = self.constant_point, limit
        elif self.daily_points is not None:
            local = calendar.local(t)
            second = local.hour * 3600 + local.minute * 60 + local.second
            slot, into = divmod(second, self._slot)
            point, held = self.daily_points[slot], min(limit, self._slot - into)
        else:
            point, held = self._function_span(calendar, t, limit)
        if self.voltage is not None and point.voltage_v is None:
            local = calendar.local(t)
            second = local.hour * 3600 + local.minute * 60 + local.second
            slot, into = divmod(second, self._vslot)
            held = min(held, self._vslot - into)
            point = LoadPoint(
                point.active_w,
                point.reactive_var,
                self.voltage[slot],
                point.frequency_hz,
                point.neutral_a,
                point.temperature_c,
            )
        return point, held

    def _function_span(self, calendar: LocalCalendar, t: int, limit: int) -> tuple[LoadPoint, int]:
        step = self.step_s
        function = self.function
        assert function is not None
        # called once per sample of a long run: the local time made here, not via calendar.local
        stamp, tz = datetime.fromtimestamp, calendar.tz
        last = self._last
        if last is not None and last[0] == t:
            point = last[1]
        else:
            point = function(stamp(t, tz))
            if type(point) is not LoadPoint:
                point = as_point(point)
        held = step - t % step
        while held < limit:
            sample = function(stamp(t + held, tz))
            if type(sample) is not LoadPoint:
                sample = as_point(sample)
            if sample != point:
                self._last = (t + held, sample)
                return point, held
            held += step
        return point, limit

    def to_dict(self) -> dict[str, Any]:
        if self.daily_points is not None:
            data: dict[str, Any] = {"daily": [p.to_dict() for p in self.daily_points]}
        elif self.constant_point is not None:
            data = {"constant": self.constant_point.to_dict()}
        else:
            raise RangeError("a load given as a function of time has no stored form")
        if self.voltage is not None:
            data["voltage"] = [str(v) for v in self.voltage]
        return data

    @classmethod
    def from_dict(cls, data: Any, path: str = "load") -> LoadModel:
        d = strict.obj(data, path, (), ("constant", "daily", "voltage"))
        if ("constant" in d) == ("daily" in d):
            raise FormatError(f"{path} needs exactly one of 'constant' and 'daily'")
        if "constant" in d:
            model = cls(constant=LoadPoint.from_dict(d["constant"], f"{path}.constant"))
        else:
            items = strict.as_list(d["daily"], f"{path}.daily", 1440)
            points = tuple(
                LoadPoint.from_dict(p, f"{path}.daily[{i}]") for i, p in enumerate(items)
            )
            try:
                model = cls(daily=_daily(points, f"{path}.daily"))
            except RangeError as exc:
                raise FormatError(str(exc)) from None
        if d.get("voltage") is not None:
            items = strict.as_list(d["voltage"], f"{path}.voltage", 1440)
            volts = [
                strict.as_decimal(v, f"{path}.voltage[{i}]", Decimal(0), Decimal(500))
                for i, v in enumerate(items)
            ]
            try:
                model.with_voltage(volts)
            except RangeError as exc:
                raise FormatError(f"{path}.voltage: {exc}") from None
        return model


def _daily(values: tuple, what: str) -> tuple:
    if not values or SECONDS_PER_DAY % len(values) or (SECONDS_PER_DAY // len(values)) % 60:
        raise RangeError(
            f"a {what} of {len(values)} values does not split the day into whole minutes; "
            "use e.g. 24, 48, 96 or 1440 values"
        )
    return values
