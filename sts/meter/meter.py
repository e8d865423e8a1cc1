"""The simulated STS keypad meter: token acceptance and the credit engine behind one face.

:class:`Meter` holds the decoder state (:mod:`sts.meter.decoder`), the credit
engine (:mod:`sts.meter.credit`), the meter's clock, the load connected to it
and the event log. It is what the keypad, the CLI and the vending backend's
end-to-end tests talk to::

    meter = Meter.manufacture(drn="47500150231", key=dk, sgc=123456, manufactured=t0)
    outcome = meter.enter_token("1234 5678 ...", now=t1)
    outcome.result, outcome.display          # ResultCode.ACCEPT, ("Accept", "+10.0 kWh", ...)
    meter.short_code("1")                    # ["Energy 10.000 kWh"]
    meter.advance(t2, load=2000)             # two kilowatts until t2
    meter.status()                           # registers, wallets, relay, lockout, ...

**The clock.** The meter has its own clock, which only moves forward. Every
call takes an optional timezone-aware ``now``: None means "at the meter's
clock"; a later time first runs the meter up to it with the *standing load*
(the load given to the last :meth:`advance`, which the credit engine keeps;
0 W for a new meter), as if the load had stayed connected; an earlier time is
a RangeError.

**Service.** A meter measures electricity (the default), water or gas
(``CreditConfig.service``, :mod:`sts.meter.service`): a water or gas meter
takes its own service's credit tokens into a volume register in m3, shows m3
where an electricity meter shows kWh, and runs on a flow (:meth:`Meter.advance_flow`).

**Events.** The meter and its credit engine write to one event log: the
meter records token decisions, key changes, tests and lockouts; the engine
records what happens to credit, relay, alarms and settings.

**Short codes** (1-3 digits then Enter on the keypad), :data:`SHORT_CODES`::

    0   credit: both wallets             7   tariff index (TI)
    1   energy wallet (kWh)              8   tamper status
    2   money wallet (currency)          9   relay state and reason
    3   total energy used (kWh)          10  meter number (DRN)
    4   power now (W)                    11  meter clock
    5   power limit (W)                  12  emergency credit and debt owed
    6   key revision number (KRN)        13  supply group, key type, KEN
    15  alarm indicator and its cause    14  keypad lockout
    16  acknowledge the alarm            17  disconnect control, payment mode
    99  take emergency credit

An entry of 4 to 19 digits starting ``18`` is the engineer's payment mode
switch (:data:`MODE_SWITCH_CODE`, :meth:`Meter.engineering_entry`).

Leading zeros do not matter ("00" is "0"). Any other code is a FormatError
(the keypad shows "Format"). Code 99 answers with "Emergency credit" and the
kWh granted, or "No emergency credit" and the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sts.codec import EncryptionAlgorithm
from sts.crypto.dkga import KeyParameters, derive_decoder_key
from sts.crypto.keys import DecoderKey, VendingKey
from sts.errors import FormatError, RangeError
from sts.meter.config import CreditConfig
from sts.meter.credit import CreditEngine, CreditReceipt, CreditStatus, EmergencyResult
from sts.meter.decoder import (
    AddCredit,
    ChangeKey,
    ClearRegister,
    Decision,
    DecoderState,
    HoldKeySection,
    KeyRegisters,
    MeterIdentity,
    ResetTamper,
    RunTests,
    SetLoadLimit,
    SetUnbalanceLimit,
    decide,
)
from sts.meter.disconnect import Trigger
from sts.meter.event_logs import Code
from sts.meter.events import EventKind, EventLog
from sts.meter.keypad import ENGINEERING_PREFIX
from sts.meter.limits import MAX_DETAIL, check_time, clip
from sts.meter.localtime import epoch_seconds
from sts.meter.measurement import LoadModel
from sts.meter.metering import Metering
from sts.meter.protection import FIRE_ALARM, FaultKind, TamperKind
from sts.meter.service import MeterService, flow_load_w
from sts.meter.tid_memory import DEFAULT_CAPACITY
from sts.results import ResultCode
from sts.tokens.base import Token
from sts.tokens.keychange import KeyChangeToken
from sts.tokens.management import Register
from sts.tokens.meter_test import TestControl
from sts.tokens.tid import BaseDate

SOFTWARE_VERSION = "sts-toolkit meter 1.0"
"""What the software-version display (class 1 control bit 9) shows."""

DISPLAY_TEST = "8888 8888 8888 8888 8888"

ENTRY_DETAIL = 120
"""How much of a rejection's reason an event keeps (it may quote the whole entry)."""


