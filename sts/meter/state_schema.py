"""Every rule a meter state document must satisfy, in one place.

:data:`METER` describes the ``"meter"`` object of a state file (what
``Meter.to_dict()`` writes) with the field specs of :mod:`sts.meter.schema`;
:data:`CONFIG` is its credit engine set-up, which ``sts meter new --config``
reads too. :mod:`sts.meter.state` checks a document against them before
building anything, and checks what it writes the same way, so a file on disk
always loads again.

Two kinds of rule:

* **each field**: its JSON type and its bounds (:mod:`sts.meter.limits` and
  the limits of the module that owns the value: 10 tariff steps, 31 daily
  records, TID memory sizes, ...). No key may be missing or unknown.
* **what ties fields together** (the ``check_all`` functions below): the wallets
  within their register maximums, the TID memory within its size and
  ascending, a held key change section belonging to this key's set, the relay
  state matching its reason, the credit ledger's identities, the credit
  clock equal to the meter's, a keypad lock no longer than the longest lock.
  Where a part becomes a frozen dataclass with its own checks (key
  registers, tariff, alarm levels), the check builds it and reports what it
  refused at the part's path.

The ``"metering"`` section (optional: files written before it load) is the one
subtree this schema does not spell out: :data:`METERING` hands it to
:meth:`sts.meter.metering.Metering.from_dict`, whose strict readers already
refuse every unknown, missing or out-of-range field with its path; what ties it
to the credit engine is checked here (:func:`_metering_consistent`). A part
added to the meter's document gets its spec here, in its parent's
:class:`~sts.meter.schema.Obj`.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from itertools import pairwise
from typing import Any

from sts.meter.billing import DAILY_RECORDS, MONTHLY_RECORDS
from sts.meter.config import (
    ALARM_LEVELS,
    MAX_FIXED_CHARGES,
    MAX_LEVIES,
    MAX_SERVICE_STEPS,
    MAX_SPECIAL_DATES,
    MAX_STEPS,
    MAX_VAT_RATES,
    ChargeKind,
    CreditConfig,
)
from sts.meter.credit import STATE_VERSION, CreditEngine
from sts.meter.decoder import DecoderState
from sts.meter.events import EventKind
from sts.meter.key_change import KctState
from sts.meter.ledger import Ledger
from sts.meter.limits import (
    CLOCK_END,
    CLOCK_FIRST,
    EPOCH_END,
    EPOCH_FIRST,
    MAX_COUNTER,
    MAX_DETAIL,
    MAX_LOAD_W,
    MAX_REASON,
)
from sts.meter.load import RelayReason
from sts.meter.localtime import LocalCalendar, parse_zone
from sts.meter.lockout import FREE_REJECTIONS, MAX_LOCK
from sts.meter.metering import Metering
from sts.meter.profile import LoadProfile
from sts.meter.protection import Guard
from sts.meter.schema import (
    Bool,
    Choice,
    Const,
    Day,
    Dec,
    Int,
    Invalid,
    List,
    Moment,
    Obj,
    Opt,
    Row,
    Section,
    Text,
)
from sts.meter.service import MeterService
from sts.meter.tariff import MeterTariff
from sts.meter.tid_memory import MAX_CAPACITY as MAX_TIDS
from sts.meter.units import kwh_to_j, money_to_units
from sts.tokens.tid import MAX_TID

MAX_EVENTS = 10_000
"""The largest event log a state file may hold (the meter's default is 200)."""
MAX_NAME = 100
MAX_FAILURES = 10_000_000
"""Consecutive wrong entries: more than fit in the clock range at one per lock."""
MAX_PERIOD_S = 30 * 86_400
"""The longest configured delay, window or lock-out (30 days)."""

# -- leaves ---------------------------------------------------------------------------------

KWH = Dec(Decimal(0), Decimal(100_000_000), places=7)
MONEY = Dec(Decimal(0), Decimal(10**10), places=5)
PRICE = Dec(Decimal(0), Decimal(1_000_000), places=6)
VAT_PERCENT = Dec(Decimal(0), Decimal(100), places=4)
LEVY_PERCENT = Dec(Decimal(0), Decimal(1000), places=4)
COUNTER = Int(0, MAX_COUNTER)
WATTS = Int(0, MAX_LOAD_W)
EPOCH = Int(EPOCH_FIRST, EPOCH_END - 1)
TIMER = Int(EPOCH_FIRST, EPOCH_END + MAX_PERIOD_S)  # a timer may end past the clock range
PERIOD = Int(0, MAX_PERIOD_S)
MOMENT = Moment(CLOCK_FIRST, CLOCK_END)
LOCAL_DAY = Day(date(1992, 12, 31), date(2066, 11, 26))  # local dates of the clock range
NAME = Text(MAX_NAME)
HHMM = Text(5, r"([01][0-9]|2[0-3]):[0-5][0-9]", "a local time HH:MM")
HEX_KEY = Text(32, r"[0-9A-Fa-f]{16}|[0-9A-Fa-f]{32}", "a 64- or 128-bit key in hex")
HEX_BLOCK = Text(16, r"[0-9A-Fa-f]{16}", "a 64-bit block in 16 hex digits")


def _enum(kind: Any) -> Choice:
    return Choice(tuple(member.value for member in kind))


# -- credit engine set-up -------------------------------------------------------------------


def _build_config(data: dict[str, Any]) -> None:
    parse_zone(data["timezone"])
    CreditEngine(CreditConfig.from_dict(data))  # its registers in joules and money units


TARIFF = Obj(
    {
        "steps": List(Obj({"upto_kwh": Opt(KWH), "price": PRICE}), MAX_STEPS, 1),
        "service_charge": List(Obj({"upto_kwh": Opt(KWH), "amount": MONEY}), MAX_SERVICE_STEPS),
        "fixed_charges": List(Obj({"name": NAME, "amount": MONEY}), MAX_FIXED_CHARGES),
        "levies": List(Obj({"name": NAME, "per_kwh": PRICE, "percent": LEVY_PERCENT}), MAX_LEVIES),
        "vat": List(
            Obj(
                {
                    "name": NAME,
                    "percent": VAT_PERCENT,
                    "applies_to": List(_enum(ChargeKind), len(ChargeKind), unique=True),
                }
            ),
            MAX_VAT_RATES,
        ),
    },
    optional=frozenset({"service_charge", "fixed_charges", "levies", "vat"}),
)

CONFIG = Obj(
    {
        "timezone": Text(64),
        "tariff": Opt(TARIFF),
        "emergency": Obj(
            {
                "limit_kwh": KWH,
                "automatic": Bool(),
                "available_below_kwh": KWH,
                "available_below_money": MONEY,
            }
        ),
        "friendly": Obj(
            {
                "hours": Opt(Row((HHMM, HHMM), "[start, end] as two local times HH:MM")),
                "weekdays": List(Int(0, 6), 7, unique=True),
                "special_dates": List(LOCAL_DAY, MAX_SPECIAL_DATES, unique=True),
            }
        ),
        "alarms": Obj(
            {"levels": List(Obj({"energy_kwh": KWH, "money": MONEY}), ALARM_LEVELS, ALARM_LEVELS)}
        ),
        "load_control": Obj(
            {
                "power_limit_w": Opt(Int(1, MAX_LOAD_W)),
                "reconnect_delay_s": Int(1, MAX_PERIOD_S),
                "lockout_trips": Int(1, 100),
                "lockout_window_s": PERIOD,
                "lockout_s": Opt(Int(1, MAX_PERIOD_S)),
                "open_on_tamper": Bool(),
            }
        ),
        "energy_max_kwh": KWH,
        "money_max": MONEY,
        "profile_step_s": Int(1, 86_400),
        "service": _enum(MeterService),
    },
    optional=frozenset({"service"}),  # written since water and gas meters; older: electricity
    check_all=_build_config,
)

# -- credit engine registers ----------------------------------------------------------------


def _one_load(data: dict[str, Any]) -> None:
    if len(data) != 1:
        raise Invalid("constant", data.get("constant"), "exactly one of 'constant' or 'daily'")
    LoadProfile.from_dict(data)


LOAD = Obj(
    {"constant": WATTS, "daily": List(WATTS, 1440, 1)},
    optional=frozenset({"constant", "daily"}),
    check_all=_one_load,
)


def _limiter_consistent(data: dict[str, Any]) -> None:
    if data["locked_until"] is not None and not data["locked"]:
        raise Invalid("locked_until", data["locked_until"], "null while the relay is not locked")


LIMITER = Obj(
    {
        "limit_w": WATTS,
        "unbalance_limit_w": Opt(WATTS),
        "trips": List(EPOCH, 100),
        "reconnect_at": Opt(TIMER),
        "locked": Bool(),
        "locked_until": Opt(TIMER),
    },
    check_all=_limiter_consistent,
)

BILLING = Obj(
    {
        "daily": List(Row((LOCAL_DAY, COUNTER), "[date, joules]"), DAILY_RECORDS),
        "monthly": List(
            Row((Int(1992, 2066), Int(1, 12), COUNTER), "[year, month, joules]"), MONTHLY_RECORDS
        ),
    }
)

LEDGER = Obj(
    {name: COUNTER for name in Ledger.__dataclass_fields__},
    # totals added with metering: a file written before them has none (read as 0)
    optional=frozenset({"export_credited_j", "postpaid_j"}),
)

CREDIT_STATE = Obj(
    {
        "now": EPOCH,
        "energy_j": COUNTER,
        "money": COUNTER,
        "money_debt": COUNTER,
        "debt_j": COUNTER,
        "emergency_active": Bool(),
        "emergency_used_j": COUNTER,
        "cost_carry": COUNTER,
        "month_j": COUNTER,
        "day_j": COUNTER,
        "day": LOCAL_DAY,
        "alarm_level": Int(0, ALARM_LEVELS),
        "had_credit": Bool(),
        "relay_closed": Bool(),
        "relay_reason": _enum(RelayReason),
        "tamper": Bool(),
        "tamper_reason": Text(MAX_REASON),
        "demand_w": WATTS,
        "load": LOAD,
        "limiter": LIMITER,
        "billing": BILLING,
        "ledger": LEDGER,
    }
)


def _credit_consistent(data: dict[str, Any]) -> None:
    """The registers agree with the set-up and with each other (see the module docstring)."""
    config = CreditConfig.from_dict(data["config"])
    s = data["state"]

    def at_most(name: str, limit: int, what: str) -> None:
        if s[name] > limit:
            raise Invalid(f"state.{name}", s[name], f"at most {limit:,} ({what})")

    at_most("energy_j", kwh_to_j(config.energy_max_kwh), "the energy register maximum in J")
    at_most("money", money_to_units(config.money_max), "the money register maximum")
    at_most("emergency_used_j", kwh_to_j(config.emergency.limit_kwh), "the emergency limit in J")
    at_most("day_j", s["month_j"], "this month's energy, which includes today's")
    carry_limit = 0 if config.tariff is None else MeterTariff(config.tariff).denominator - 1
    at_most("cost_carry", carry_limit, "a fraction of one money unit")
    if s["relay_closed"] == RelayReason(s["relay_reason"]).opens:
        state = "closed" if s["relay_closed"] else "open"
        raise Invalid("state.relay_reason", s["relay_reason"], f"a reason the relay is {state}")
    if not s["tamper"] and s["tamper_reason"]:
        raise Invalid("state.tamper_reason", s["tamper_reason"], "'' while there is no tamper")
    _limiter_in_time(config, s["limiter"], s["now"])
    day = LocalCalendar(config.timezone).local(s["now"]).date().isoformat()
    if s["day"] != day:
        raise Invalid("state.day", s["day"], f"the local date of the credit clock, {day}")
    ledger = Ledger.from_dict(s["ledger"])
    owed = s["emergency_used_j"] + s["debt_j"]
    broken = ledger.imbalances(s["energy_j"], s["money"], owed, s["money_debt"])
    if broken:
        raise Invalid(
            "state.ledger", s["ledger"], f"totals that add up to the registers ({broken[0]})"
        )
    CreditEngine.from_dict(data)


def _limiter_in_time(config: CreditConfig, limiter: dict[str, Any], now: int) -> None:
    """No more trips than lock the relay out, none after the clock; timers end no later
    than they are set to."""
    control = config.load_control
    trips = limiter["trips"]
    if len(trips) > control.lockout_trips or any(t > now for t in trips):
        raise Invalid(
            "state.limiter.trips",
            trips,
            f"at most {control.lockout_trips} trip times, none after the clock {now}",
        )
    timers = (
        ("reconnect_at", control.reconnect_delay_s),
        ("locked_until", control.lockout_s),
    )
    for name, delay in timers:
        end = limiter[name]
        if end is not None and (delay is None or end > now + delay):
            raise Invalid(
                f"state.limiter.{name}", end, f"null or at most {delay} s after the clock {now}"
            )


CREDIT = Obj(
    {"version": Const(STATE_VERSION), "config": CONFIG, "state": CREDIT_STATE},
    check_all=_credit_consistent,
)

# -- decoder --------------------------------------------------------------------------------


def _tids_consistent(data: dict[str, Any]) -> None:
    tids = data["tids"]
    if any(a >= b for a, b in pairwise(tids)):
        raise Invalid("tids", tids, "distinct TIDs in ascending order")
    if len(tids) > data["capacity"]:
        raise Invalid("tids", tids, f"at most capacity ({data['capacity']}) TIDs")


def _kct_consistent(data: dict[str, Any]) -> None:
    held, started = data["sections"], data["started"]
    if data["state"] == KctState.IDLE and (held or started is not None):
        raise Invalid("sections", held, "no sections and no start time while idle")
    if data["state"] == KctState.COLLECTING and (not held or started is None):
        raise Invalid("sections", held, "held sections and a start time while collecting")


def _decoder_consistent(data: dict[str, Any]) -> None:
    decoder = DecoderState.from_dict(data)
    subclasses = [section.subclass for section in decoder.kct.sections]
    wanted = decoder.keys.set_sections
    if len(set(subclasses)) != len(subclasses) or not set(subclasses) < wanted:
        raise Invalid(
            "key_change.sections",
            data["key_change"]["sections"],
            f"fewer than all of the distinct sections {sorted(wanted)} of this key's set",
        )
    lockout = data["lockout"]
    if lockout["locked_until"] is not None and lockout["failures"] <= FREE_REJECTIONS:
        raise Invalid(
            "lockout.locked_until",
            lockout["locked_until"],
            f"null after fewer than {FREE_REJECTIONS + 1} wrong entries",
        )


DECODER = Obj(
    {
        "drn": Text(13, r"[0-9]{11}|[0-9]{13}", "an 11- or 13-digit meter number"),
        "mfr_code": Int(0, 9999),
        "keys": Obj(
            {
                "key": HEX_KEY,
                "sgc": Int(0, 999_999),
                "krn": Int(1, 9),
                "kt": Int(0, 3),
                "ti": Int(0, 99),
                "ken": Int(0, 255),
                "base_date": Choice((1993, 2014, 2035)),
                "ea": Choice(("07", "09", "11")),
            }
        ),
        "tid_memory": Obj(
            {"capacity": Int(1, MAX_TIDS), "tids": List(Int(0, MAX_TID), MAX_TIDS)},
            check_all=_tids_consistent,
        ),
        "key_change": Obj(
            {
                "state": Choice((KctState.IDLE.value, KctState.COLLECTING.value)),
                "sections": List(HEX_BLOCK, 3),
                "started": Opt(MOMENT),
            },
            check_all=_kct_consistent,
        ),
        "lockout": Obj({"failures": Int(0, MAX_FAILURES), "locked_until": Opt(MOMENT)}),
    },
    check_all=_decoder_consistent,
)

# -- events and the whole meter -------------------------------------------------------------


def _events_fit(data: dict[str, Any]) -> None:
    if len(data["events"]) > data["capacity"]:
        raise Invalid("events", data["events"], f"at most capacity ({data['capacity']}) events")


EVENTS = Obj(
    {
        "capacity": Int(1, MAX_EVENTS),
        "events": List(
            Obj({"at": MOMENT, "kind": _enum(EventKind), "detail": Text(MAX_DETAIL)}), MAX_EVENTS
        ),
    },
    check_all=_events_fit,
)


def _meter_consistent(data: dict[str, Any]) -> None:
    clock = datetime.fromisoformat(data["clock"])
    second = int(clock.timestamp() // 1)
    now = data["credit"]["state"]["now"]
    if now != second:
        raise Invalid("credit.state.now", now, f"the meter clock's epoch second {second}")
    until = data["decoder"]["lockout"]["locked_until"]
    if until is not None and datetime.fromisoformat(until) > clock + MAX_LOCK:
        raise Invalid(
            "decoder.lockout.locked_until",
            until,
            f"at most {MAX_LOCK.seconds} s after the meter clock {data['clock']}",
        )
    started = data["decoder"]["key_change"]["started"]
    if started is not None and datetime.fromisoformat(started) > clock:
        raise Invalid("decoder.key_change.started", started, f"not after the clock {clock}")
    _metering_consistent(data)


# -- metering -------------------------------------------------------------------------------

METERING = Section(Metering.from_dict, "a metering section (sts.meter.metering)")
"""The measuring side: supply, TOU calendar, energy registers, surveys, billing by rate,
protection and its five event logs, disconnect control, payment mode, rate prices and
subsidies. :meth:`Metering.from_dict` and the readers of its parts (:mod:`sts.meter.strict`)
already refuse every unknown, missing or out-of-range field with its path, so this schema
delegates the subtree to them (one validator, not two); the rules tying it to the credit
engine are in :func:`_metering_consistent`. A file written before metering has no section."""

_HELD = {
    RelayReason.POWER_FAILURE,
    RelayReason.OVER_CURRENT_LOCKOUT,
    RelayReason.OVER_CURRENT,
    RelayReason.ABNORMAL_VOLTAGE,
    RelayReason.MALFUNCTION,
    RelayReason.DISCONNECTED,
    RelayReason.FIRE,
    RelayReason.CURRENT_IMBALANCE,
}
"""Reasons the relay is open that protection or disconnect control holds, not credit."""


def _metering_consistent(data: dict[str, Any]) -> None:
    """The credit engine's relay, ledger and pricing agree with the metering section."""
    state = data["credit"]["state"]
    reason = RelayReason(state["relay_reason"])
    metering = data.get("metering")
    if metering is None:
        if reason in _HELD or reason is RelayReason.POSTPAID:
            raise Invalid(
                "credit.state.relay_reason", reason.value, "a reason of a meter without metering"
            )
        if state["ledger"].get("export_credited_j", 0):
            raise Invalid(
                "credit.state.ledger.export_credited_j",
                state["ledger"]["export_credited_j"],
                "0 for a meter without net metering",
            )
        return
    config = metering["config"]
    if state["ledger"].get("export_credited_j", 0) and not config.get("net_metering", False):
        raise Invalid(
            "credit.state.ledger.export_credited_j",
            state["ledger"]["export_credited_j"],
            "0 while metering.config.net_metering is off",
        )
    if data["credit"]["config"]["tariff"] is None:
        for name in ("rate_prices", "subsidies"):
            if config.get(name):
                raise Invalid(
                    f"metering.config.{name}", config[name], "none without a money tariff"
                )
    protection = metering.get("protection")
    # the guard as Metering.from_dict builds it (a default guard when the part is left out)
    guard = Guard() if protection is None else Guard.from_dict(protection)
    postpaid = guard.postpaid
    held = guard.hold()
    if reason in _HELD and reason is not held:
        why = "nothing" if held is None else repr(held.value)
        raise Invalid(
            "credit.state.relay_reason",
            reason.value,
            f"a reason protection holds (metering.protection holds {why})",
        )
    if state["relay_closed"] and held is not None:
        raise Invalid(
            "credit.state.relay_closed", True, f"false while protection holds {held.value!r}"
        )
    if (reason is RelayReason.POSTPAID) != (postpaid and state["relay_closed"]):
        mode = "postpaid" if postpaid else "prepaid"
        raise Invalid(
            "credit.state.relay_reason",
            reason.value,
            f"'postpaid' exactly while the relay of a {mode} meter is closed"
            if postpaid
            else "not 'postpaid' for a prepaid meter",
        )


METER = Obj(
    {
        "clock": MOMENT,
        "decoder": DECODER,
        "credit": CREDIT,
        "events": EVENTS,
        "metering": METERING,
    },
    optional=frozenset({"metering"}),
    check_all=_meter_consistent,
)

__all__ = ["CONFIG", "MAX_EVENTS", "METER"]
