"""The meter's credit engine: dual wallet, emergency credit, friendly time, alarms,
load control and billing, on a clock the caller drives.

Wallets. The *energy wallet* holds joules, filled by electricity unit tokens
(class 0 subclass 0, 0.1 kWh each). The *money wallet* holds money units
(0.00001 of the currency), filled by electricity currency tokens (subclass 4).
Consumption draws on the energy wallet first; when it is empty the money
wallet buys energy at the meter's tariff (:mod:`sts.meter.tariff`).

Without credit. When both wallets are empty:

- in friendly time (:mod:`sts.meter.friendly`) the relay stays closed and the
  energy becomes *debt*;
- otherwise emergency credit, once taken (keypad code, or automatically where
  configured), supplies up to its kWh limit;
- otherwise the relay opens at the second the credit ran out.

The next credit token first repays what is owed, then fills its wallet: a unit
token repays used emergency credit, then friendly debt, in kWh; a currency
token repays unpaid monthly charges, then emergency credit, then friendly
debt, buying the owed kWh at the current step price. Any credit token ends the
emergency credit; a new one can be taken once the last is repaid.

Clock and load. The engine counts time in whole epoch seconds and energy in
joules. :meth:`CreditEngine.advance` runs the clock to a time with a load
(watts, a daily profile or a function of time; see :mod:`sts.meter.profile`).
Between one boundary and the next (a load change, local midnight, a friendly
hour, a relay timer) the demand is constant, so the engine consumes each such
stretch in one step, splitting it only where a wallet empties, a tariff step
or an alarm threshold is crossed; each of those moments is found to the
second. A year at a constant load or a daily profile takes tens of
milliseconds; a load given as a function of time, sampled every minute,
about a second and a half (``benchmarks/meter.py``). Operations
that take a ``now`` later than the clock first run the clock to ``now`` with
the load last given (it persists, like a household's); a ``now`` before the
clock acts at the clock.

Worked example: 10 kWh in the energy wallet, 2 kW for 3 hours uses
2000 W * 10,800 s = 21.6 MJ = 6 kWh, leaving 4 kWh::

    >>> from datetime import datetime, timedelta, timezone
    >>> start = datetime(2025, 1, 6, 9, 0, tzinfo=timezone.utc)
    >>> engine = CreditEngine(CreditConfig())
    >>> engine.apply_credit(CreditKind.ELECTRICITY, 100, start).energy_kwh
    Decimal('10.000')
    >>> engine.advance(start + timedelta(hours=3), 2000)
    >>> engine.status().energy_kwh
    Decimal('4.000')
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sts.errors import FormatError, FunctionError, RangeError, RegisterOverflowError, StsError
from sts.meter.alarms import Alarms
from sts.meter.billing import BillingRecords
from sts.meter.config import CreditConfig, TariffConfig
from sts.meter.events import EventKind, EventLog
from sts.meter.friendly import is_friendly, next_change
from sts.meter.ledger import Ledger
from sts.meter.limits import MAX_DETAIL, MAX_LOAD_W, MAX_REASON, check_load, check_time, clip
from sts.meter.load import LoadControl, RelayReason
from sts.meter.localtime import LocalCalendar, epoch_seconds
from sts.meter.profile import LoadArgument, LoadProfile, as_profile
from sts.meter.service import MeterService, service_of
from sts.meter.tariff import MeterTariff
from sts.meter.units import (
    J_PER_UNIT,
    j_to_kwh,
    kwh_to_j,
    money_to_units,
    units_to_money,
)
from sts.results import ResultCode
from sts.tokens.credit import CreditKind
from sts.tokens.management import Register

STATE_VERSION = 1


class EmergencyResult(StrEnum):
    """The answer to a request for emergency credit."""

    GRANTED = "granted"
    ALREADY_ACTIVE = "emergency credit is already active"
    NOT_REPAID = "the last emergency credit is not repaid yet"
    CREDIT_AVAILABLE = "there is still credit in a wallet"
    NOT_OFFERED = "this meter offers no emergency credit"

    @property
    def granted(self) -> bool:
        return self is EmergencyResult.GRANTED


@dataclass(frozen=True)
class CreditReceipt:
    """What one credit token did. Amounts are in the token's unit (kWh or currency)."""

    kind: CreditKind
    amount: Decimal
    repaid_emergency: Decimal
    repaid_debt: Decimal
    to_wallet: Decimal
    energy_kwh: Decimal  # wallets after the token
    money: Decimal

    @property
    def unit(self) -> str:
        """kWh or m3 (a unit token's service), or currency."""
        return "currency" if self.kind.is_currency else self.service.unit

    @property
    def service(self) -> MeterService:
        """The service of the token's subclass (its unit register's unit)."""
        return service_of(self.kind) or MeterService.ELECTRICITY

    def lines(self) -> list[str]:
        """Display lines: what was repaid and what the wallets hold now."""
        unit = "" if self.kind.is_currency else f" {self.unit}"
        service = self.service
        lines = []
        if self.repaid_emergency:
            lines.append(f"Emergency repaid {self.repaid_emergency}{unit}")
        if self.repaid_debt:
            lines.append(f"Debt repaid {self.repaid_debt}{unit}")
        lines.append(f"{service.register_name.capitalize()} {self.energy_kwh} {service.unit}")
        if self.kind.is_currency or self.money:
            lines.append(f"Money {self.money}")
        return lines