@dataclass(frozen=True)
class TokenOutcome:
    """What the meter answered to one token.

    ``result`` and ``text`` are the result code and its display text;
    ``detail`` says why in a sentence; ``display`` is every line the meter
    shows; ``receipt`` is the credit engine's receipt for an accepted credit
    token (what repaid emergency credit or debt, what went to the wallet).
    """

    result: ResultCode
    text: str
    detail: str
    token: Token | None
    display: tuple[str, ...]
    receipt: CreditReceipt | None
    at: datetime

    @property
    def accepted(self) -> bool:
        return self.result.accepted

    def to_dict(self) -> dict[str, Any]:
        return {
            "result": int(self.result),
            "text": self.text,
            "detail": self.detail,
            "token": None if self.token is None else _token_summary(self.token),
            "display": list(self.display),
            "receipt": _plain(self.receipt),
            "at": self.at.isoformat(),
        }


def _token_summary(token: Token) -> dict[str, Any]:
    """The token's type and fields, without the key sections a KCT carries."""
    fields = token.fields()
    if isinstance(token, KeyChangeToken):
        fields = {name: value for name, value in fields.items() if not name.startswith("nk_")}
    return {
        "type": token.name,
        "class": int(token.token_class),
        "subclass": token.subclass,
        "fields": fields,
    }


def _plain(value: Any) -> Any:
    """A JSON-ready form of engine values (dataclasses, Decimals, datetimes, enums)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if hasattr(value, "to_dict"):
        return _plain(value.to_dict())
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {name: _plain(getattr(value, name)) for name in value.__dataclass_fields__}
    return str(value)


@dataclass(frozen=True)
class KeyInfo:
    """The key registers without the key: what a display or report may show."""

    sgc: int
    krn: int
    kt: int
    ti: int
    ken: int
    base_date: int
    ea: str
    key_bits: int
    key_fingerprint: str

    @classmethod
    def of(cls, keys: KeyRegisters) -> KeyInfo:
        return cls(
            keys.sgc,
            keys.krn,
            keys.kt,
            keys.ti,
            keys.ken,
            int(keys.base_date),
            keys.ea.value,
            keys.key.bits,
            keys.key.fingerprint,
        )


@dataclass(frozen=True)
class MeterStatus:
    """A snapshot of the meter for displays, the CLI and tests (never the key itself)."""

    drn: str
    pan: str
    mfr_code: str
    keys: KeyInfo
    clock: datetime
    tid_count: int
    tid_capacity: int
    tid_oldest: int | None
    tid_newest: int | None
    lockout_failures: int
    locked_until: datetime | None
    kct_held: int
    kct_needed: int
    kct_started: datetime | None
    credit: CreditStatus
    alarms: tuple[str, ...] = ()  # the alarm set's active causes, newest last
    control_state: str = "connected"  # disconnect control (sts.meter.disconnect)
    payment_mode: str = "prepaid"
    service: MeterService = MeterService.ELECTRICITY  # what credit.energy_kwh is of (kWh or m3)

    @property
    def locked(self) -> bool:
        return self.locked_until is not None and self.clock < self.locked_until

    def to_dict(self) -> dict[str, Any]:
        return {
            "drn": self.drn,
            "pan": self.pan,
            "mfr_code": self.mfr_code,
            "keys": _plain(self.keys),
            "clock": self.clock.isoformat(),
            "tid_memory": {
                "count": self.tid_count,
                "capacity": self.tid_capacity,
                "oldest": self.tid_oldest,
                "newest": self.tid_newest,
            },
            "lockout": {
                "failures": self.lockout_failures,
                "locked_until": _plain(self.locked_until),
                "locked": self.locked,
            },
            "key_change": {
                "held": self.kct_held,
                "needed": self.kct_needed,
                "started": _plain(self.kct_started),
            },
            "credit": _plain(self.credit),
            "alarms": list(self.alarms),
            "control_state": self.control_state,
            "payment_mode": self.payment_mode,
            "service": self.service.value,
            "unit": self.service.unit,
        }


@dataclass(frozen=True)
class ShortCode:
    """One keypad short code: what it is called and what it shows or does."""

    code: str
    name: str


SHORT_CODES: dict[str, ShortCode] = {
    sc.code: sc
    for sc in (
        ShortCode("0", "credit in both wallets"),
        ShortCode("1", "energy wallet"),
        ShortCode("2", "money wallet"),
        ShortCode("3", "total energy used"),
        ShortCode("4", "power now"),
        ShortCode("5", "power limit"),
        ShortCode("6", "key revision number"),
        ShortCode("7", "tariff index"),
        ShortCode("8", "tamper status"),
        ShortCode("9", "relay state"),
        ShortCode("10", "meter number"),
        ShortCode("11", "meter clock"),
        ShortCode("12", "emergency credit and debt"),
        ShortCode("13", "supply group, key type, KEN"),
        ShortCode("14", "keypad lockout"),
        ShortCode("15", "alarm and its cause"),
        ShortCode("16", "acknowledge the alarm"),
        ShortCode("17", "disconnect control and payment mode"),
        ShortCode("99", "take emergency credit"),
    )
}
EMERGENCY_CODE = "99"

MODE_SWITCH_CODE = ENGINEERING_PREFIX
"""The keypad's payment mode switch: ``18``, the utility's PIN (``protection.mode_switch_pin``,
4-8 digits), then ``0`` for prepaid or ``1`` for postpaid, and Enter (7 to 11 digits). No
STS token switches the payment mode (the class 2 subclasses are the standard's own, with
11-15 left to proprietary use that no vending system shares), so the datasheet's
"configurable prepayment and post-payment mode" is a head-end setting (``sts meter mode``)
and this keypad code for a utility's engineer. A customer cannot use it without the PIN:
a wrong PIN answers "Format", like any entry the meter does not take, and counts towards
the keypad's wrong-entry lockout (three wrong entries lock it for 10 s, doubling)."""


