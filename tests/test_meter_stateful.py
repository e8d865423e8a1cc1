"""A hypothesis state machine drives the credit engine with random credit,
consumption, clock jumps, clears, limits, tamper and emergency requests, and
checks after every step what must always hold:

- no credit appears without a token: the engine's credited totals equal what
  the test applied, and each wallet equals what went in less what came out,
  to the joule and to the 0.00001 of currency;
- wallets and debts are never negative, emergency credit never exceeds its
  limit;
- no more energy is delivered than the load asked for;
- the relay is open whenever there is no credit outside friendly time and no
  usable emergency credit (and whenever tamper holds it open);
- the alarm level shown is the one the wallets are at;
- the state survives a JSON round trip unchanged.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from sts.errors import StsError
from sts.meter.alarms import Alarms
from sts.meter.config import (
    CreditConfig,
    EmergencyConfig,
    EnergyStep,
    FixedCharge,
    FriendlyConfig,
    LoadControlConfig,
    ServiceChargeStep,
    TariffConfig,
)
from sts.meter.credit import CreditEngine
from sts.meter.units import J_PER_UNIT, kwh_to_j, money_to_units
from sts.tokens.credit import CreditKind

START = datetime(2025, 1, 28, 6, 0, tzinfo=UTC)

tariffs = st.one_of(
    st.none(),
    st.builds(
        lambda bound, p1, p2, fixed: TariffConfig(
            steps=(EnergyStep(Decimal(bound), p1), EnergyStep(None, p2)),
            service_charge=(ServiceChargeStep(None, Decimal("3.5")),),
            fixed_charges=(FixedCharge("network", fixed),),
        ),
        st.integers(1, 40),
        st.decimals("0.05", "3", places=2),
        st.decimals("0.05", "3", places=2),
        st.decimals("0", "20", places=2),
    ),
)
configs = st.builds(
    lambda tariff, emergency, automatic, friendly, limit, on_tamper, money_max: CreditConfig(
        timezone="+02:00",
        tariff=tariff,
        emergency=EmergencyConfig(limit_kwh=Decimal(emergency), automatic=automatic),
        friendly=FriendlyConfig(hours=(time(18), time(7))) if friendly else FriendlyConfig(),
        load_control=LoadControlConfig(
            power_limit_w=limit, reconnect_delay_s=90, lockout_trips=3, open_on_tamper=on_tamper
        ),
        energy_max_kwh=Decimal(300),
        money_max=Decimal(money_max),
    ),
    tariffs,
    st.sampled_from([0, 2, 5]),
    st.booleans(),
    st.booleans(),
    st.one_of(st.none(), st.integers(800, 4000)),
    st.booleans(),
    st.sampled_from([200, 1000]),
)
loads = st.one_of(
    st.integers(0, 5000),
    st.lists(st.integers(0, 5000), min_size=24, max_size=24),
)


class CreditMachine(RuleBasedStateMachine):
    """Random use of one meter, checked against the test's own accounting."""

    @initialize(config=configs)
    def make(self, config: CreditConfig) -> None:
        self.config = config
        self.engine = CreditEngine.new(START, config)
        self.now = START
        self.units_in = 0  # 0.1 kWh units applied
        self.money_in = 0  # 0.00001 units from positive currency tokens
        self.money_out = 0  # from negative currency tokens
        self.energy_cleared = 0
        self.money_cleared = 0
        self.demand_bound = 0  # joules the load asked for, an upper bound of delivery
        self.alarms = Alarms(config.alarms)

    def _try_credit(self, kind: CreditKind, amount: int | Decimal) -> bool:
        before = self.engine.to_dict()
        verdict = self.engine.check_credit(kind, amount)
        try:
            self.engine.apply_credit(kind, amount, self.now)
        except StsError as refused:
            assert refused.result_code == verdict
            assert self.engine.to_dict() == before  # a refused credit changes nothing
            return False
        assert verdict is None
        return True

    @rule(units=st.integers(0, 1500))
    def credit_units(self, units: int) -> None:
        if self._try_credit(CreditKind.ELECTRICITY, units):
            self.units_in += units

    @rule(amount=st.decimals("-60", "400", places=2))
    def credit_money(self, amount: Decimal) -> None:
        if self._try_credit(CreditKind.ELECTRICITY_CURRENCY, amount):
            units = money_to_units(amount)
            if units >= 0:
                self.money_in += units
            else:
                self.money_out -= units

    @rule(minutes=st.integers(1, 3 * 24 * 60), seconds=st.integers(0, 59), load=loads)
    def advance(self, minutes: int, seconds: int, load: int | list[int]) -> None:
        step = timedelta(minutes=minutes, seconds=seconds)
        self.engine.advance(self.now + step, load)
        self.now += step
        peak = load if isinstance(load, int) else max(load)
        self.demand_bound += peak * int(step.total_seconds())

    @rule()
    def emergency(self) -> None:
        self.engine.take_emergency_credit(self.now)

    @rule(register=st.sampled_from([0, 4, 0xFFFF]))
    def clear(self, register: int) -> None:
        s = self.engine.state
        if register in (0, 0xFFFF):
            self.energy_cleared += s.energy_j
        if register in (4, 0xFFFF):
            self.money_cleared += s.money
        self.engine.clear_credit(register, self.now)

    @rule(watts=st.one_of(st.just(0), st.integers(500, 6000)))
    def power_limit(self, watts: int) -> None:
        self.engine.set_power_limit(watts, self.now)

    @rule(on=st.booleans())
    def tamper(self, on: bool) -> None:
        if on:
            self.engine.set_tamper(self.now, "cover opened")
        else:
            self.engine.clear_tamper(self.now)

    @rule()
    def reload(self) -> None:
        data = json.loads(json.dumps(self.engine.to_dict()))
        copy = CreditEngine.from_dict(data, self.engine.events)
        assert copy.status() == self.engine.status()
        self.engine = copy

    # -- invariants --------------------------------------------------------------------------------

    @invariant()
    def nothing_appears_without_a_token(self) -> None:
        s = self.engine.state
        ledger = s.ledger
        assert ledger.energy_credited_j == self.units_in * J_PER_UNIT
        assert ledger.money_credited == self.money_in
        assert ledger.money_debited == self.money_out
        assert ledger.energy_cleared_j == self.energy_cleared
        assert ledger.money_cleared == self.money_cleared
        owed = s.emergency_used_j + s.debt_j
        assert ledger.imbalances(s.energy_j, s.money, owed, s.money_debt) == []

    @invariant()
    def registers_stay_in_bounds(self) -> None:
        s = self.engine.state
        assert s.energy_j >= 0 and s.money >= 0 and s.money_debt >= 0 and s.debt_j >= 0
        assert 0 <= s.emergency_used_j <= kwh_to_j(self.config.emergency.limit_kwh)
        assert s.energy_j <= kwh_to_j(self.config.energy_max_kwh)
        assert 0 <= s.day_j <= s.month_j <= s.ledger.delivered_j
        assert s.ledger.delivered_j <= self.demand_bound
        if not self.config.friendly.configured:
            assert s.ledger.friendly_debt_j == 0  # debt is made only in friendly time
        if not self.config.emergency.limit_kwh:
            assert s.ledger.emergency_j == 0

    @invariant()
    def relay_open_without_credit(self) -> None:
        s = self.engine.state
        status = self.engine.status()
        has_credit = s.energy_j > 0 or (self.config.tariff is not None and s.money > 0)
        emergency = s.emergency_active and s.emergency_used_j < kwh_to_j(
            self.config.emergency.limit_kwh
        )
        if not has_credit and not status.friendly and not emergency:
            assert not status.relay_closed
        if s.tamper and self.config.load_control.open_on_tamper:
            assert not status.relay_closed
        assert status.relay_reason.opens != status.relay_closed

    @invariant()
    def alarm_level_matches_the_wallets(self) -> None:
        s = self.engine.state
        assert s.alarm_level == self.alarms.level(s.energy_j, s.money)


CreditMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_credit_engine_state_machine = CreditMachine.TestCase