@dataclass(frozen=True)
class CreditTotals:
    """Lifetime totals shown by the meter."""

    energy_kwh: Decimal  # delivered to the load
    from_energy_wallet_kwh: Decimal
    from_money_kwh: Decimal
    emergency_kwh: Decimal
    friendly_debt_kwh: Decimal
    money_for_energy: Decimal
    charges: Decimal
    energy_credited_kwh: Decimal
    money_credited: Decimal


@dataclass(frozen=True)
class CreditStatus:
    """The engine's registers as the display shows them."""

    at: datetime | None
    energy_kwh: Decimal
    money: Decimal
    emergency_available: bool
    emergency_active: bool
    emergency_used_kwh: Decimal
    emergency_limit_kwh: Decimal
    debt_kwh: Decimal
    debt_money: Decimal
    relay_closed: bool
    relay_reason: RelayReason
    alarm_level: int
    friendly: bool
    power_w: int
    demand_w: int
    power_limit_w: int | None
    phase_unbalance_limit_w: int | None
    power_lockout: bool
    tamper: bool
    tamper_reason: str
    today_kwh: Decimal
    month_kwh: Decimal
    price_per_kwh: Decimal | None
    totals: CreditTotals

    @property
    def total_kwh(self) -> Decimal:
        """Energy delivered since the meter was made."""
        return self.totals.energy_kwh

    @property
    def tariff_rate(self) -> Decimal | None:
        """The price of the next kWh bought with money (None: no tariff)."""
        return self.price_per_kwh


@dataclass(slots=True)
class CreditState:
    """The engine's registers. Mutable on purpose: the engine updates them in place
    thousands of times per simulated year."""

    now: int | None = None  # epoch seconds
    energy_j: int = 0
    money: int = 0  # 0.00001 currency units
    money_debt: int = 0  # unpaid monthly charges
    debt_j: int = 0  # energy used without credit in friendly time
    emergency_active: bool = False
    emergency_used_j: int = 0
    cost_carry: int = 0  # fraction of a money unit owed, over the tariff denominator
    month_j: int = 0
    day_j: int = 0
    day: date | None = None
    alarm_level: int = 0
    had_credit: bool = False
    relay_closed: bool = False
    relay_reason: RelayReason = RelayReason.NO_CREDIT
    tamper: bool = False
    tamper_reason: str = ""
    demand_w: int = 0
    load: dict[str, Any] = field(default_factory=lambda: {"constant": 0})
    limiter: LoadControl | None = None
    billing: BillingRecords = field(default_factory=BillingRecords)
    ledger: Ledger = field(default_factory=Ledger)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, LoadControl | BillingRecords | Ledger):
                value = value.to_dict()
            elif isinstance(value, date):
                value = value.isoformat()
            elif isinstance(value, RelayReason):
                value = value.value
            data[f.name] = value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], config: CreditConfig) -> CreditState:
        values = dict(data)
        values["day"] = None if data["day"] is None else date.fromisoformat(data["day"])
        values["relay_reason"] = RelayReason(data["relay_reason"])
        values["limiter"] = LoadControl.from_dict(config.load_control, data["limiter"])
        values["billing"] = BillingRecords.from_dict(data["billing"])
        values["ledger"] = Ledger.from_dict(data["ledger"])
        return cls(**values)


@dataclass(frozen=True)
class _Plan:
    """How a credit token would be split: repayments first, then the wallet."""

    kind: CreditKind
    amount: Decimal
    to_energy_j: int = 0
    to_money: int = 0  # negative for a negative currency token
    emergency_j: int = 0  # owed emergency energy repaid
    debt_j: int = 0  # friendly debt repaid
    emergency_cost: int = 0  # money spent repaying emergency energy
    debt_cost: int = 0  # money spent repaying friendly debt
    money_debt: int = 0  # unpaid charges repaid