@dataclass(frozen=True)
class EntryOutcome:
    """The meter's answer to a keypad entry that is neither a token nor a short code."""

    result: ResultCode
    lines: tuple[str, ...]


class Meter:
    """A simulated STS keypad meter (decoder, credit engine, clock, load, events)."""

    def __init__(
        self,
        decoder: DecoderState,
        engine: CreditEngine,
        clock: datetime,
        events: EventLog | None = None,
        metering: Metering | None = None,
    ) -> None:
        _require_aware(clock)
        self.decoder = decoder
        self.engine = engine
        self.clock = clock
        self.events = events if events is not None else engine.events
        engine.events = self.events
        if metering is None:  # a meter made before metering: it starts from its standing load
            metering = Metering(load=LoadModel.from_dict(engine.state.load, "credit.state.load"))
        self.metering = metering
        metering.bind(engine)

    # -- making one ---------------------------------------------------------------------

    @classmethod
    def manufacture(
        cls,
        *,
        drn: str,
        manufactured: datetime,
        key: DecoderKey | None = None,
        vending_key: VendingKey | None = None,
        dkga: str | None = None,
        sgc: int,
        krn: int = 1,
        kt: int = 2,
        ti: int = 1,
        ken: int = 255,
        ea: str | EncryptionAlgorithm | None = None,
        base_date: BaseDate | int | str = BaseDate.Y2014,
        tid_memory: int = DEFAULT_CAPACITY,
        mfr_code: int | None = None,
        config: CreditConfig | None = None,
        metering: Metering | None = None,
    ) -> Meter:
        """A new meter whose clock starts at ``manufactured``.

        Give the decoder key itself (``key``) or a vending key to derive it from
        (``vending_key``, with ``dkga`` "02" or "04"; the default is 02 for a
        64-bit and 04 for a 160-bit vending key). ``ea`` defaults to EA07 for a
        64-bit key and EA11 for a 128-bit key. ``config`` sets up the credit
        engine (tariff, emergency credit, friendly time, ...; default: an
        energy-only meter with the engine's defaults). ``metering`` sets up the
        measuring side (supply, TOU calendar, net metering; :mod:`sts.meter.metering`).
        """
        _require_aware(manufactured)
        identity = MeterIdentity.of_drn(drn, mfr_code)
        base = BaseDate.parse(base_date)
        if (key is None) == (vending_key is None):
            raise FormatError("give either the decoder key or a vending key to derive it from")
        if vending_key is not None:
            key = derive_key(identity, vending_key, dkga, sgc, krn, kt, ti, base, ea)
        assert key is not None
        algorithm = (
            EncryptionAlgorithm.parse(ea)
            if ea is not None
            else (EncryptionAlgorithm.EA11 if key.bits == 128 else EncryptionAlgorithm.EA07)
        )
        keys = KeyRegisters(key, sgc, krn, kt, ti, ken, base, algorithm)
        decoder = DecoderState.manufacture(identity, keys, manufactured, tid_memory)
        events = EventLog()
        engine = CreditEngine.new(manufactured, config, events)
        meter = cls(decoder, engine, manufactured, events, metering or Metering())
        engine.resettle(epoch_seconds(manufactured))  # payment mode and disconnect control
        meter.events.record(manufactured, EventKind.SETTING_CHANGED, f"meter {identity.drn} made")
        return meter

    # -- tokens and codes ---------------------------------------------------------------

    def enter_token(self, digits: str, now: datetime | None = None) -> TokenOutcome:
        """Key in a 20-digit token at ``now`` and return what the meter answers."""
        now = self._catch_up(now)
        before = self.decoder
        decision = decide(before, digits, now, self.engine, self.service)
        receipt: CreditReceipt | None = None
        lines: list[str] = [decision.result.text]
        self.decoder = decision.state
        self._log(decision, before, now)
        if decision.accepted:
            receipt, more = self._carry_out(decision, now)
            lines.extend(more)
        return TokenOutcome(
            decision.result,
            decision.result.text,
            decision.detail,
            decision.token,
            tuple(lines),
            receipt,
            now,
        )

    def short_code(self, code: str, now: datetime | None = None) -> list[str]:
        """The display lines for a keypad short code (see :data:`SHORT_CODES`)."""
        text = str(code).strip()
        if not (text.isascii() and text.isdigit() and 1 <= len(text) <= 3):
            raise FormatError(f"short code {code!r} is not 1 to 3 digits")
        normal = str(int(text))
        if normal not in SHORT_CODES:
            known = ", ".join(SHORT_CODES)
            raise FormatError(f"short code {text} is not one of {known}")
        now = self._catch_up(now)
        if normal == EMERGENCY_CODE:
            return self._take_emergency_credit(now)
        return _SHORT_CODE_LINES[normal](self)

    # -- load control, tamper, payment mode (sts.meter.protection) ----------------------

    def relay(self, command: str, *, remote: bool = False, now: datetime | None = None) -> str:
        """Disconnect or reconnect by the customer's button (manual) or the head end
        (``remote``), as the disconnect control mode allows; returns the new control state."""
        triggers = {
            ("disconnect", False): Trigger.MANUAL_DISCONNECT,
            ("reconnect", False): Trigger.MANUAL_RECONNECT,
            ("disconnect", True): Trigger.REMOTE_DISCONNECT,
            ("reconnect", True): Trigger.REMOTE_RECONNECT,
        }
        trigger = triggers.get((command, bool(remote)))
        if trigger is None:
            raise FormatError(f"relay command {command!r} is not 'disconnect' or 'reconnect'")
        now = self._catch_up(now)
        state = self.metering.guard.command(epoch_seconds(now), trigger)
        return state.name.lower()

    def tamper(self, kind: str, now: datetime | None = None, *, clear: bool = False) -> None:
        """Inject a tamper (covers, magnetic field, ...), a fault (memory, relay, battery,
        clock) or the fire alarm input ('fire_alarm') at ``now``; ``clear`` ends a fault or
        the fire alarm, or every tamper for kind 'tamper'."""
        now = self._catch_up(now)
        t = epoch_seconds(now)
        guard = self.metering.guard
        if kind == FIRE_ALARM:
            guard.fire_alarm(t, not clear, "cleared" if clear else "injected")
            return
        if kind in TamperKind.__members__.values() or kind == "tamper":
            if clear:
                self.engine.clear_tamper(now)
                guard.clear_tamper(t)
            elif kind == "tamper":
                raise FormatError("kind 'tamper' only goes with clear")
            else:
                guard.tamper(t, TamperKind(kind), "injected")
            return
        if kind in FaultKind.__members__.values():
            if clear:
                guard.clear_fault(t, FaultKind(kind))
            else:
                guard.fault(t, FaultKind(kind), "injected")
            return
        kinds = ", ".join(
            [*(k.value for k in TamperKind), *(k.value for k in FaultKind), FIRE_ALARM, "tamper"]
        )
        raise FormatError(f"tamper kind {kind!r} is not one of {kinds}")

    def engineering_entry(self, entry: str, now: datetime | None = None) -> EntryOutcome:
        """A keypad entry of 4 to 19 digits: the payment mode switch, ``18`` + the utility's
        PIN + ``0`` (prepaid) or ``1`` (postpaid). See :data:`MODE_SWITCH_CODE`."""
        text = str(entry).strip()
        if not (text.isascii() and text.isdigit() and 4 <= len(text) <= 19):
            raise FormatError(f"keypad entry {clip(repr(entry), 40)} is not 4 to 19 digits")
        now = self._catch_up(now)
        t = epoch_seconds(now)
        guard = self.metering.guard
        pin = guard.config.mode_switch_pin
        if not text.startswith(MODE_SWITCH_CODE):
            return EntryOutcome(
                ResultCode.FORMAT, ("Format", f"{len(text)} digits: a token has 20, a code 1-3")
            )
        if pin is None:
            return EntryOutcome(ResultCode.FUNCTION, ("Function", "no keypad mode switch"))
        lockout = self.decoder.lockout
        if lockout.is_locked(now):
            left = lockout.remaining(now) // timedelta(seconds=1)
            return EntryOutcome(ResultCode.LOCKOUT, ("Lockout", f"locked {left} s"))
        given, mode = text[len(MODE_SWITCH_CODE) : -1], text[-1]
        if given != pin or mode not in "01":
            after = lockout.after_rejection(now)
            self.decoder = replace(self.decoder, lockout=after)
            self._security(now, Code.KEYPAD_CODE_REJECTED, "payment mode switch: PIN or mode")
            if after.is_locked(now):
                seconds = after.remaining(now) // timedelta(seconds=1)
                self.events.record(
                    now,
                    EventKind.LOCKOUT,
                    f"{after.failures} wrong entries: locked for {seconds} s",
                )
            # the same answer as any entry the meter does not take: nothing to learn from it
            return EntryOutcome(
                ResultCode.FORMAT, ("Format", f"{len(text)} digits: a token has 20, a code 1-3")
            )
        self.decoder = replace(self.decoder, lockout=lockout.after_acceptance())
        before = "postpaid" if guard.postpaid else "prepaid"
        wanted = "postpaid" if mode == "1" else "prepaid"
        guard.set_postpaid(t, mode == "1", "keypad")
        return EntryOutcome(
            ResultCode.ACCEPT,
            (f"Mode {wanted}", "unchanged" if wanted == before else f"was {before}"),
        )

    def tariff_input(self, on: bool, now: datetime | None = None) -> int:
        """Switch the dual resource signal (tariff change input) at ``now``; returns the TOU
        rate in force after it (:mod:`sts.meter.metering`)."""
        now = self._catch_up(now)
        self.metering.set_dual_resource(epoch_seconds(now), on)
        self._catch_up(None)  # the rate a token repaying owed energy pays from now
        return self.engine.tou_rate

    def set_payment_mode(self, mode: str, now: datetime | None = None) -> None:
        """Switch between 'prepaid' and 'postpaid' (a security event; registers are kept)."""
        if mode not in ("prepaid", "postpaid"):
            raise FormatError(f"payment mode {mode!r} is not 'prepaid' or 'postpaid'")
        now = self._catch_up(now)
        self.metering.guard.set_postpaid(epoch_seconds(now), mode == "postpaid", "head end")

    def synchronise_clock(self, to: datetime, source: str = "head end") -> None:
        """A time synchronisation forward to ``to`` (see :meth:`set_clock`); an earlier
        ``to`` is a RangeError here."""
        _require_aware(to)
        if to < self.clock:
            raise RangeError(
                f"time {to.isoformat()} is before the meter's clock {self.clock.isoformat()}; "
                "the meter's clock never goes backwards by synchronise_clock (see set_clock)"
            )
        self.set_clock(to, source)

    def set_clock(self, to: datetime, source: str = "head end") -> None:
        """Set the meter's clock to ``to``: a time synchronisation (standard log) and a
        clock adjustment (security log), both naming the old and new time and ``source``.

        *Forward*: the meter runs up to ``to`` with its standing load (the supply went on
        while the clock lagged). *Back*: only within the clock's local day (so no day or
        month is billed twice), and the meter carries on from ``to``. What a clock set back
        cannot do:

        - let a used token in again: the TID memory decides Used and Old, never the
          clock, so every token accepted before stays Used (or Old);
        - shorten or lengthen a wait: the keypad lockout, a partial key change set's
          10-minute timeout and the relay timers keep what they had left;
        - capture a survey row twice: each survey keeps its next capture time.
        """
        _require_aware(to)
        old = self.clock
        if to >= old:
            self.advance(to)
        else:
            check_time(to)
            delta = to - old
            self.engine.set_clock_back(epoch_seconds(to))  # refuses another day first
            self.metering.set_clock_back(epoch_seconds(to) - epoch_seconds(old))
            self.decoder = self.decoder.shifted(delta)
            self.clock = to
        t = epoch_seconds(to)
        moved = int((to - old).total_seconds())
        detail = f"{old.isoformat()} -> {to.isoformat()} ({moved:+d} s, {source})"
        self.metering.guard.record(t, Code.TIME_SYNCHRONISED, detail)
        self.metering.guard.record(t, Code.CLOCK_ADJUSTED, detail)

    def _security(self, now: datetime, code: Code, detail: str) -> None:
        self.metering.guard.record(epoch_seconds(now), code, detail)

    @property
    def service(self) -> MeterService:
        """What the meter measures (its credit set-up's service)."""
        return self.engine.config.service

    # -- time ---------------------------------------------------------------------------

    def advance_flow(self, until: datetime, flow_m3_per_h: Decimal) -> None:
        """Run a water or gas meter up to ``until`` with ``flow_m3_per_h`` flowing.

        The flow becomes the standing load (:func:`sts.meter.service.flow_load_w`):
        1 m3/h for 30 minutes draws 0.5 m3 from the volume register.
        """
        if self.service is MeterService.ELECTRICITY:
            raise FormatError(
                f"meter {self.decoder.identity.drn} is an electricity meter; a flow in m3/h is "
                "for water and gas meters (give its load in watts)"
            )
        self.advance(until, flow_load_w(flow_m3_per_h))

    def advance(self, until: datetime, load: Any = None) -> None:
        """Run the meter up to ``until`` with ``load`` (None keeps the standing load).

        ``load`` is watts (negative: export), a :class:`LoadPoint` (with
        reactive power, voltage, ...), a daily sequence of either, a function
        of local time returning either, or a :class:`LoadModel`
        (:mod:`sts.meter.measurement`). The credit engine is charged for the
        imported part only.
        """
        _require_aware(until)
        if until < self.clock:
            raise RangeError(
                f"time {until.isoformat()} is before the meter's clock {self.clock.isoformat()}; "
                "the meter's clock never goes backwards"
            )
        if until > self.clock or load is not None:
            step = self.engine.config.profile_step_s
            self.engine.advance(until, self.metering.profile(load, step))
            self.metering.settle_load()
        self.clock = until

    def _catch_up(self, now: datetime | None) -> datetime:
        if now is not None:
            self.advance(now)
        at = self.clock
        # a token repaying owed energy with money pays the TOU rate in force now
        self.engine.tou_rate = self.metering.rate_at(at)
        return at

    # -- reading it ---------------------------------------------------------------------

    def status(self) -> MeterStatus:
        decoder = self.decoder
        return MeterStatus(
            decoder.identity.drn,
            decoder.identity.pan,
            decoder.identity.mfr_text,
            KeyInfo.of(decoder.keys),
            self.clock,
            len(decoder.tids.tids),
            decoder.tids.capacity,
            decoder.tids.oldest,
            decoder.tids.newest,
            decoder.lockout.failures,
            decoder.lockout.locked_until,
            decoder.kct.expire(self.clock).held,
            len(decoder.keys.set_sections),
            decoder.kct.expire(self.clock).started,
            self.engine.status(),
            tuple(Code(e.code).label for e in self.metering.guard.alarms),
            self.metering.guard.disconnect.state.name.lower(),
            "postpaid" if self.metering.guard.postpaid else "prepaid",
            self.service,
        )

    # -- persistence --------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "clock": self.clock.isoformat(),
            "decoder": self.decoder.to_dict(),
            "credit": self.engine.to_dict(),
            "events": self.events.to_dict(),
            "metering": self.metering.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Meter:
        events = EventLog.from_dict(data["events"])
        return cls(
            DecoderState.from_dict(data["decoder"]),
            CreditEngine.from_dict(data["credit"], events),
            datetime.fromisoformat(data["clock"]),
            events,
            None if data.get("metering") is None else Metering.from_dict(data["metering"]),
        )

    # -- carrying out accepted tokens ---------------------------------------------------

    def _carry_out(
        self, decision: Decision, now: datetime
    ) -> tuple[CreditReceipt | None, list[str]]:
        """Act on an accepted token; the receipt (if any) and the display lines after its text."""
        engine = self.engine
        match decision.action:
            case AddCredit(kind, amount):
                receipt = engine.apply_credit(kind, amount, now)
                if not kind.is_currency:  # units of 0.1 kWh or 0.1 m3
                    first = f"{receipt.amount:+.1f} {receipt.unit}"
                else:
                    first = f"{receipt.amount:+f}"
                return receipt, [first, *receipt.lines()]
            case ClearRegister(register):
                engine.clear_credit(int(register), now)
                return None, [f"Cleared {_REGISTER_NAMES[register]}"]
            case SetLoadLimit(watts):
                engine.set_power_limit(watts, now)
                self._security(now, Code.PARAMETER_CHANGED, f"power limit {watts} W by token")
                return None, [_power_limit_line(watts)]
            case SetUnbalanceLimit(watts):
                engine.set_phase_unbalance_limit(watts, now)
                self._security(now, Code.PARAMETER_CHANGED, f"unbalance limit {watts} W by token")
                return None, [_unbalance_line(watts)]
            case ResetTamper():
                engine.clear_tamper(now)
                self.metering.guard.clear_tamper(epoch_seconds(now))
                return None, ["Tamper cleared"]
            case HoldKeySection(held, needed):
                return None, [f"{held} of {needed} key tokens"]
            case ChangeKey(_, after, rollover):
                lines = [f"KRN {after.krn}", f"TI {after.ti:02d}"]
                if rollover:
                    lines.append(f"Base date {int(after.base_date)}")
                return None, lines
            case RunTests(functions):
                return None, self._test_lines(functions)
        return None, []

    def _test_lines(self, functions: TestControl) -> list[str]:
        """The lines the tests and displays of a class 1 token show, in control-bit order."""
        keys = self.decoder.keys
        credit = self.engine.status()
        shown = {
            TestControl.LOAD_SWITCH: "Load switch test OK",
            TestControl.DISPLAY_TEST: DISPLAY_TEST,
            TestControl.TOTAL_ENERGY: f"Total {credit.total_kwh} {self.service.unit}",
            TestControl.KEY_REVISION: f"KRN {keys.krn}",
            TestControl.TARIFF_INDEX: f"TI {keys.ti:02d}",
            TestControl.TOKEN_READER: "Keypad test OK",
            TestControl.POWER_LIMIT: _power_limit_line(credit.power_limit_w),
            TestControl.TAMPER_STATUS: _tamper_line(credit),
            TestControl.POWER_NOW: f"Power {credit.power_w} W",
            TestControl.SOFTWARE_VERSION: f"Software {SOFTWARE_VERSION}",
            TestControl.PHASE_UNBALANCE_LIMIT: _unbalance_line(credit.phase_unbalance_limit_w),
            TestControl.TARIFF_RATE: (
                "Rate none" if credit.tariff_rate is None else f"Rate {credit.tariff_rate}/kWh"
            ),
        }
        return [line for flag, line in shown.items() if functions & flag]

    def _take_emergency_credit(self, now: datetime) -> list[str]:
        result = self.engine.take_emergency_credit(now)
        if result is EmergencyResult.GRANTED:
            limit = self.engine.status().emergency_limit_kwh
            return ["Emergency credit", f"{limit} {self.service.unit}"]
        return ["No emergency credit", result.value]

    def _log(self, decision: Decision, before: DecoderState, now: datetime) -> None:
        token = decision.token
        name = token.name if token is not None else "entry"
        if decision.accepted:
            action = decision.action
            if isinstance(action, ChangeKey):
                self.events.record(now, EventKind.TOKEN_ACCEPTED, f"{name}: set complete")
                self.events.record(now, EventKind.KEY_CHANGED, decision.detail)
                self._security(now, Code.KEY_CHANGED, decision.detail)
            elif isinstance(action, RunTests):
                self.events.record(now, EventKind.TEST, f"{name}: {action.functions!r}")
            else:
                detail = clip(decision.detail or "accepted", MAX_DETAIL - 40)
                self.events.record(now, EventKind.TOKEN_ACCEPTED, f"{name}: {detail}")
            return
        # what the entry quotes of itself is cut short: a state file never grows by an entry
        detail = clip(decision.detail, ENTRY_DETAIL)
        self.events.record(
            now, EventKind.TOKEN_REJECTED, f"{name}: {decision.result.text} ({detail})"
        )
        self._security(now, Code.TOKEN_REJECTED, f"{name}: {decision.result.text}")
        after = decision.state.lockout
        if after.locked_until != before.lockout.locked_until and after.is_locked(now):
            seconds = after.remaining(now) // timedelta(seconds=1)
            self.events.record(
                now, EventKind.LOCKOUT, f"{after.failures} wrong entries: locked for {seconds} s"
            )


