"""A hypothesis state machine drives the whole meter: real credit tokens, import and
export with reactive power, neutral current and terminal temperature, TOU switching
across days, the tariff change input, relay commands, tamper, the fire alarm input, the
payment-mode switch (by the head end and on the keypad, with right and wrong PINs) and
the clock set forward and back. After every step it checks:

- energy is conserved across registers: the rates add up to each total, +A equals
  the energy the credit engine delivered, and import and export never mix (an
  import step leaves -A alone, an export step leaves +A alone, and neither exceeds
  what the load asked for);
- no credit appears without an accepted token: the credited energy equals the units
  of the accepted tokens, export credits nothing (net metering is off), and the
  credit engine's ledger balances;
- the relay never closes against a rule in force: disconnect control not connected,
  a self-protection hold (fire control, a current-imbalance or over-current trip, ...),
  or tamper (the credit engine's tamper control is on);
- a token is accepted once: a TID accepted before is Used (or Old) whenever it comes
  again, however the clock was set.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from sts.codec import encode
from sts.crypto.keys import DecoderKey
from sts.errors import FunctionError, RangeError
from sts.meter import state as meter_state
from sts.meter.calendar import ActivityCalendar
from sts.meter.config import CreditConfig
from sts.meter.disconnect import ControlState
from sts.meter.measurement import LoadPoint
from sts.meter.meter import Meter
from sts.meter.metering import Metering, MeteringConfig
from sts.meter.protection import Guard
from sts.meter.units import J_PER_UNIT
from sts.results import ResultCode
from sts.tokens.credit import CreditKind, TransferCredit
from sts.tokens.tid import BaseDate, tid_from_datetime

KEY = DecoderKey.from_hex("E653341F9D5BF36F")
MADE = datetime(2026, 3, 27, 20, 0, tzinfo=UTC)
TOU = {
    "active": {
        "name": "tou",
        "seasons": [
            {"name": "summer", "start": "04-01", "week": "s"},
            {"name": "winter", "start": "10-01", "week": "w"},
        ],
        "weeks": [{"name": "s", "days": [1, 1, 1, 1, 1, 2, 2]}, {"name": "w", "days": [2] * 7}],
        "days": [
            {"id": 1, "switches": [["00:00", 1], ["07:00", 2], ["18:00", 3], ["21:00", 1]]},
            {"id": 2, "switches": [["00:00", 4], ["12:00", 5]]},
        ],
    },
    "special_days": [{"index": 1, "date": "*-04-03", "day_id": 2}],
}
points = st.builds(
    LoadPoint,
    st.integers(-4000, 6000),
    st.integers(-2000, 2000),
    st.none(),
    st.none(),
    st.none() | st.integers(0, 4000).map(lambda n: Decimal(n).scaleb(-2)),  # neutral A
    st.none() | st.integers(20, 120).map(Decimal),  # terminal temperature, degrees C
)


class WholeMeter(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        metering = Metering(
            config=MeteringConfig(dual_resource_rate=6),
            calendar=ActivityCalendar.from_dict(TOU),
            guard=Guard.from_settings(
                {
                    "control_mode": 1,
                    "over_current_a": "25",
                    "neutral_mismatch_a": "5",
                    "open_on_current_imbalance": True,
                    "mode_switch_pin": "4321",
                }
            ),
        )
        self.meter = Meter.manufacture(
            drn="47500150231",
            manufactured=MADE,
            key=KEY,
            sgc=123456,
            config=CreditConfig(timezone="Europe/Berlin"),
            metering=metering,
        )
        self.accepted_units = 0
        self.export_asked = 0
        self.import_asked = 0
        self.rnd = 0
        self.accepted_tids: set[int] = set()
        self.standing = LoadPoint(0)

    # -- rules --------------------------------------------------------------------------

    @rule(units=st.integers(1, 400))
    def credit_token(self, units: int) -> None:
        self.rnd = (self.rnd + 1) % 16
        tid = tid_from_datetime(self.meter.clock, BaseDate.Y2014)
        token = TransferCredit.for_units(CreditKind.ELECTRICITY, units, tid, self.rnd)
        outcome = self.meter.enter_token(encode(token, KEY))
        if tid in self.accepted_tids:  # Used or Old, or Lockout after three of them
            assert not outcome.accepted, "a token came in twice"
        if outcome.accepted:
            self.accepted_units += units
            self.accepted_tids.add(tid)

    @rule(minutes=st.integers(1, 3 * 24 * 60), point=points)
    def run(self, minutes: int, point: LoadPoint) -> None:
        registers = self.meter.metering.registers
        before = (registers.import_j[0], registers.export_j[0])
        self.meter.advance(self.meter.clock + timedelta(minutes=minutes), point)
        after = (registers.import_j[0], registers.export_j[0])
        self.standing = point
        if point.active_w > 0:
            assert after[1] == before[1], "an import step changed -A"
        else:
            assert after[0] == before[0], "an export step changed +A"
        self._asked(minutes)

    def _asked(self, minutes: int) -> None:
        """What the standing load asked for in ``minutes``."""
        seconds = minutes * 60
        if self.standing.active_w > 0:
            self.import_asked += self.standing.active_w * seconds
        else:
            self.export_asked += -self.standing.active_w * seconds

    @rule(command=st.sampled_from(["disconnect", "reconnect"]), remote=st.booleans())
    def relay(self, command: str, remote: bool) -> None:
        with contextlib.suppress(FunctionError):  # the mode or state refuses it: no change
            self.meter.relay(command, remote=remote)

    @rule(kind=st.sampled_from(["meter_cover", "magnetic", "tamper"]))
    def tamper(self, kind: str) -> None:
        self.meter.tamper(kind, clear=kind == "tamper")

    @rule(mode=st.sampled_from(["prepaid", "postpaid"]))
    def payment_mode(self, mode: str) -> None:
        self.meter.set_payment_mode(mode)

    @rule(pin=st.sampled_from(["4321", "1234"]), mode=st.sampled_from("01"))
    def keypad_mode_switch(self, pin: str, mode: str) -> None:
        before = self.meter.metering.guard.postpaid
        answer = self.meter.engineering_entry(f"18{pin}{mode}")
        if pin != "4321":
            assert answer.result is not ResultCode.ACCEPT
            assert self.meter.metering.guard.postpaid == before

    @rule(on=st.booleans())
    def tariff_input(self, on: bool) -> None:
        assert self.meter.tariff_input(on) == (
            6 if on else self.meter.metering.rate_at(self.meter.clock)
        )

    @rule(active=st.booleans())
    def fire_alarm(self, active: bool) -> None:
        with contextlib.suppress(RangeError):  # clearing an input that is not active
            self.meter.tamper("fire_alarm", clear=not active)

    @rule(minutes=st.integers(-180, 180))
    def set_clock(self, minutes: int) -> None:
        with contextlib.suppress(RangeError):  # back across local midnight is refused
            self.meter.set_clock(self.meter.clock + timedelta(minutes=minutes))
            if minutes > 0:  # forward runs the meter on with its standing load
                self._asked(minutes)

    @rule()
    def reload(self) -> None:
        before = meter_state.dumps(self.meter)
        self.meter = meter_state.loads(before)
        assert meter_state.dumps(self.meter) == before

    # -- invariants ---------------------------------------------------------------------

    @invariant()
    def energy_is_conserved_across_registers(self) -> None:
        r = self.meter.metering.registers
        assert sum(r.import_j[1:]) == r.import_j[0]
        assert sum(r.export_j[1:]) == r.export_j[0]
        assert r.import_j[0] == self.meter.engine.state.ledger.delivered_j
        assert r.import_j[0] <= self.import_asked
        assert r.export_j[0] <= self.export_asked

    @invariant()
    def no_credit_without_an_accepted_token(self) -> None:
        s = self.meter.engine.state
        ledger = s.ledger
        assert ledger.energy_credited_j == self.accepted_units * J_PER_UNIT
        assert ledger.export_credited_j == 0
        owed = s.emergency_used_j + s.debt_j
        assert ledger.imbalances(s.energy_j, s.money, owed, s.money_debt) == []

    @invariant()
    def the_relay_never_closes_against_a_rule(self) -> None:
        s = self.meter.engine.state
        guard = self.meter.metering.guard
        if s.relay_closed:
            assert guard.hold() is None
            assert not guard.fire
            assert guard.disconnect.state is ControlState.CONNECTED
            assert not s.tamper
            assert not s.relay_reason.opens


WholeMeter.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_whole_meter_state_machine = WholeMeter.TestCase
