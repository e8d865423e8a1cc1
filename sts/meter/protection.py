"""Tamper, faults, power quality, self-protection, over-current control, payment mode
and the configurable alarm set: the meter's guard over its relay.

:class:`Guard` watches each stretch of load the metering side sees
(:mod:`sts.meter.metering`) and keeps the five event logs
(:mod:`sts.meter.event_logs`) and the disconnect control object
(:mod:`sts.meter.disconnect`). It detects, from the simulated quantities:

- **voltage** against the supply (:class:`~sts.meter.measurement.SupplyConfig`):
  below the operating range the meter has no supply (power down / power
  failure, power up / power restored when it returns); below ``sag_percent``
  of nominal (90 %) an under-voltage *sag*; above ``swell_percent`` (110 %)
  an over-voltage *swell*; back inside, voltage normal;
- **current reversal**: active power flowing out while ``reverse_current_fraud``
  is set (a meter whose site has no generation; off by default, since export
  is normal with rooftop solar);
- **neutral current mismatch**: phase and neutral current differing by more
  than ``neutral_mismatch_a`` (0.5 A) while the relay is closed;
- **over current** above ``over_current_a`` amperes: the relay trips and
  recloses after ``reconnect_delay_s``; the ``lockout_trips``-th trip within
  ``lockout_window_s`` locks it out for ``lockout_s`` (None: until the
  customer's reconnect button);
- **current imbalance** (the datasheet's power-quality "current imbalance"; on a
  single-phase meter, phase and neutral current apart): while the relay is
  closed and the larger of the two is at least ``imbalance_min_a``, a
  difference above ``imbalance_percent`` of the larger. Logged when it starts
  (83) and ends (84). With ``open_on_current_imbalance`` (off by default) each
  detection trips the relay exactly like an over current (timed reconnection,
  the same trip count and lock-out), the reason "current imbalance". It is the
  power-quality reading of a mismatch; the fraud log's *neutral current
  mismatch* (an absolute ``neutral_mismatch_a``, latched as tamper) is the
  other;
- **terminal temperature** (the datasheet's "fire disaster control"): above
  ``fire_temperature_c`` (90 degrees C by default; it must lie above the
  datasheet's +70 degrees C limit operating range) an *over temperature*
  (95, failure log, an alarm); back at or below :data:`FIRE_RESET_C` (+60
  degrees C, the top of the normal operating range), *temperature normal*
  (96). A point without a temperature reading counts as normal. A *fire
  alarm* input (a smoke or heat detector wired to the meter, injected with
  ``sts meter tamper --kind fire_alarm``) is the other way in (97, until
  cleared: 98).

Tamper (covers opened, magnetic field, and the two detections above) and
faults (memory, relay, battery low, clock invalid) are also injected from
outside (:meth:`Guard.tamper`, :meth:`Guard.fault`; ``sts meter tamper``).
Tamper latches until a clear-tamper token (or :meth:`Guard.clear_tamper`);
a fault until :meth:`Guard.clear_fault`.

**Self-protection** (each rule opens the relay with its reason, per configuration):

    overload          over-current trip and lock-out (with ``over_current_a``)
    abnormal voltage  sag or swell, when ``open_on_abnormal_voltage`` (off by default)
    arrearage         no credit: the credit engine's rule, in prepaid mode only
    tamper            the credit engine's ``load_control.open_on_tamper`` (on by default)
    malfunction       any fault, when ``open_on_malfunction`` (off by default)
    fire              over temperature or the fire alarm input, when ``open_on_fire``
                      (on by default)
    current imbalance a timed trip, when ``open_on_current_imbalance`` (off by default)
    power failure     no supply: nothing flows

**Fire disaster control** holds the relay open, whatever the control mode
(mode 0 too), while the terminals are over temperature or the fire alarm
input is active, and refuses a manual or remote reconnect meanwhile. It also
moves disconnect control to ready-for-reconnection (a local disconnect,
modes 1-6) and, unlike abnormal voltage, never reconnects by itself: once the
terminals are cool the relay waits for the customer's reconnect button or a
remote reconnect, so a supply that overheated is looked at before it carries
load again.

Over-current lock-out, abnormal voltage, malfunction and fire are class 70 *local
disconnects*: the disconnect control goes to ready-for-reconnection; when the
condition ends it reconnects by itself only in control modes 5 and 6, and
otherwise waits for the customer's reconnect button (manual reconnect) or a
remote reconnect. Remote and manual commands follow the control mode
(:mod:`sts.meter.disconnect`). The relay is closed only when disconnect
control is connected, no rule here holds it open, and the credit engine has
a reason to keep it closed.

**Payment mode.** Prepaid (default) or postpaid: a postpaid meter registers
and bills energy but draws no wallet and never opens the relay for lack of
credit. Switching is a security event and keeps every register and wallet;
it comes from the head end (``sts meter mode``) or, where the utility set a
``mode_switch_pin``, the keypad (:data:`sts.meter.meter.MODE_SWITCH_CODE`).

**Alarms.** Every event whose code is in ``alarm_codes`` raises the alarm
(LED/buzzer and display on the CIU): the keypad shows the indicator and the
newest cause until the customer acknowledges it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sts.errors import FormatError, FunctionError, RangeError
from sts.meter import strict
from sts.meter.disconnect import ControlState, DisconnectControl, Trigger
from sts.meter.event_logs import Code, Entry, EventLogs
from sts.meter.friendly import NEVER
from sts.meter.load import RelayReason
from sts.meter.localtime import LocalCalendar
from sts.meter.measurement import LoadPoint, SupplyConfig, raw_instant

if TYPE_CHECKING:
    from sts.meter.credit import CreditEngine

SECTION_VERSION = 1
MAX_ALARMS = 20
FIRE_LIMITS = (Decimal(70), Decimal(200))
"""fire_temperature_c lies above the datasheet's +70 degrees C limit operating range."""
FIRE_RESET_C = Decimal(60)
"""At or below this the terminals are cool again: the top of the normal operating range."""