# -- helpers ------------------------------------------------------------------------------


def derive_key(
    identity: MeterIdentity,
    vending_key: VendingKey,
    dkga: str | None,
    sgc: int,
    krn: int,
    kt: int,
    ti: int,
    base: BaseDate,
    ea: str | EncryptionAlgorithm | None,
) -> DecoderKey:
    """The meter's decoder key from a vending key by DKGA02 or DKGA04."""
    algorithm = dkga or ("04" if vending_key.bits == 160 else "02")
    ea_code = EncryptionAlgorithm.parse(ea).value if ea is not None else "07"
    params = KeyParameters(identity.pan, sgc, kt, ti, krn, base, ea_code)
    return derive_decoder_key(algorithm, vending_key, params)


def _require_aware(when: datetime) -> None:
    if not isinstance(when, datetime) or when.tzinfo is None or when.utcoffset() is None:
        raise FormatError(f"time {when!r} has no timezone; the meter needs timezone-aware times")


_REGISTER_NAMES = {
    Register.ELECTRICITY: "energy wallet",
    Register.ELECTRICITY_CURRENCY: "money wallet",
    Register.WATER: "volume wallet",
    Register.WATER_CURRENCY: "money wallet",
    Register.GAS: "volume wallet",
    Register.GAS_CURRENCY: "money wallet",
    Register.ALL: "all credit",
}


