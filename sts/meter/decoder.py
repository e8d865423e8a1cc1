"""Token acceptance: what an STS keypad meter answers to every 20-digit entry.

:func:`decide` is pure. It takes the decoder's state (:class:`DecoderState`:
identity, key registers, TID memory, partial key change set, lockout), the
digits, the time of entry and something that can judge a credit amount (the
credit engine), and returns a :class:`Decision`: the result code, the state
after the entry and the :data:`Action` the meter must carry out. A rejected
entry leaves the state as it was except for the lockout counter.

Processing order (sts-reference 12.2, with the lockout of DESIGN.md 3)::

    1  parse the digits; not 20 digits or >= 2^66 ........... Format (6)
    2  class 3 ............................................... Format (6)
    3  class 1 (never locked out, never counted):
         CRC (13); no layout (subclass 2-15) Function (8); manufacturer code
         Mfr code (14); control 0 Format (6); a test or display this meter
         does not have Function (8); else run them: Accept (1)
    4  keypad locked (class 0/2 and unreadable entries) ...... Lockout (15)
    5  decrypt with the current key; CRC mismatch ............ CRC (13)
    6  class 0 on a meter holding a DDTK (KT 1) .............. DDTK (12)
    7  tokens with a TID: TID >> 16 > KEN ................... Key expired (11)
                          TID < smallest stored TID ......... Old (9)
                          TID stored ....................... Used (10)
    8  can the meter act on it? subclass it does not have ... Function (8)
       credit the engine refuses ............ Overflow (4), Range (7), Function (8)
       register out of range (ClearCredit) .................. Range (7)
    9  KCTs: section not in this meter's set, or 3KCT bit ... Function (8)
       set incomplete ...................... 1st KCT (2), 2nd KCT (3)
       set complete: new KT 0 ............................... Key type (5)
                     KRN not 1-9, TI above 99, RO = 1 on the
                     last base date ......................... Range (7)
    10 otherwise Accept (1); a TID is stored (evicting the smallest)

Not ready (16) belongs to the virtual token carrier (IEC 62055-52); a keypad
meter never gives it.

What this meter has: credit of its service (:mod:`sts.meter.service`) in
units and in currency: class 0 subclasses 0 and 4 for electricity (the
default), 1 and 5 for water, 2 and 6 for gas; the management tokens
SetMaximumPowerLimit (2/0), ClearCredit (2/1) for its service's two registers
(0/4, 1/5 or 2/6) or all (0xFFFF), ClearTamperCondition (2/5) and
SetMaximumPhasePowerUnbalanceLimit (2/6); key change sets. Credit of another
service, time credit, SetTariffRate (2/2, reserved by the STSA),
SetWaterMeterFactor (2/7), ClearCredit for another service's register and the
reserved subclasses are Function (8).

Decisions where the standard is silent:

* **Class 1 manufacturer codes.** The meter takes both subclasses. In its own
  one (0 for a 2-digit manufacturer code, 1 for a 4-digit one) the code must be
  0 or the meter's code; in the other subclass only 0 (it has no code of that
  length). The all-bits token runs every test and display the meter has; any
  other control value that names a reserved bit (13 and up) or the water
  meter factor is Function (8).
* **Base date on a key change.** The meter knows its base date. A KCT set
  with RO = 1 moves it to the next base date (1993 -> 2014 -> 2035) and
  empties the TID memory, which then stays empty until the next accepted
  token; RO = 1 on a 2035 meter is Range (7). For DKGA04 meters the new base
  date is also part of the new key, which the vending side derived; the meter
  only receives the key. A set with RO = 0 keeps base date and TID memory.
* **Key registers** change only when the whole set is complete and valid:
  decoder key, KRN, KT, TI, KEN, SGC (128-bit sets carry it; 64-bit sets
  keep the old SGC) and base date together. The encryption algorithm stays.
* **Key type.** Any change is allowed except one *to* KT 0 (DESIGN.md 3).
  A meter on KT 1 (DDTK) refuses class 0 with DDTK (12) but takes class 2.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from sts.codec import EncryptionAlgorithm, WithdrawnAlgorithmWarning, cipher_for, decrypt_number
from sts.crypto.keys import DecoderKey
from sts.errors import CrcError, FormatError, FunctionError, RangeError, StsError
from sts.meter.key_change import KctCollector, KctState, sections_for
from sts.meter.lockout import Lockout
from sts.meter.service import MeterService
from sts.meter.tid_memory import DEFAULT_CAPACITY, TidMemory
from sts.results import ResultCode
from sts.tokens.base import Token, TokenClass
from sts.tokens.block import parse_block
from sts.tokens.credit import CreditKind, CurrencyCredit, TransferCredit
from sts.tokens.digits import parse_token, untranspose_class
from sts.tokens.keychange import KeyChange1, KeyChangeToken
from sts.tokens.management import (
    ClearCredit,
    ClearTamper,
    Register,
    SetPhaseUnbalanceLimit,
    SetPowerLimit,
)
from sts.tokens.meter_number import meter_pan, validate_drn
from sts.tokens.meter_test import MeterTestToken, TestControl
from sts.tokens.tid import BaseDate, tid_from_datetime

CREDIT_KINDS = MeterService.ELECTRICITY.credit_kinds
"""The class 0 subclasses an electricity meter takes (a water or gas meter: its service's)."""

CLEARABLE_REGISTERS = MeterService.ELECTRICITY.clearable
"""The registers a ClearCredit token may name on an electricity meter."""

SUPPORTED_TESTS = TestControl(sum(TestControl)) & ~TestControl.WATER_FACTOR
"""The tests and displays this meter runs (control bits 0-12 except the water factor)."""

DDTK = 1
"""Key type 1: the default key, which refuses credit tokens."""

KEN_SHIFT = 16


# -- registers ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MeterIdentity:
    """Who the meter is: its DRN and manufacturer code (2 or 4 digits, from the DRN)."""

    drn: str
    mfr_code: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "drn", validate_drn(self.drn))
        top = 99 if len(self.drn) == 11 else 9999
        if not isinstance(self.mfr_code, int) or not 0 <= self.mfr_code <= top:
            raise RangeError(
                f"manufacturer code {self.mfr_code!r} does not fit a {self.mfr_digits}-digit code "
                f"(0..{top}) of meter {self.drn}"
            )

    @classmethod
    def of_drn(cls, drn: str, mfr_code: int | None = None) -> MeterIdentity:
        """The identity of a DRN; the manufacturer code defaults to the DRN's first digits."""
        number = validate_drn(drn)
        digits = 2 if len(number) == 11 else 4
        return cls(number, int(number[:digits]) if mfr_code is None else mfr_code)

    @property
    def mfr_digits(self) -> int:
        return 2 if len(self.drn) == 11 else 4

    @property
    def pan(self) -> str:
        return meter_pan(self.drn)

    @property
    def test_subclass(self) -> int:
        """The class 1 subclass that carries a code of this meter's length."""
        return 0 if self.mfr_digits == 2 else 1

    @property
    def mfr_text(self) -> str:
        return f"{self.mfr_code:0{self.mfr_digits}d}"