class _CodedKind(StrEnum):
    """A kind of condition named by its text value and filed under one event code."""

    _code: Code

    def __new__(cls, value: str, code: Code) -> _CodedKind:
        member = str.__new__(cls, value)
        member._value_ = value
        member._code = code
        return member

    @property
    def code(self) -> Code:
        return self._code


class TamperKind(_CodedKind):
    TERMINAL_COVER = "terminal_cover", Code.TERMINAL_COVER_OPENED
    METER_COVER = "meter_cover", Code.METER_COVER_OPENED
    MODULE_COVER = "module_cover", Code.MODULE_COVER_OPENED
    MAGNETIC = "magnetic", Code.MAGNETIC_FIELD
    CURRENT_REVERSAL = "current_reversal", Code.CURRENT_REVERSAL
    NEUTRAL_MISMATCH = "neutral_mismatch", Code.NEUTRAL_MISMATCH


class FaultKind(_CodedKind):
    MEMORY = "memory_error", Code.MEMORY_ERROR
    RELAY = "relay_error", Code.RELAY_ERROR
    BATTERY_LOW = "battery_low", Code.BATTERY_LOW
    CLOCK_INVALID = "clock_invalid", Code.CLOCK_INVALID


FIRE_ALARM = "fire_alarm"
"""The injectable name of the fire alarm input (``sts meter tamper --kind fire_alarm``)."""


class Voltage(StrEnum):
    NORMAL = "normal"
    SAG = "sag"
    SWELL = "swell"
    OFF = "off"


DEFAULT_ALARM_CODES = frozenset(
    int(c)
    for c in (
        *(kind.code for kind in TamperKind),
        Code.OVER_CURRENT,
        Code.POWER_FAILURE,
        *(kind.code for kind in FaultKind),
        Code.OVER_TEMPERATURE,
        Code.FIRE_ALARM,
    )
)