def _power_limit_line(watts: int | None) -> str:
    return f"Power limit {watts} W" if watts else "Power limit none"


def _unbalance_line(watts: int | None) -> str:
    return f"Unbalance limit {watts} W" if watts else "Unbalance limit none"


def _tamper_line(credit: CreditStatus) -> str:
    if not credit.tamper:
        return "Tamper none"
    return f"Tamper {credit.tamper_reason}" if credit.tamper_reason else "Tamper detected"


def _lockout_lines(meter: Meter) -> list[str]:
    lockout = meter.decoder.lockout
    left = lockout.remaining(meter.clock)
    first = f"Locked {left // timedelta(seconds=1)} s" if left else "Not locked"
    return [first, f"{lockout.failures} wrong entries"]


def _owed_lines(credit: CreditStatus, unit: str = "kWh") -> list[str]:
    state = "active" if credit.emergency_active else "off"
    return [
        f"Emergency {state} {credit.emergency_used_kwh}/{credit.emergency_limit_kwh} {unit}",
        f"Debt {credit.debt_kwh} {unit}",
        f"Charges owed {credit.debt_money}",
    ]


def _relay_lines(credit: CreditStatus) -> list[str]:
    return [
        "Relay closed" if credit.relay_closed else "Relay open",
        str(credit.relay_reason.value),
    ]