@dataclass(frozen=True)
class KeyRegisters:
    """The decoder key and the parameters that go with it."""

    key: DecoderKey
    sgc: int
    krn: int = 1
    kt: int = 2
    ti: int = 1
    ken: int = 255
    base_date: BaseDate = BaseDate.Y1993
    ea: EncryptionAlgorithm = EncryptionAlgorithm.EA07

    def __post_init__(self) -> None:
        if not isinstance(self.key, DecoderKey):
            raise FormatError("the meter's key must be a DecoderKey")
        object.__setattr__(self, "ea", EncryptionAlgorithm.parse(self.ea))
        object.__setattr__(self, "base_date", BaseDate.parse(self.base_date))
        if self.ea.key_bits != self.key.bits:
            raise FormatError(
                f"EA{self.ea.value} needs a {self.ea.key_bits}-bit decoder key; "
                f"this one has {self.key.bits} bits"
            )
        _check_range("SGC", self.sgc, 0, 999_999)
        _check_range("KRN", self.krn, 1, 9)
        _check_range("key type", self.kt, 0, 3)
        _check_range("tariff index", self.ti, 0, 99)
        _check_range("KEN", self.ken, 0, 255)

    @property
    def set_sections(self) -> frozenset[int]:
        """The KCT subclasses a complete key change set has for this key."""
        return sections_for(self.key.bits)

    def to_dict(self) -> dict[str, Any]:
        """The registers with the key in hex (the state file of a simulated meter holds it)."""
        return {
            "key": self.key.reveal_hex(),
            "sgc": self.sgc,
            "krn": self.krn,
            "kt": self.kt,
            "ti": self.ti,
            "ken": self.ken,
            "base_date": int(self.base_date),
            "ea": self.ea.value,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KeyRegisters:
        return cls(
            DecoderKey.from_hex(data["key"]),
            int(data["sgc"]),
            int(data["krn"]),
            int(data["kt"]),
            int(data["ti"]),
            int(data["ken"]),
            BaseDate.parse(data["base_date"]),
            EncryptionAlgorithm.parse(data["ea"]),
        )


def _check_range(name: str, value: Any, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise RangeError(f"{name} {value!r} is outside {low}..{high}")


@dataclass(frozen=True)
class DecoderState:
    """Everything the acceptance rules read and write."""

    identity: MeterIdentity
    keys: KeyRegisters
    tids: TidMemory
    kct: KctCollector = field(default_factory=KctCollector)
    lockout: Lockout = field(default_factory=Lockout)

    def shifted(self, delta: timedelta) -> DecoderState:
        """This state after the meter's clock moved by ``delta``: the keypad lock and a
        partial key change set keep the time they had left (the TID memory has no time)."""
        lockout, kct = self.lockout, self.kct
        if lockout.locked_until is not None:
            lockout = replace(lockout, locked_until=lockout.locked_until + delta)
        if kct.started is not None:
            kct = replace(kct, started=kct.started + delta)
        return replace(self, lockout=lockout, kct=kct)

    @classmethod
    def manufacture(
        cls,
        identity: MeterIdentity,
        keys: KeyRegisters,
        manufactured: datetime,
        tid_memory: int = DEFAULT_CAPACITY,
    ) -> DecoderState:
        """A new meter: its TID memory holds the TID of the manufacture time."""
        _require_aware(manufactured)
        tid = tid_from_datetime(manufactured, keys.base_date)
        return cls(identity, keys, TidMemory.filled(tid, tid_memory))

    def to_dict(self) -> dict[str, Any]:
        return {
            "drn": self.identity.drn,
            "mfr_code": self.identity.mfr_code,
            "keys": self.keys.to_dict(),
            "tid_memory": self.tids.to_dict(),
            "key_change": self.kct.to_dict(),
            "lockout": self.lockout.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DecoderState:
        return cls(
            MeterIdentity(data["drn"], int(data["mfr_code"])),
            KeyRegisters.from_dict(data["keys"]),
            TidMemory.from_dict(data["tid_memory"]),
            KctCollector.from_dict(data["key_change"]),
            Lockout.from_dict(data["lockout"]),
        )


def _require_aware(when: datetime) -> None:
    if not isinstance(when, datetime) or when.tzinfo is None or when.utcoffset() is None:
        raise FormatError(f"time {when!r} has no timezone; the meter needs timezone-aware times")


# -- what the meter must do ---------------------------------------------------------------


@dataclass(frozen=True)
class AddCredit:
    """Credit the wallet of ``kind``: units (0.1 kWh) for subclass 0, Decimal for 4."""

    kind: CreditKind
    amount: int | Decimal


@dataclass(frozen=True)
class ClearRegister:
    """Empty one credit register, or all (Register.ALL)."""

    register: Register


@dataclass(frozen=True)
class SetLoadLimit:
    """Set the maximum power limit in watts."""

    watts: int


@dataclass(frozen=True)
class SetUnbalanceLimit:
    """Set the maximum phase power unbalance limit in watts."""

    watts: int


@dataclass(frozen=True)
class ResetTamper:
    """Clear the tamper condition."""


@dataclass(frozen=True)
class HoldKeySection:
    """A KCT was held; ``held`` of ``needed`` sections are in."""

    held: int
    needed: int


@dataclass(frozen=True)
class ChangeKey:
    """The key registers changed (already in the new state); RO = 1 cleared the TIDs."""

    before: KeyRegisters
    after: KeyRegisters
    rollover: bool


@dataclass(frozen=True)
class RunTests:
    """Run these tests and displays (class 1)."""

    functions: TestControl


Action = (
    AddCredit
    | ClearRegister
    | SetLoadLimit
    | SetUnbalanceLimit
    | ResetTamper
    | HoldKeySection
    | ChangeKey
    | RunTests
)


class CreditCheck(Protocol):
    """What :func:`decide` asks the credit engine before accepting credit."""

    def check_credit(self, kind: CreditKind, amount: int | Decimal) -> ResultCode | None: ...


@dataclass(frozen=True)
class Decision:
    """The answer to one entry: result, why, the state after it, and what to do."""

    result: ResultCode
    detail: str
    state: DecoderState
    token: Token | None = None
    action: Action | None = None

    @property
    def accepted(self) -> bool:
        return self.result.accepted


# -- the processing order -----------------------------------------------------------------


def decide(
    state: DecoderState,
    digits: str,
    now: datetime,
    credit: CreditCheck,
    service: MeterService = MeterService.ELECTRICITY,
) -> Decision:
    """The meter's answer to ``digits`` typed at ``now`` (see the module docstring).

    ``service`` is what the meter measures: it takes that service's credit
    subclasses and ClearCredit registers only (:mod:`sts.meter.service`).
    """
    _require_aware(now)
    state = replace(state, kct=state.kct.expire(now))
    locked = state.lockout.is_locked(now)

    try:
        number = parse_token(digits)
    except FormatError as exc:
        return _refuse(state, now, ResultCode.FORMAT, str(exc), locked=locked)
    token_class, _ = untranspose_class(number)
    if token_class == TokenClass.TEST:
        return _class_1(state, number)
    if token_class == 3:
        detail = f"token {number:020d} is class 3, which is reserved"
        return _refuse(state, now, ResultCode.FORMAT, detail, locked=locked)
    if locked:
        return _refuse(state, now, ResultCode.LOCKOUT, "", locked=True)

    try:
        token = _decrypt(state.keys, number)
    except CrcError:
        detail = "the token does not decrypt under this meter's key: a wrong key or a typo"
        return _refuse(state, now, ResultCode.CRC, detail)
    except StsError as exc:
        return _refuse(state, now, exc.result_code or ResultCode.FORMAT, str(exc))

    if token_class == TokenClass.CREDIT and state.keys.kt == DDTK:
        detail = "the meter holds a default key (DDTK, key type 1), which takes no credit"
        return _refuse(state, now, ResultCode.DDTK, detail, token)

    if token.carries_tid:
        return _with_tid(state, token, now, credit, service)
    if isinstance(token, KeyChangeToken):
        return _key_change(state, token, now)
    detail = f"class {token_class} subclass {token.subclass} is not supported by this meter"
    return _refuse(state, now, ResultCode.FUNCTION, detail, token)


def _decrypt(keys: KeyRegisters, number: int) -> Token:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WithdrawnAlgorithmWarning)
        cipher = cipher_for(keys.key, keys.ea)
    token_class, block = decrypt_number(number, cipher)
    return parse_block(token_class, block)


def _refuse(
    state: DecoderState,
    now: datetime,
    result: ResultCode,
    detail: str,
    token: Token | None = None,
    *,
    locked: bool = False,
    counted: bool = True,
) -> Decision:
    """A rejection: only the lockout changes (and not while locked)."""
    if locked:
        left = state.lockout.remaining(now)
        detail = f"the keypad is locked for another {left.total_seconds():.0f} s"
        return Decision(ResultCode.LOCKOUT, detail, state, token)
    if counted:
        state = replace(state, lockout=state.lockout.after_rejection(now))
    return Decision(result, detail, state, token)


def _accept(
    state: DecoderState, result: ResultCode, detail: str, token: Token, action: Action
) -> Decision:
    return Decision(
        result, detail, replace(state, lockout=state.lockout.after_acceptance()), token, action
    )


def _class_1(state: DecoderState, number: int) -> Decision:
    """Test/display tokens: no key, no TID, no lockout."""
    _, block = untranspose_class(number)
    try:
        token = parse_block(TokenClass.TEST, block)
    except StsError as exc:
        return Decision(exc.result_code or ResultCode.FORMAT, str(exc), state)
    if not isinstance(token, MeterTestToken):
        detail = f"class 1 subclass {token.subclass} is not a test this meter knows"
        return Decision(ResultCode.FUNCTION, detail, state, token)
    identity = state.identity
    allowed = {0, identity.mfr_code} if token.variant == identity.test_subclass else {0}
    if token.mfr not in allowed:
        detail = (
            f"test token for manufacturer {token.mfr}; this meter takes "
            f"{' or '.join(str(code) for code in sorted(allowed))} in class 1 subclass "
            f"{token.variant}"
        )
        return Decision(ResultCode.MFR_CODE, detail, state, token)
    if token.control == 0:
        return Decision(ResultCode.FORMAT, "test token asks for no test or display", state, token)
    if token.runs_all:
        functions = SUPPORTED_TESTS
    else:
        if token.control & ~int(SUPPORTED_TESTS):
            detail = (
                f"test token control {token.control:#x} asks for tests this meter does not have "
                f"(it has {int(SUPPORTED_TESTS):#x})"
            )
            return Decision(ResultCode.FUNCTION, detail, state, token)
        functions = TestControl(token.control)
    return Decision(ResultCode.ACCEPT, "", state, token, RunTests(functions))


def _with_tid(
    state: DecoderState, token: Token, now: datetime, credit: CreditCheck, service: MeterService
) -> Decision:
    tid: int = token.tid  # type: ignore[attr-defined]
    if tid >> KEN_SHIFT > state.keys.ken:
        detail = f"TID {tid} is past the key's expiry number KEN {state.keys.ken}"
        return _refuse(state, now, ResultCode.KEY_EXPIRED, detail, token)
    verdict = state.tids.verdict(tid)
    if verdict is ResultCode.OLD:
        detail = f"TID {tid} is older than the oldest stored TID {state.tids.oldest}"
        return _refuse(state, now, verdict, detail, token)
    if verdict is ResultCode.USED:
        return _refuse(state, now, verdict, f"TID {tid} has been used before", token)

    action = _action_for(token, credit, service)
    if isinstance(action, tuple):
        result, detail = action
        return _refuse(state, now, result, detail, token)
    state = replace(state, tids=state.tids.remember(tid))
    return _accept(state, ResultCode.ACCEPT, "", token, action)


def _action_for(
    token: Token, credit: CreditCheck, service: MeterService
) -> Action | tuple[ResultCode, str]:
    """What the meter would do with a TID-bearing token, or why it cannot."""
    if isinstance(token, TransferCredit | CurrencyCredit):
        if token.kind not in service.credit_kinds:
            return ResultCode.FUNCTION, f"{token.kind.name.lower()} credit is not for this meter"
        amount: int | Decimal = token.units if isinstance(token, TransferCredit) else token.value
        refusal = credit.check_credit(token.kind, amount)
        if refusal is not None and refusal is not ResultCode.ACCEPT:
            return refusal, f"{token.kind.name.lower()} credit of {amount} refused: {refusal.text}"
        return AddCredit(token.kind, amount)
    if isinstance(token, SetPowerLimit):
        return SetLoadLimit(token.watts)
    if isinstance(token, SetPhaseUnbalanceLimit):
        return SetUnbalanceLimit(token.watts)
    if isinstance(token, ClearTamper):
        return ResetTamper()
    if isinstance(token, ClearCredit):
        register = token.register
        if not isinstance(register, Register):
            return ResultCode.RANGE, f"ClearCredit register {register:#06x} does not exist"
        if register not in service.clearable:
            return ResultCode.FUNCTION, f"this meter has no {register.name.lower()} register"
        return ClearRegister(register)
    detail = f"{token.name} (class 2 subclass {token.subclass}) is not supported by this meter"
    return ResultCode.FUNCTION, detail


def _key_change(state: DecoderState, token: KeyChangeToken, now: datetime) -> Decision:
    if isinstance(token, KeyChange1) and token.res:
        detail = "3-token key change sets (3KCT bit set) are not supported"
        return _refuse(state, now, ResultCode.FUNCTION, detail, token)
    try:
        kct = state.kct.add(token, now, state.keys.key.bits)
    except FunctionError as exc:
        return _refuse(state, now, ResultCode.FUNCTION, str(exc), token)
    needed = len(state.keys.set_sections)
    if kct.state is not KctState.COMPLETE:
        held = replace(state, kct=kct)
        action = HoldKeySection(kct.held, needed)
        detail = f"{kct.held} of {needed} key change tokens held"
        return _accept(held, kct.progress_result(), detail, token, action)

    try:
        order = kct.order()
    except StsError as exc:
        return _refuse(state, now, exc.result_code or ResultCode.FORMAT, str(exc), token)
    before = state.keys
    if order.kt == 0:
        detail = "a key change to key type 0 (initialisation key) is not allowed"
        return _refuse(state, now, ResultCode.KEY_TYPE, detail, token)
    if not 1 <= order.krn <= 9:
        return _refuse(state, now, ResultCode.RANGE, f"new KRN {order.krn} is not 1-9", token)
    if order.ti > 99:
        return _refuse(state, now, ResultCode.RANGE, f"new TI {order.ti} is above 99", token)
    base_date = before.base_date
    if order.rollover:
        later = [base for base in BaseDate if base > before.base_date]
        if not later:
            detail = f"RO = 1 but base date {int(before.base_date)} is the last one"
            return _refuse(state, now, ResultCode.RANGE, detail, token)
        base_date = later[0]
    after = KeyRegisters(
        DecoderKey(order.new_key),
        before.sgc if order.sgc is None else order.sgc,
        order.krn,
        order.kt,
        order.ti,
        order.ken,
        base_date,
        before.ea,
    )
    tids = state.tids.cleared() if order.rollover else state.tids
    changed = replace(state, keys=after, tids=tids, kct=kct.applied())
    action = ChangeKey(before, after, order.rollover)
    detail = (
        f"KRN {before.krn} -> {after.krn}, KT {before.kt} -> {after.kt}, "
        f"TI {before.ti} -> {after.ti}, key {before.key.fingerprint} -> {after.key.fingerprint}"
    )
    if order.rollover:
        detail += f", base date {int(before.base_date)} -> {int(base_date)}, TIDs cleared"
    return _accept(changed, ResultCode.ACCEPT, detail, token, action)


__all__ = [
    "Action",
    "AddCredit",
    "ChangeKey",
    "ClearRegister",
    "CreditCheck",
    "Decision",
    "DecoderState",
    "HoldKeySection",
    "KeyRegisters",
    "MeterIdentity",
    "ResetTamper",
    "RunTests",
    "SetLoadLimit",
    "SetUnbalanceLimit",
    "decide",
]