@dataclass(frozen=True)
class ProtectionConfig:
    """Self-protection, detection thresholds, over-current control and the alarm set."""

    over_current_a: Decimal | None = None
    reconnect_delay_s: int = 60
    lockout_trips: int = 3
    lockout_window_s: int = 600
    lockout_s: int | None = 1800
    open_on_abnormal_voltage: bool = False
    open_on_malfunction: bool = False
    reverse_current_fraud: bool = False
    neutral_mismatch_a: Decimal = Decimal("0.5")
    sag_percent: int = 90
    swell_percent: int = 110
    alarm_codes: frozenset[int] = field(default_factory=lambda: DEFAULT_ALARM_CODES)
    open_on_fire: bool = True
    fire_temperature_c: Decimal = Decimal(90)
    open_on_current_imbalance: bool = False
    imbalance_percent: int = 10
    imbalance_min_a: Decimal = Decimal(1)
    mode_switch_pin: str | None = None

    def __post_init__(self) -> None:
        if self.over_current_a is not None and not Decimal(0) < self.over_current_a <= 1000:
            raise RangeError(f"over-current limit {self.over_current_a} A is not above 0, <= 1000")
        for name, low, high in (
            ("reconnect_delay_s", 1, 86_400),
            ("lockout_trips", 1, 100),
            ("lockout_window_s", 0, 86_400),
            ("sag_percent", 1, 100),
            ("swell_percent", 100, 200),
            ("imbalance_percent", 1, 100),
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise RangeError(f"{name} {value!r} is not {low}-{high}")
        if self.lockout_s is not None and not 1 <= self.lockout_s <= 30 * 86_400:
            raise RangeError(f"lockout_s {self.lockout_s!r} is not 1-2592000 (or None)")
        if not Decimal(0) < self.neutral_mismatch_a <= 1000:
            raise RangeError(f"neutral mismatch threshold {self.neutral_mismatch_a} A is not > 0")
        if not Decimal(0) < self.imbalance_min_a <= 1000:
            raise RangeError(
                f"imbalance_min_a {self.imbalance_min_a} A is not above 0 and at most 1000"
            )
        if not FIRE_LIMITS[0] < self.fire_temperature_c <= FIRE_LIMITS[1]:
            raise RangeError(
                f"fire_temperature_c {self.fire_temperature_c} is not above {FIRE_LIMITS[0]} "
                f"(the meter's limit operating temperature) and at most {FIRE_LIMITS[1]}"
            )
        pin = self.mode_switch_pin
        if pin is not None and not (
            isinstance(pin, str) and pin.isascii() and pin.isdigit() and 4 <= len(pin) <= 8
        ):
            raise RangeError("mode_switch_pin is not 4 to 8 digits")
        known = {int(c) for c in Code}
        unknown = sorted(set(self.alarm_codes) - known)
        if unknown:
            raise RangeError(f"alarm codes {unknown} are not event codes")
        object.__setattr__(self, "alarm_codes", frozenset(self.alarm_codes))

    def to_dict(self) -> dict[str, Any]:
        return {
            "over_current_a": None if self.over_current_a is None else str(self.over_current_a),
            "reconnect_delay_s": self.reconnect_delay_s,
            "lockout_trips": self.lockout_trips,
            "lockout_window_s": self.lockout_window_s,
            "lockout_s": self.lockout_s,
            "open_on_abnormal_voltage": self.open_on_abnormal_voltage,
            "open_on_malfunction": self.open_on_malfunction,
            "reverse_current_fraud": self.reverse_current_fraud,
            "neutral_mismatch_a": str(self.neutral_mismatch_a),
            "sag_percent": self.sag_percent,
            "swell_percent": self.swell_percent,
            "alarm_codes": sorted(self.alarm_codes),
            "open_on_fire": self.open_on_fire,
            "fire_temperature_c": str(self.fire_temperature_c),
            "open_on_current_imbalance": self.open_on_current_imbalance,
            "imbalance_percent": self.imbalance_percent,
            "imbalance_min_a": str(self.imbalance_min_a),
            "mode_switch_pin": self.mode_switch_pin,
        }

    @classmethod
    def from_dict(cls, data: Any, path: str = "protection.config") -> ProtectionConfig:
        names = tuple(cls().to_dict())
        d = strict.obj(data, path, (), names)
        values: dict[str, Any] = {}
        for name in (
            "reconnect_delay_s",
            "lockout_trips",
            "lockout_window_s",
            "sag_percent",
            "swell_percent",
            "imbalance_percent",
        ):
            if name in d:
                values[name] = strict.as_int(d[name], f"{path}.{name}")
        for name in (
            "open_on_abnormal_voltage",
            "open_on_malfunction",
            "reverse_current_fraud",
            "open_on_fire",
            "open_on_current_imbalance",
        ):
            if name in d:
                values[name] = strict.as_bool(d[name], f"{path}.{name}")
        for name in ("fire_temperature_c", "imbalance_min_a"):
            if name in d:
                values[name] = strict.as_decimal(d[name], f"{path}.{name}")
        if d.get("mode_switch_pin") is not None:
            values["mode_switch_pin"] = strict.as_str(
                d["mode_switch_pin"], f"{path}.mode_switch_pin", 8
            )
        if d.get("over_current_a") is not None:
            values["over_current_a"] = strict.as_decimal(
                d["over_current_a"], f"{path}.over_current_a"
            )
        if "lockout_s" in d and d["lockout_s"] is not None:
            values["lockout_s"] = strict.as_int(d["lockout_s"], f"{path}.lockout_s")
        elif "lockout_s" in d:
            values["lockout_s"] = None
        if "neutral_mismatch_a" in d:
            values["neutral_mismatch_a"] = strict.as_decimal(
                d["neutral_mismatch_a"], f"{path}.neutral_mismatch_a"
            )
        if "alarm_codes" in d:
            items = strict.as_list(d["alarm_codes"], f"{path}.alarm_codes", 200)
            values["alarm_codes"] = frozenset(
                strict.as_int(v, f"{path}.alarm_codes[{i}]") for i, v in enumerate(items)
            )
        try:
            return cls(**values)
        except RangeError as exc:
            raise FormatError(f"{path}: {exc}") from None


class Guard:
    """Detection, self-protection, disconnect control, payment mode and alarms of one meter."""

    def __init__(
        self,
        config: ProtectionConfig | None = None,
        disconnect: DisconnectControl | None = None,
        logs: EventLogs | None = None,
    ) -> None:
        self.config = config if config is not None else ProtectionConfig()
        self.disconnect = disconnect if disconnect is not None else DisconnectControl()
        self.logs = logs if logs is not None else EventLogs()
        self.tampers: dict[TamperKind, int] = {}
        self.faults: dict[FaultKind, int] = {}
        self.voltage = Voltage.NORMAL
        self.trips: list[int] = []
        self.reconnect_at: int | None = None
        self.locked = False
        self.locked_until: int | None = None
        self.alarms: list[Entry] = []
        self.postpaid = False
        self.trip_cause = Code.OVER_CURRENT  # or CURRENT_IMBALANCE: what the timed trip was for
        self.imbalanced = False
        self.hot = False  # terminals above fire_temperature_c, not yet back at FIRE_RESET_C
        self.fire_input: int | None = None  # epoch second the fire alarm input went active
        self._engine: CreditEngine | None = None
        self._cal = LocalCalendar("UTC")
        self._supply = SupplyConfig()
        self._point: LoadPoint | None = None
        self._closed = False
        self._limit_ca = (
            None if self.config.over_current_a is None else int(self.config.over_current_a * 100)
        )
        self._plain = self._limit_ca is None and not self.config.reverse_current_fraud

    def bind(self, engine: CreditEngine, calendar: LocalCalendar, supply: SupplyConfig) -> None:
        self._engine = engine
        self._cal = calendar
        self._supply = supply
        engine.relay_hold = self.hold
        engine.postpaid = self.postpaid

    # -- the relay -------------------------------------------------------------------------

    def hold(self) -> RelayReason | None:
        """What holds the relay open now (None: nothing here)."""
        if self.voltage is Voltage.OFF:
            return RelayReason.POWER_FAILURE
        if self.fire:
            return RelayReason.FIRE
        if self.locked:
            return RelayReason.OVER_CURRENT_LOCKOUT
        if self.reconnect_at is not None:
            if self.trip_cause is Code.CURRENT_IMBALANCE:
                return RelayReason.CURRENT_IMBALANCE
            return RelayReason.OVER_CURRENT
        if self.config.open_on_abnormal_voltage and self.voltage in (Voltage.SAG, Voltage.SWELL):
            return RelayReason.ABNORMAL_VOLTAGE
        if self.config.open_on_malfunction and self.faults:
            return RelayReason.MALFUNCTION
        if not self.disconnect.output_state:
            return RelayReason.DISCONNECTED
        return None

    @property
    def fire(self) -> bool:
        """True while fire disaster control holds the relay open."""
        return self.config.open_on_fire and (self.hot or self.fire_input is not None)

    def next_timer(self) -> int:
        """Epoch second of the next over-current timer (NEVER: none runs)."""
        if self.reconnect_at is not None:
            return self.reconnect_at
        if self.locked and self.locked_until is not None:
            return self.locked_until
        return NEVER

    def shift_timers(self, delta: int) -> None:
        """Move the over-current timers and trip times by ``delta`` seconds (a clock
        adjustment): what was left of each stays."""
        self.trips = [at + delta for at in self.trips]
        if self.reconnect_at is not None:
            self.reconnect_at += delta
        if self.locked_until is not None:
            self.locked_until += delta

    def _resettle(self, t: int) -> None:
        if self._engine is not None:
            self._engine.resettle(t)

    def _local(self, t: int, trigger: Trigger, why: str) -> None:
        if self.disconnect.allows(trigger):
            self.disconnect.apply(trigger)
            code = (
                Code.PROTECTION_OPENED if trigger is Trigger.LOCAL_DISCONNECT else Code.RECONNECTED
            )
            self.record(t, code, f"{trigger.value}: {why}")

    # -- watching the load -----------------------------------------------------------------

    def check(self, t: int, point: LoadPoint) -> None:
        """Look at the load starting at epoch second ``t`` (called for each stretch)."""
        engine = self._engine
        closed = engine is not None and engine.state.relay_closed
        if (
            closed == self._closed
            and (point is self._point or self._plain_point(point))
            and ((self.reconnect_at is None and not self.locked) or t < self.next_timer())
        ):
            self._point = point
            return
        changed = self._timers(t)
        changed |= self._watch_voltage(t, point)
        changed |= self._watch_temperature(t, point)
        if changed:
            self._resettle(t)
            closed = engine is not None and engine.state.relay_closed
        if closed and self.voltage is not Voltage.OFF and self._watch_current(t, point):
            self._resettle(t)
            closed = engine is not None and engine.state.relay_closed
        self._point = point
        self._closed = closed

    def _plain_point(self, point: LoadPoint) -> bool:
        """True when ``point`` can change nothing here: a load at nominal voltage with no
        neutral or temperature reading, on a meter with no current rule, with nothing
        detected that such a point would end (most stretches of a long run)."""
        return (
            self._plain
            and point[2] is None  # voltage_v, neutral_a, temperature_c: by index (hot path)
            and point[4] is None
            and point[5] is None
            and self.voltage is Voltage.NORMAL
            and not self.hot
            and not self.imbalanced
        )

    def _timers(self, t: int) -> bool:
        changed = False
        if self.reconnect_at is not None and t >= self.reconnect_at:
            self.reconnect_at = None
            changed = True
        if self.locked and self.locked_until is not None and t >= self.locked_until:
            self._end_lockout(t, "over-current lock-out time over")
            changed = True
        return changed

    def _end_lockout(self, t: int, why: str) -> None:
        self.locked = False
        self.locked_until = None
        self.trips = []
        if self.disconnect.state is ControlState.READY_FOR_RECONNECTION:
            self._local(t, Trigger.LOCAL_RECONNECT, why)

    def _band(self, point: LoadPoint) -> Voltage:
        if point.voltage_v is None:  # the nominal voltage is always in the normal band
            return Voltage.NORMAL
        volts = point.voltage_v
        low = self._supply.operating_range_v[0]
        nominal = self._supply.nominal_v
        if volts < low:
            return Voltage.OFF
        if volts * 100 < nominal * self.config.sag_percent:
            return Voltage.SAG
        if volts * 100 > nominal * self.config.swell_percent:
            return Voltage.SWELL
        return Voltage.NORMAL

    def _watch_voltage(self, t: int, point: LoadPoint) -> bool:
        band = self._band(point)
        old = self.voltage
        if band is old:
            return False
        volts = point.voltage_v if point.voltage_v is not None else self._supply.nominal_v
        if old is Voltage.OFF:
            self.record(t, Code.POWER_UP, f"{volts} V")
            self.record(t, Code.POWER_RESTORED, f"{volts} V")
        if band is Voltage.OFF:
            self.record(t, Code.POWER_DOWN, f"{volts} V")
            self.record(t, Code.POWER_FAILURE, f"{volts} V, below the operating range")
        elif band is Voltage.SAG:
            self.record(t, Code.UNDER_VOLTAGE, f"sag to {volts} V")
        elif band is Voltage.SWELL:
            self.record(t, Code.OVER_VOLTAGE, f"swell to {volts} V")
        elif old in (Voltage.SAG, Voltage.SWELL):
            self.record(t, Code.VOLTAGE_NORMAL, f"{volts} V")
        self.voltage = band
        if self.config.open_on_abnormal_voltage:
            abnormal = (Voltage.SAG, Voltage.SWELL)
            if band in abnormal and old not in abnormal:
                self._local(t, Trigger.LOCAL_DISCONNECT, f"abnormal voltage {volts} V")
            elif old in abnormal and band not in abnormal:
                self._local(t, Trigger.LOCAL_RECONNECT, f"voltage {volts} V")
        return True

    def _watch_temperature(self, t: int, point: LoadPoint) -> bool:
        """Over temperature at the terminals (fire disaster control); True on a change."""
        celsius = point.temperature_c
        if not self.hot:
            if celsius is None or celsius <= self.config.fire_temperature_c:
                return False
            self.hot = True
            limit = self.config.fire_temperature_c
            self.record(t, Code.OVER_TEMPERATURE, f"terminals {celsius} C above {limit} C")
            if self.config.open_on_fire:
                self._local(t, Trigger.LOCAL_DISCONNECT, f"fire control: terminals {celsius} C")
            return True
        if celsius is not None and celsius > FIRE_RESET_C:
            return False
        self.hot = False
        shown = "no reading" if celsius is None else f"{celsius} C"
        self.record(t, Code.TEMPERATURE_NORMAL, f"terminals {shown}, at or below {FIRE_RESET_C} C")
        return True

    def _watch_current(self, t: int, point: LoadPoint) -> bool:
        """Reverse current, neutral mismatch, current imbalance and over current with the
        relay closed; True when the relay tripped."""
        config = self.config
        reversal = TamperKind.CURRENT_REVERSAL
        if point.active_w < 0 and config.reverse_current_fraud and reversal not in self.tampers:
            self.tamper(t, reversal, f"{point.active_w} W flowing out")
        limit = self._limit_ca
        if (
            point.neutral_a is None
            and not self.imbalanced
            and (limit is None or self._below_limit(point, limit))
        ):
            return False  # neutral carries the phase current and no over current is possible
        raw = raw_instant(point, self._supply, True)
        current, neutral = raw[1], raw[2]
        detail = f"phase {current / 100:.2f} A, neutral {neutral / 100:.2f} A"
        mismatch = TamperKind.NEUTRAL_MISMATCH
        if (
            abs(current - neutral) > config.neutral_mismatch_a * 100
            and mismatch not in self.tampers
        ):
            self.tamper(t, mismatch, detail)
        if limit is not None and current > limit:
            above = f"{current / 100:.2f} A above {config.over_current_a} A"
            self._trip(t, Code.OVER_CURRENT, above)
            return True
        larger = max(current, neutral)
        imbalanced = (
            larger >= config.imbalance_min_a * 100
            and abs(current - neutral) * 100 > larger * config.imbalance_percent
        )
        if imbalanced:
            share = f"{abs(current - neutral) * 100 / larger:.1f} % apart"
            if config.open_on_current_imbalance:
                self.imbalanced = True
                self._trip(t, Code.CURRENT_IMBALANCE, f"{detail} ({share}): relay opened")
                return True
            if not self.imbalanced:
                self.imbalanced = True
                self.record(t, Code.CURRENT_IMBALANCE, f"{detail} ({share})")
        elif self.imbalanced:
            self.imbalanced = False
            self.record(t, Code.CURRENT_BALANCED, detail)
        return False

    def _below_limit(self, point: LoadPoint, limit_ca: int) -> bool:
        """A cheap bound: S <= |P| + |Q|, so a current of (|P| + |Q|) / V within the limit
        means no over current without working out S."""
        volts = point.voltage_v if point.voltage_v is not None else self._supply.nominal_v
        return (abs(point.active_w) + abs(point.reactive_var)) * 1000 <= limit_ca * int(volts * 10)

    def _trip(self, t: int, code: Code, detail: str) -> None:
        """A timed trip for over current or current imbalance (``code``), counted together
        towards the lock-out."""
        config = self.config
        self.record(t, code, detail)
        self.trip_cause = code
        self.trips = [at for at in self.trips if at > t - config.lockout_window_s]
        self.trips.append(t)
        if len(self.trips) >= config.lockout_trips:
            self.locked = True
            self.locked_until = None if config.lockout_s is None else t + config.lockout_s
            self.reconnect_at = None
            what = "over-current" if code is Code.OVER_CURRENT else "current-imbalance"
            self._local(
                t, Trigger.LOCAL_DISCONNECT, f"{what} lock-out after {len(self.trips)} trips"
            )
        else:
            self.reconnect_at = t + config.reconnect_delay_s

    # -- injected from outside ------------------------------------------------------------

    def tamper(self, t: int, kind: TamperKind, detail: str = "") -> None:
        """A tamper condition at ``t``: logged (fraud), latched, and given to the credit engine
        (whose tamper control opens the relay where configured)."""
        powered = "with power" if self.voltage is not Voltage.OFF else "without power"
        self.record(t, kind.code, ", ".join(x for x in (powered, detail) if x))
        self.tampers.setdefault(kind, t)
        if self._engine is not None:
            self._engine.set_tamper(self._cal.local(t), kind.value.replace("_", " "))

    def clear_tamper(self, t: int) -> None:
        """End every latched tamper (a clear-tamper token)."""
        kinds = ", ".join(k.value for k in self.tampers) or "none latched"
        self.tampers.clear()
        self.record(t, Code.TAMPER_CLEARED, kinds)

    def fault(self, t: int, kind: FaultKind, detail: str = "") -> None:
        self.record(t, kind.code, detail)
        first = not self.faults
        self.faults.setdefault(kind, t)
        if first and self.config.open_on_malfunction:
            self._local(t, Trigger.LOCAL_DISCONNECT, f"malfunction: {kind.value}")
        self._resettle(t)

    def clear_fault(self, t: int, kind: FaultKind) -> None:
        if kind not in self.faults:
            raise RangeError(f"fault {kind.value} is not present")
        del self.faults[kind]
        self.record(t, Code.FAULT_CLEARED, kind.value)
        if not self.faults and self.config.open_on_malfunction:
            self._local(t, Trigger.LOCAL_RECONNECT, "no fault left")
        self._resettle(t)

    def fire_alarm(self, t: int, active: bool, detail: str = "") -> None:
        """The fire alarm input goes active (latched) or is cleared."""
        if active:
            self.record(t, Code.FIRE_ALARM, detail)
            if self.fire_input is None:
                self.fire_input = t
                if self.config.open_on_fire:
                    self._local(t, Trigger.LOCAL_DISCONNECT, "fire control: fire alarm input")
        else:
            if self.fire_input is None:
                raise RangeError("the fire alarm input is not active")
            self.fire_input = None
            self.record(t, Code.FIRE_ALARM_CLEARED, detail)
        self._resettle(t)

    def command(self, t: int, trigger: Trigger) -> ControlState:
        """A remote or manual disconnect/reconnect (FunctionError when the mode refuses it,
        or a reconnect while fire disaster control holds the relay open)."""
        if trigger in (Trigger.LOCAL_DISCONNECT, Trigger.LOCAL_RECONNECT):
            raise RangeError("local triggers come from the meter's own protection, not a command")
        if self.fire and trigger in (Trigger.MANUAL_RECONNECT, Trigger.REMOTE_RECONNECT):
            cause = "the terminals are over temperature" if self.hot else "the fire alarm is active"
            raise FunctionError(
                f"{trigger.value} is refused while fire control holds the relay open ({cause})"
            )
        before = self.disconnect.state
        state = self.disconnect.apply(trigger)
        if trigger is Trigger.MANUAL_RECONNECT and self.locked:
            self.locked = False
            self.locked_until = None
            self.trips = []
        self.record(
            t,
            Code.DISCONNECT_COMMAND,
            f"{trigger.value}: {before.name.lower()} -> {state.name.lower()}",
        )
        self._resettle(t)
        return state

    def set_postpaid(self, t: int, postpaid: bool, source: str = "") -> None:
        """Switch the payment mode (a security event naming ``source``; no change, no event)."""
        if postpaid == self.postpaid:
            return
        names = ("prepaid", "postpaid")
        detail = f"{names[self.postpaid]} -> {names[postpaid]}" + (f" ({source})" if source else "")
        self.record(t, Code.PAYMENT_MODE_CHANGED, detail)
        self.postpaid = postpaid
        if self._engine is not None:
            self._engine.postpaid = postpaid
        self._resettle(t)

    # -- events and alarms -----------------------------------------------------------------

    def record(self, t: int, code: Code, detail: str = "") -> Entry:
        entry = self.logs.record(t, code, detail)
        if int(code) in self.config.alarm_codes:
            self.alarms.append(entry)
            del self.alarms[:-MAX_ALARMS]
        return entry

    def acknowledge(self) -> int:
        """The customer acknowledges the alarm; returns how many causes were shown."""
        count = len(self.alarms)
        self.alarms.clear()
        return count

    # -- persistence -----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": SECTION_VERSION,
            "config": self.config.to_dict(),
            "disconnect": self.disconnect.to_dict(),
            "logs": self.logs.to_dict(),
            "tampers": {k.value: t for k, t in self.tampers.items()},
            "faults": {k.value: t for k, t in self.faults.items()},
            "voltage": self.voltage.value,
            "over_current": {
                "trips": list(self.trips),
                "reconnect_at": self.reconnect_at,
                "locked": self.locked,
                "locked_until": self.locked_until,
            },
            "alarms": [e.to_dict() for e in self.alarms],
            "payment_mode": "postpaid" if self.postpaid else "prepaid",
            "trip_cause": int(self.trip_cause),
            "imbalanced": self.imbalanced,
            "fire": {"hot": self.hot, "input": self.fire_input},
        }

    @classmethod
    def from_dict(cls, data: Any, path: str = "protection") -> Guard:
        names = (
            "version",
            "config",
            "disconnect",
            "logs",
            "tampers",
            "faults",
            "voltage",
            "over_current",
            "alarms",
            "payment_mode",
        )
        # the current-imbalance and fire parts came later: a file without them loads
        d = strict.obj(data, path, names, ("trip_cause", "imbalanced", "fire"))
        if d["version"] != SECTION_VERSION:
            raise FormatError(f"{path}.version is {d['version']!r}; expected {SECTION_VERSION}")
        guard = cls(
            ProtectionConfig.from_dict(d["config"], f"{path}.config"),
            DisconnectControl.from_dict(d["disconnect"], f"{path}.disconnect"),
            EventLogs.from_dict(d["logs"], f"{path}.logs"),
        )
        guard.tampers = _kinds(d["tampers"], TamperKind, f"{path}.tampers")
        guard.faults = _kinds(d["faults"], FaultKind, f"{path}.faults")
        try:
            guard.voltage = Voltage(d["voltage"])
        except ValueError:
            raise FormatError(
                f"{path}.voltage is {d['voltage']!r}; expected normal, sag, swell or off"
            ) from None
        oc = strict.obj(
            d["over_current"],
            f"{path}.over_current",
            ("trips", "reconnect_at", "locked", "locked_until"),
        )
        guard.trips = [
            strict.as_int(v, f"{path}.over_current.trips[{i}]", 0)
            for i, v in enumerate(strict.as_list(oc["trips"], f"{path}.over_current.trips", 100))
        ]
        for name in ("reconnect_at", "locked_until"):
            if oc[name] is not None:
                strict.as_int(oc[name], f"{path}.over_current.{name}", 0)
            setattr(guard, name, oc[name])
        guard.locked = strict.as_bool(oc["locked"], f"{path}.over_current.locked")
        alarms = strict.as_list(d["alarms"], f"{path}.alarms", MAX_ALARMS)
        for i, item in enumerate(alarms):
            if not isinstance(item, list) or len(item) != 3:
                raise FormatError(f"{path}.alarms[{i}] is not [code, time, detail]")
            guard.alarms.append(
                Entry(
                    strict.as_int(item[0], f"{path}.alarms[{i}][0]"),
                    strict.as_int(item[1], f"{path}.alarms[{i}][1]", 0),
                    strict.as_str(item[2], f"{path}.alarms[{i}][2]"),
                )
            )
        mode = d["payment_mode"]
        if mode not in ("prepaid", "postpaid"):
            raise FormatError(f"{path}.payment_mode is {mode!r}; expected prepaid or postpaid")
        guard.postpaid = mode == "postpaid"
        cause = strict.as_int(d.get("trip_cause", int(Code.OVER_CURRENT)), f"{path}.trip_cause")
        if cause not in (Code.OVER_CURRENT, Code.CURRENT_IMBALANCE):
            raise FormatError(
                f"{path}.trip_cause is {cause}; expected {int(Code.OVER_CURRENT)} (over current) "
                f"or {int(Code.CURRENT_IMBALANCE)} (current imbalance)"
            )
        guard.trip_cause = Code(cause)
        guard.imbalanced = strict.as_bool(d.get("imbalanced", False), f"{path}.imbalanced")
        no_fire = {"hot": False, "input": None}
        fire = strict.obj(d.get("fire", no_fire), f"{path}.fire", ("hot", "input"))
        guard.hot = strict.as_bool(fire["hot"], f"{path}.fire.hot")
        if fire["input"] is not None:
            guard.fire_input = strict.as_int(fire["input"], f"{path}.fire.input", 0)
        return guard

    @classmethod
    def from_settings(cls, data: Any, path: str = "protection") -> Guard:
        """A new meter's guard from settings: ProtectionConfig fields plus ``control_mode``
        (0-6, default 1) and ``payment_mode`` ("prepaid" or "postpaid")."""
        if not isinstance(data, dict):
            raise FormatError(f"{path} is not an object of protection settings")
        given = dict(data)
        mode = strict.as_int(given.pop("control_mode", 1), f"{path}.control_mode", 0, 6)
        payment = given.pop("payment_mode", "prepaid")
        if payment not in ("prepaid", "postpaid"):
            raise FormatError(f"{path}.payment_mode is {payment!r}; expected prepaid or postpaid")
        guard = cls(ProtectionConfig.from_dict(given, path), DisconnectControl(mode))
        guard.postpaid = payment == "postpaid"
        return guard


def _kinds(data: Any, enum: type, path: str) -> dict:
    if not isinstance(data, dict):
        raise FormatError(f"{path} is not an object of kind: time")
    strict.unknown_key(data, path, (kind.value for kind in enum))
    out = {}
    for key, value in data.items():
        out[enum(key)] = strict.as_int(value, f"{path}.{key}", 0)
    return out