def _units_line(meter: Meter) -> str:
    """The unit register: "Energy 10.000 kWh", or "Volume 2.500 m3" on a water or gas meter."""
    service = meter.service
    return f"{service.register_name.capitalize()} {meter.engine.status().energy_kwh} {service.unit}"


_SHORT_CODE_LINES: dict[str, Callable[[Meter], list[str]]] = {
    "0": lambda m: [_units_line(m), f"Money {m.engine.status().money}"],
    "1": lambda m: [_units_line(m)],
    "2": lambda m: [f"Money {m.engine.status().money}"],
    "3": lambda m: [f"Total {m.engine.status().total_kwh} {m.service.unit}"],
    "4": lambda m: [f"Power {m.engine.status().power_w} W"],
    "5": lambda m: [_power_limit_line(m.engine.status().power_limit_w)],
    "6": lambda m: [f"KRN {m.decoder.keys.krn}"],
    "7": lambda m: [f"TI {m.decoder.keys.ti:02d}"],
    "8": lambda m: [_tamper_line(m.engine.status())],
    "9": lambda m: _relay_lines(m.engine.status()),
    "10": lambda m: [f"Meter {m.decoder.identity.drn}"],
    "11": lambda m: [m.engine.status().at.strftime("%Y-%m-%d %H:%M")],  # type: ignore[union-attr]
    "12": lambda m: _owed_lines(m.engine.status(), m.service.unit),
    "13": lambda m: [
        f"SGC {m.decoder.keys.sgc:06d}",
        f"KT {m.decoder.keys.kt} KEN {m.decoder.keys.ken}",
    ],
    "14": _lockout_lines,
    "15": lambda m: _alarm_lines(m),
    "16": lambda m: [f"Alarm acknowledged ({m.metering.guard.acknowledge()})"],
    "17": lambda m: [
        f"Control {m.metering.guard.disconnect.state.name.lower().replace('_', ' ')}",
        f"Mode {m.metering.guard.disconnect.mode} "
        + ("postpaid" if m.metering.guard.postpaid else "prepaid"),
    ],
}


def _alarm_lines(meter: Meter) -> list[str]:
    alarms = meter.metering.guard.alarms
    if not alarms:
        return ["No alarm"]
    newest = alarms[-1]
    return [f"ALARM ({len(alarms)})", Code(newest.code).label.capitalize()]