class CreditEngine:
    """Wallets, emergency credit, friendly time, alarms, relay and billing of one meter."""

    def __init__(
        self,
        config: CreditConfig,
        state: CreditState | None = None,
        events: EventLog | None = None,
    ) -> None:
        self.config = config
        self.state = state if state is not None else CreditState()
        self.events = events if events is not None else EventLog()
        if self.state.limiter is None:
            self.state.limiter = LoadControl(config.load_control)
        self._limiter: LoadControl = self.state.limiter
        self._cal = LocalCalendar(config.timezone)
        self._tariff = None if config.tariff is None else MeterTariff(config.tariff)
        # Metering (sts.meter.metering) hooks: a report of each stretch, and the TOU rate.
        self.observer: Callable[[int, int, int, bool], None] | None = None
        self.tou_rate = 0
        # Self-protection and disconnect control (sts.meter.protection); payment mode.
        self.relay_hold: Callable[[], RelayReason | None] | None = None
        self.postpaid = False
        self._alarms = Alarms(config.alarms)
        self._emergency_j = kwh_to_j(config.emergency.limit_kwh, "emergency limit")
        self._emergency_below_j = kwh_to_j(config.emergency.available_below_kwh, "threshold")
        self._emergency_below_money = money_to_units(
            config.emergency.available_below_money, "emergency threshold"
        )
        self._energy_max_j = kwh_to_j(config.energy_max_kwh, "energy wallet maximum")
        self._money_max = money_to_units(config.money_max, "money wallet maximum")
        self._profile = LoadProfile.from_dict(self.state.load)
        self._midnight = 0
        self._friendly_next = 0
        self._friendly = False
        if self.state.now is not None:
            self._refresh(self.state.now)

    @classmethod
    def new(
        cls,
        start: datetime,
        config: CreditConfig | None = None,
        events: EventLog | None = None,
    ) -> CreditEngine:
        """A new engine (default configuration unless given) whose clock starts at ``start``."""
        engine = cls(config if config is not None else CreditConfig(), None, events)
        engine._sync(start)
        return engine

    # -- the agreed interface ----------------------------------------------------------------------

    def check_credit(self, kind: CreditKind, amount: int | Decimal) -> ResultCode | None:
        """Overflow, Range or Function when the meter would refuse this credit, else None."""
        plan = self._plan(kind, amount)
        return plan if isinstance(plan, ResultCode) else None

    def apply_credit(self, kind: CreditKind, amount: int | Decimal, now: datetime) -> CreditReceipt:
        """Credit a token's amount: repay what is owed, then fill the wallet."""
        t = self._sync(now)
        plan = self._plan(kind, amount)
        if isinstance(plan, ResultCode):
            raise self._refusal(plan, kind, amount)
        s, ledger = self.state, self.state.ledger
        if not kind.is_currency:
            s.emergency_used_j -= plan.emergency_j
            s.debt_j -= plan.debt_j
            s.energy_j += plan.to_energy_j
            ledger.energy_credited_j += plan.to_energy_j + plan.emergency_j + plan.debt_j
            ledger.energy_to_wallet_j += plan.to_energy_j
            ledger.owed_repaid_by_energy_j += plan.emergency_j + plan.debt_j
            repaid_emergency = j_to_kwh(plan.emergency_j)
            repaid_debt = j_to_kwh(plan.debt_j)
            to_wallet = j_to_kwh(plan.to_energy_j)
        elif plan.to_money < 0:
            s.money += plan.to_money
            ledger.money_debited -= plan.to_money
            repaid_emergency = repaid_debt = Decimal(0)
            to_wallet = units_to_money(plan.to_money)
        else:
            s.money_debt -= plan.money_debt
            s.emergency_used_j -= plan.emergency_j
            s.debt_j -= plan.debt_j
            s.money += plan.to_money
            spent = plan.money_debt + plan.emergency_cost + plan.debt_cost
            ledger.money_credited += plan.to_money + spent
            ledger.money_to_wallet += plan.to_money
            ledger.money_debt_repaid += plan.money_debt
            ledger.money_repaying_energy += plan.emergency_cost + plan.debt_cost
            ledger.owed_repaid_by_money_j += plan.emergency_j + plan.debt_j
            repaid_emergency = units_to_money(plan.emergency_cost)
            repaid_debt = units_to_money(plan.money_debt + plan.debt_cost)
            to_wallet = units_to_money(plan.to_money)
        if plan.amount > 0:
            s.emergency_active = False
        self._after_change(t)
        return CreditReceipt(
            kind,
            plan.amount,
            repaid_emergency,
            repaid_debt,
            to_wallet,
            j_to_kwh(s.energy_j),
            units_to_money(s.money),
        )

    def clear_credit(self, register: int, now: datetime) -> None:
        """Empty the energy wallet (register 0), the money wallet (4) or both (0xFFFF).

        A water meter's registers are 1 and 5, a gas meter's 2 and 6
        (:mod:`sts.meter.service`). What is owed (emergency credit, debt) stays owed.
        """
        service = self.config.service
        units, money = service.units_register, service.currency_register
        expected = f"{int(units)}, {int(money)} or 0xFFFF"
        try:
            which = Register(register)
        except ValueError:
            raise FunctionError(
                f"register {register!r} is not a credit register; expected {expected}"
            ) from None
        if which not in service.clearable:
            raise FunctionError(
                f"register {which.name} is not on this {service} meter; expected {expected}"
            )
        t = self._sync(now)
        s = self.state
        cleared = []
        if which in (units, Register.ALL):
            name = f"{service.register_name} wallet"
            cleared.append(f"{name} {j_to_kwh(s.energy_j)} {service.unit}")
            s.ledger.energy_cleared_j += s.energy_j
            s.energy_j = 0
        if which in (money, Register.ALL):
            cleared.append(f"money wallet {units_to_money(s.money)}")
            s.ledger.money_cleared += s.money
            s.money = 0
            s.cost_carry = 0
        self._record(t, EventKind.CREDIT_CLEARED, "cleared " + " and ".join(cleared))
        self._after_change(t)

    def set_power_limit(self, watts: int, now: datetime) -> None:
        """A new maximum power limit in watts (0: none). It ends any trip or lock-out."""
        _check_watts(watts, "power limit")
        t = self._sync(now)
        self._limiter.set_limit(watts)
        detail = f"maximum power limit {watts} W" if watts else "maximum power limit removed"
        self._record(t, EventKind.SETTING_CHANGED, detail)
        self._settle(t)

    def set_phase_unbalance_limit(self, watts: int, now: datetime) -> None:
        """Store the phase power unbalance limit (kept and shown; a single-phase meter
        has no phases to compare)."""
        _check_watts(watts, "phase unbalance limit")
        t = self._sync(now)
        self._limiter.unbalance_limit_w = watts or None
        detail = f"phase unbalance limit {watts} W" if watts else "phase unbalance limit removed"
        self._record(t, EventKind.SETTING_CHANGED, detail)

    def clear_tamper(self, now: datetime) -> None:
        """End the tamper condition; the relay closes if nothing else holds it open."""
        t = self._sync(now)
        s = self.state
        detail = f"was: {s.tamper_reason}" if s.tamper else "no tamper was set"
        s.tamper = False
        s.tamper_reason = ""
        self._record(t, EventKind.TAMPER_CLEARED, detail)
        self._settle(t)

    def set_tamper(self, now: datetime, reason: str) -> None:
        """A tamper input (cover opened, magnet, ...); opens the relay where configured."""
        if not isinstance(reason, str) or len(reason) > MAX_REASON:
            raise RangeError(
                f"tamper reason {clip(repr(reason))} is not a text of at most {MAX_REASON} "
                "characters"
            )
        t = self._sync(now)
        s = self.state
        s.tamper = True
        s.tamper_reason = reason
        self._record(t, EventKind.TAMPER, reason)
        self._settle(t)

    def set_pricing(
        self,
        tariff: TariffConfig,
        rate_prices: Mapping[int, Decimal],
        subsidised: frozenset[int],
        monthly_credit: Decimal,
        free_kwh: Decimal = Decimal(0),
    ) -> None:
        """Price money-bought energy by TOU rate and subsidies (:mod:`sts.meter.metering`,
        :mod:`sts.meter.subsidy`) instead of the configured tariff alone."""
        self._tariff = MeterTariff(tariff, rate_prices, subsidised, monthly_credit, free_kwh)

    def resettle(self, t: int) -> None:
        """Put the relay where its reasons say at epoch second ``t`` (after a rule outside
        the engine changed: disconnect control, self-protection, payment mode)."""
        self._settle(t)

    def credit_export(self, joules: int, t: int) -> int:
        """Net metering: put exported ``joules`` in the energy wallet, up to its maximum.

        Returns the joules credited; the ledger counts them apart from tokens.
        """
        s = self.state
        taken = max(0, min(joules, self._energy_max_j - s.energy_j))
        if taken:
            s.energy_j += taken
            s.ledger.export_credited_j += taken
            self._after_change(t)
        return taken

    def take_emergency_credit(self, now: datetime) -> EmergencyResult:
        """Take emergency credit (the keypad short code)."""
        t = self._sync(now)
        result = self._emergency_offer()
        if result.granted:
            self._grant(t, automatic=False)
            self._settle(t)
        return result

    def advance(self, until: datetime, load: LoadArgument | None) -> None:
        """Run the clock to ``until`` with ``load`` (None: the load last given).

        The time must be inside the meter's clock range and a stored load
        (watts or a daily profile) at most its maximum load
        (:mod:`sts.meter.limits`); both are checked before anything runs. A
        load given as a function is checked sample by sample.
        """
        end = epoch_seconds(until)
        check_time(until)
        if load is not None:
            if callable(load) and not isinstance(load, LoadProfile):
                profile = LoadProfile.function(load, self.config.profile_step_s)
            else:
                profile = as_profile(load)
            if profile.storable:
                stored = profile.to_dict()
                check_load(max(stored.get("daily", [stored.get("constant", 0)])))
            self._profile = profile
        s = self.state
        if s.now is None:
            self._start(end)
        elif end < s.now:
            raise RangeError(
                f"cannot advance to {until.isoformat()}: the meter clock is already at "
                f"{self._cal.local(s.now).isoformat()}"
            )
        else:
            self._run(end)
        if self._profile.storable:
            s.load = self._profile.to_dict()
        else:
            self._profile = LoadProfile.constant(s.demand_w)
            s.load = self._profile.to_dict()

    def status(self) -> CreditStatus:
        s = self.state
        ledger = s.ledger
        limiter = self._limiter
        totals = CreditTotals(
            energy_kwh=j_to_kwh(ledger.delivered_j),
            from_energy_wallet_kwh=j_to_kwh(ledger.from_energy_j),
            from_money_kwh=j_to_kwh(ledger.from_money_j),
            emergency_kwh=j_to_kwh(ledger.emergency_j),
            friendly_debt_kwh=j_to_kwh(ledger.friendly_debt_j),
            money_for_energy=units_to_money(ledger.money_for_energy),
            charges=units_to_money(ledger.charges_due),
            energy_credited_kwh=j_to_kwh(ledger.energy_credited_j),
            money_credited=units_to_money(ledger.money_credited),
        )
        return CreditStatus(
            at=None if s.now is None else self._cal.local(s.now),
            energy_kwh=j_to_kwh(s.energy_j),
            money=units_to_money(s.money),
            emergency_available=self._emergency_offer().granted,
            emergency_active=s.emergency_active,
            emergency_used_kwh=j_to_kwh(s.emergency_used_j),
            emergency_limit_kwh=self.config.emergency.limit_kwh,
            debt_kwh=j_to_kwh(s.debt_j),
            debt_money=units_to_money(s.money_debt),
            relay_closed=s.relay_closed,
            relay_reason=s.relay_reason,
            alarm_level=s.alarm_level,
            friendly=self._friendly,
            power_w=s.demand_w if s.relay_closed else 0,
            demand_w=s.demand_w,
            power_limit_w=limiter.limit_w,
            phase_unbalance_limit_w=limiter.unbalance_limit_w,
            power_lockout=limiter.locked,
            tamper=s.tamper,
            tamper_reason=s.tamper_reason,
            today_kwh=j_to_kwh(s.day_j),
            month_kwh=j_to_kwh(s.month_j),
            price_per_kwh=None if self._tariff is None else self._tariff.price_per_kwh(s.month_j),
            totals=totals,
        )

    @property
    def billing(self) -> BillingRecords:
        """The closed daily (31) and monthly (13) consumption records."""
        return self.state.billing

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "config": self.config.to_dict(),
            "state": self.state.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], events: EventLog | None = None) -> CreditEngine:
        """The engine :meth:`to_dict` wrote; anything else is a FormatError."""
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            found = data.get("version") if isinstance(data, dict) else type(data).__name__
            raise FormatError(
                f"credit engine state version {found!r} is not {STATE_VERSION}; "
                "expected what CreditEngine.to_dict() writes"
            )
        try:
            config = CreditConfig.from_dict(data["config"])
            return cls(config, CreditState.from_dict(data["state"], config), events)
        except StsError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise FormatError(f"credit engine state is malformed: {exc!r}") from None

    # -- credit planning ---------------------------------------------------------------------------

    def _plan(self, kind: CreditKind, amount: int | Decimal) -> _Plan | ResultCode:
        service = self.config.service
        if kind is service.units_kind:
            return self._plan_units(kind, amount)
        if kind is service.currency_kind and self._tariff is not None:
            return self._plan_money(kind, amount)
        return ResultCode.FUNCTION

    def _plan_units(self, kind: CreditKind, amount: int | Decimal) -> _Plan | ResultCode:
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
            return ResultCode.RANGE
        s = self.state
        credit = amount * J_PER_UNIT
        emergency = min(credit, s.emergency_used_j)
        debt = min(credit - emergency, s.debt_j)
        to_wallet = credit - emergency - debt
        if s.energy_j + to_wallet > self._energy_max_j:
            return ResultCode.OVERFLOW
        return _Plan(
            kind,
            Decimal(amount) / 10,
            to_energy_j=to_wallet,
            emergency_j=emergency,
            debt_j=debt,
        )

    def _plan_money(self, kind: CreditKind, amount: int | Decimal) -> _Plan | ResultCode:
        if isinstance(amount, bool) or not isinstance(amount, int | Decimal):
            return ResultCode.RANGE
        value = Decimal(amount)
        try:
            units = money_to_units(value)
        except RangeError:
            return ResultCode.RANGE
        s = self.state
        if units < 0:
            if s.money + units < 0:
                return ResultCode.RANGE
            return _Plan(kind, value, to_money=units)
        tariff = self._tariff
        assert tariff is not None
        money_debt = min(units, s.money_debt)
        rest = units - money_debt
        numerator = tariff.numerator(tariff.step_index(s.month_j), self.tou_rate)
        denominator = tariff.denominator
        bought = []
        for owed in (s.emergency_used_j, s.debt_j):
            joules = min(owed, rest * denominator // numerator) if numerator else owed
            cost = -(-joules * numerator // denominator)
            bought.append((joules, cost))
            rest -= cost
        if s.money + rest > self._money_max:
            return ResultCode.OVERFLOW
        (emergency_j, emergency_cost), (debt_j, debt_cost) = bought
        return _Plan(
            kind,
            value,
            to_money=rest,
            emergency_j=emergency_j,
            debt_j=debt_j,
            emergency_cost=emergency_cost,
            debt_cost=debt_cost,
            money_debt=money_debt,
        )

    def _refusal(self, code: ResultCode, kind: CreditKind, amount: int | Decimal) -> StsError:
        what = f"{kind.name.lower()} credit of {amount}"
        service = self.config.service
        if code is ResultCode.OVERFLOW:
            return RegisterOverflowError(
                f"{what} would take its wallet past the maximum ({service.register_name} "
                f"{self.config.energy_max_kwh} {service.unit}, money {self.config.money_max})"
            )
        if code is ResultCode.FUNCTION:
            return FunctionError(f"{what} is not taken by this meter")
        return RangeError(
            f"{what} is out of range: expected a whole number of 0.1 {service.unit} units >= 0, "
            "or money in steps of 0.00001 that leaves the money wallet at 0 or more"
        )

    # -- the clock ---------------------------------------------------------------------------------

    def _sync(self, now: datetime) -> int:
        """Run the clock to ``now`` (if later) and return the clock."""
        t = epoch_seconds(now)
        if self.state.now is None or t > self.state.now:
            check_time(now)
        s = self.state
        if s.now is None:
            self._start(t)
        elif t > s.now:
            self._run(t)
        assert s.now is not None
        return s.now

    def set_clock_back(self, t: int) -> None:
        """Set the clock back to epoch second ``t`` within its local day (the meter's clock
        adjustment, :meth:`sts.meter.meter.Meter.set_clock`). A running power-limit timer
        keeps the time it had left, and a trip stays inside its lock-out window."""
        s = self.state
        assert s.now is not None
        delta = t - s.now
        day = self._cal.local(t).date()
        if delta > 0 or day != s.day:
            raise RangeError(
                f"time {self._cal.local(t).isoformat()} is not on the meter's local day {s.day};"
                " a clock is set back within its day only (so no day or month is billed twice)"
            )
        limiter = self._limiter
        limiter.trips = [at + delta for at in limiter.trips]
        if limiter.reconnect_at is not None:
            limiter.reconnect_at += delta
        if limiter.locked_until is not None:
            limiter.locked_until += delta
        s.now = t
        self._refresh(t)

    def _start(self, t: int) -> None:
        s = self.state
        s.now = t
        if s.day is None:
            s.day = self._cal.local(t).date()
        self._refresh(t)
        s.alarm_level = self._alarms.level(s.energy_j, s.money)
        s.had_credit = self._has_credit()
        self._settle(t)

    def _refresh(self, t: int) -> None:
        self._midnight = self._cal.next_midnight(t)
        self._friendly = is_friendly(self.config.friendly, self._cal.local(t))
        self._friendly_next = next_change(self.config.friendly, self._cal, t)

    def _run(self, end: int) -> None:
        s = self.state
        limiter = self._limiter
        calendar = self._cal
        span = self._profile.span
        t = s.now
        assert t is not None
        observe = self.observer
        ledger = s.ledger
        self._boundaries(t)
        # the hot loop of a long run (one pass per stretch of constant load): the limiter's
        # timer and the day/friendly boundaries change only in _boundaries and _trip, so
        # the cap is worked out again only after those
        cap = min(end, self._midnight, self._friendly_next, limiter.next_timer())
        while t < end:
            demand, held = span(calendar, t, cap - t)
            if demand > MAX_LOAD_W:
                check_load(demand)
            stop = t + held
            s.demand_w = demand
            delivered = ledger.delivered_j
            if s.relay_closed and demand:
                if limiter.exceeded(demand):
                    self._trip(t, demand)
                    timer = limiter.next_timer()
                    if timer < stop:
                        stop = timer
                    if timer < cap:
                        cap = timer
                else:
                    self._consume(t, stop, demand)
            if observe is not None:
                observe(t, stop, ledger.delivered_j - delivered, s.relay_closed)
            t = s.now = stop
            if t >= cap:
                self._boundaries(t)
                cap = min(end, self._midnight, self._friendly_next, limiter.next_timer())

    def _boundaries(self, t: int) -> None:
        """Everything due at ``t``: day and month close, friendly change, relay timers."""
        if t >= self._midnight:
            self._rollover(t)
        if t >= self._friendly_next:
            self._friendly = is_friendly(self.config.friendly, self._cal.local(t))
            self._friendly_next = next_change(self.config.friendly, self._cal, t)
        self._limiter.expire(t)
        self._settle(t)

    def _rollover(self, t: int) -> None:
        s = self.state
        old = s.day
        assert old is not None
        new = self._cal.local(t).date()
        s.billing.close_day(old, s.day_j)
        s.day_j = 0
        if (new.year, new.month) != (old.year, old.month):
            s.billing.close_month(old.year, old.month, s.month_j)
            if self._tariff is not None:
                self._charge(t, self._tariff.monthly_charges(s.month_j).total)
            s.month_j = 0
        s.day = new
        self._midnight = self._cal.next_midnight(t)

    def _charge(self, t: int, amount: int) -> None:
        """Take a monthly charge from the money wallet; what it cannot pay becomes debt."""
        if not amount:
            return
        s, ledger = self.state, self.state.ledger
        paid = min(amount, s.money)
        s.money -= paid
        s.money_debt += amount - paid
        ledger.charges_due += amount
        ledger.charges_paid += paid
        ledger.charges_to_debt += amount - paid
        self._check_credit(t)

    # -- consumption -------------------------------------------------------------------------------

    def _consume(self, t0: int, t1: int, demand: int) -> None:
        """Deliver ``demand`` watts from ``t0`` to ``t1``, or until credit runs out.

        Each pass draws from one source up to the next point where something
        changes (a wallet empties or reaches an alarm threshold, a tariff step
        or the emergency limit is reached); alarms are checked at those points.
        """
        s = self.state
        ledger = s.ledger
        alarms = self._alarms
        tariff = self._tariff
        wanted = demand * (t1 - t0)
        used = 0
        while used < wanted:
            rest = wanted - used
            if self.postpaid:  # billed afterwards: the wallets are not drawn
                take = rest
                ledger.postpaid_j += take
                milestone = False
            elif s.energy_j > 0:
                room = s.energy_j - alarms.energy_floor(s.energy_j)
                take = rest if rest < room else room
                s.energy_j -= take
                ledger.from_energy_j += take
                milestone = take == room
            elif tariff is not None and (s.money > 0 or s.month_j < tariff.free_j):
                take, milestone = self._buy(tariff, rest)
            elif self._friendly:
                take = rest
                s.debt_j += take
                ledger.friendly_debt_j += take
                milestone = False
            elif s.emergency_active and s.emergency_used_j < self._emergency_j:
                take = min(rest, self._emergency_j - s.emergency_used_j)
                s.emergency_used_j += take
                ledger.emergency_j += take
                milestone = False
            else:
                self._settle(t0 - (-used // demand))
                if s.relay_closed:  # automatic emergency credit was granted
                    continue
                return
            used += take
            s.month_j += take
            s.day_j += take
            ledger.delivered_j += take
            if milestone:
                self._check_credit(t0 - (-used // demand))

    def _buy(self, tariff: MeterTariff, wanted: int) -> tuple[int, bool]:
        """Buy up to ``wanted`` joules with money, stopping at a step bound or alarm level.

        Returns the joules bought and whether the money wallet reached an alarm
        threshold or emptied.
        """
        s = self.state
        month = s.month_j
        index = tariff.step_index(month)
        numerator = tariff.numerator(index, self.tou_rate)
        denominator = tariff.denominator
        bound = tariff.bounds_j[index]
        take = wanted if bound is None or wanted < bound - month else bound - month
        money = s.money
        floor = self._alarms.money_floor(money)
        carry = s.cost_carry
        if numerator:  # the fewest joules whose cost takes the wallet down to the floor
            need = -((carry - (money - floor) * denominator) // numerator)
            if need < take:
                take = need
        cost, carry = divmod(carry + numerator * take, denominator)
        if cost >= money:  # the last joule takes what is left
            cost, carry = money, 0
        s.money = money - cost
        s.cost_carry = carry
        s.ledger.money_for_energy += cost
        s.ledger.from_money_j += take
        return take, s.money <= floor

    # -- credit level, emergency and relay ---------------------------------------------------------

    def _has_credit(self) -> bool:
        s = self.state
        tariff = self._tariff
        return s.energy_j > 0 or (tariff is not None and (s.money > 0 or s.month_j < tariff.free_j))

    def _check_credit(self, t: int) -> None:
        """Raise a low-credit alarm per level crossed, and note credit running out."""
        s = self.state
        level = self._alarms.level(s.energy_j, s.money)
        if level > s.alarm_level:
            for crossed in range(s.alarm_level + 1, level + 1):
                threshold = self._alarms.threshold(crossed)
                self._record(
                    t,
                    EventKind.CREDIT_LOW,
                    f"level {crossed}: energy <= {threshold.energy_kwh} kWh"
                    f" and money <= {threshold.money}",
                )
        s.alarm_level = level
        has = self._has_credit()
        if s.had_credit and not has:
            self._record(t, EventKind.CREDIT_EXHAUSTED, "both wallets empty")
        s.had_credit = has

    def _emergency_offer(self) -> EmergencyResult:
        s = self.state
        if not self._emergency_j:
            return EmergencyResult.NOT_OFFERED
        if s.emergency_active:
            return EmergencyResult.ALREADY_ACTIVE
        if s.emergency_used_j:
            return EmergencyResult.NOT_REPAID
        if s.energy_j > self._emergency_below_j or s.money > self._emergency_below_money:
            return EmergencyResult.CREDIT_AVAILABLE
        return EmergencyResult.GRANTED

    def _grant(self, t: int, automatic: bool) -> None:
        self.state.emergency_active = True
        how = "automatically" if automatic else "by keypad"
        self._record(
            t, EventKind.EMERGENCY_CREDIT, f"{self.config.emergency.limit_kwh} kWh taken {how}"
        )

    def _settle(self, t: int) -> None:
        """Put the relay where its reasons say, recording a change with its reason.

        Automatic emergency credit is granted instead of opening a closed relay
        for lack of credit; a relay already open (a meter just made, or one
        whose emergency credit is not repaid) waits for a token or the keypad.
        """
        s = self.state
        keep: RelayReason | None
        if self.postpaid:
            keep = RelayReason.POSTPAID
        elif self._has_credit():
            keep = RelayReason.CREDIT
        elif self._friendly:
            keep = RelayReason.FRIENDLY
        elif s.emergency_active and s.emergency_used_j < self._emergency_j:
            keep = RelayReason.EMERGENCY
        elif s.relay_closed and self.config.emergency.automatic and self._emergency_offer().granted:
            self._grant(t, automatic=True)
            keep = RelayReason.EMERGENCY
        else:
            keep = None
        hold = None if self.relay_hold is None else self.relay_hold()
        opening: RelayReason | None
        if hold is not None:  # disconnect control and self-protection (sts.meter.protection)
            opening = hold
        elif s.tamper and self.config.load_control.open_on_tamper:
            opening = RelayReason.TAMPER
        else:
            opening = self._limiter.open_reason()
            if opening is None and keep is None:
                opening = RelayReason.NO_CREDIT
        closed = opening is None
        reason = keep if opening is None else opening
        assert reason is not None
        if closed != s.relay_closed:
            kind = EventKind.RELAY_CLOSED if closed else EventKind.RELAY_OPENED
            self._record(t, kind, reason.value)
        s.relay_closed = closed
        s.relay_reason = reason

    def _trip(self, t: int, demand: int) -> None:
        limiter = self._limiter
        self._record(
            t,
            EventKind.POWER_LIMIT_EXCEEDED,
            f"{demand} W above the {limiter.limit_w} W limit",
        )
        limiter.trip(t)
        self._settle(t)

    def _after_change(self, t: int) -> None:
        self._check_credit(t)
        self._settle(t)

    def _record(self, t: int, kind: EventKind, detail: str) -> None:
        self.events.record(self._cal.local(t), kind, clip(detail, MAX_DETAIL))


def _check_watts(value: int, what: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise RangeError(f"{what} {value!r} W is not a whole number of watts, 0 or more")
