"""A hypothesis state machine types tokens into a whole simulated meter.

Where ``test_meter_stateful`` drives the credit engine directly, this one goes
through the keypad path a customer uses: 20-digit tokens made by the token
engine (fresh, old, replayed, made under the wrong key, or random digits),
class 1 test tokens, consumption and clock jumps. After every step it checks
what a real meter must guarantee:

- no credit appears without an accepted token: the meter's lifetime credited
  energy equals the sum of the units of the credit tokens it accepted;
- no TID is accepted twice, and no token is accepted twice;
- a rejected token changes no register (only the lockout counter);
- wallets never go negative.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from sts.codec import encode
from sts.crypto.keys import DecoderKey
from sts.meter import Meter
from sts.results import ResultCode
from sts.tokens.credit import CreditKind, TransferCredit
from sts.tokens.tid import BaseDate, tid_from_datetime

# CTSA03's decoder key (sts-reference 7.2) and CTSA05's next key as the "wrong" one.
METER_KEY = DecoderKey.from_hex("E653341F9D5BF36F")
WRONG_KEY = DecoderKey.from_hex("060B8643C59A27F1")
MADE = datetime(2025, 1, 1, 8, 0, tzinfo=UTC)
# The Eskom "display KRN" token (class 1, mfr 00): every meter accepts it.
SHOW_KRN = "18446744073843772416"


def _registers(meter: Meter) -> tuple[Decimal, ...]:
    credit = meter.status().credit
    return (
        credit.energy_kwh,
        credit.money,
        credit.debt_kwh,
        credit.debt_money,
        credit.emergency_used_kwh,
        credit.totals.energy_credited_kwh,
        credit.totals.money_credited,
    )


class MeterTakingTokens(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.meter = Meter.manufacture(
            drn="47500150231", manufactured=MADE, key=METER_KEY, sgc=123456, tid_memory=8
        )
        self.typed: list[str] = []
        self.accepted_digits: set[str] = set()
        self.accepted_tids: set[int] = set()
        self.credited_units = 0

    def _enter(self, digits: str) -> ResultCode:
        before = _registers(self.meter)
        outcome = self.meter.enter_token(digits)
        self.typed.append(digits)
        if outcome.result is ResultCode.ACCEPT:
            assert digits not in self.accepted_digits, f"token {digits} accepted twice"
            self.accepted_digits.add(digits)
            token = outcome.token
            if isinstance(token, TransferCredit):
                assert token.tid not in self.accepted_tids, f"TID {token.tid} accepted twice"
                self.accepted_tids.add(token.tid)
                self.credited_units += token.units
        elif not outcome.accepted:
            assert _registers(self.meter) == before, f"rejected {digits} changed registers"
        return outcome.result

    def _credit(self, key: DecoderKey, units: int, minutes_ago: int, rnd: int) -> str:
        issued = self.meter.clock - timedelta(minutes=minutes_ago)
        tid = tid_from_datetime(issued, BaseDate.Y2014)
        return encode(TransferCredit.for_units(CreditKind.ELECTRICITY, units, tid, rnd), key)

    @rule(
        units=st.integers(1, 3000),
        minutes_ago=st.integers(0, 60 * 24 * 40),
        rnd=st.integers(0, 15),
    )
    def credit_token(self, units: int, minutes_ago: int, rnd: int) -> None:
        self._enter(self._credit(METER_KEY, units, minutes_ago, rnd))

    @rule(units=st.integers(1, 3000), rnd=st.integers(0, 15))
    def credit_under_the_wrong_key(self, units: int, rnd: int) -> None:
        result = self._enter(self._credit(WRONG_KEY, units, 0, rnd))
        assert result in (ResultCode.CRC, ResultCode.LOCKOUT)

    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        # _enter asserts that a token accepted before is not accepted again.
        if self.typed:
            self._enter(data.draw(st.sampled_from(self.typed)))

    @rule(digits=st.text(alphabet="0123456789", min_size=20, max_size=20))
    def random_digits(self, digits: str) -> None:
        self._enter(digits)

    @rule()
    def test_token(self) -> None:
        before = _registers(self.meter)
        outcome = self.meter.enter_token(SHOW_KRN)
        assert outcome.result is ResultCode.ACCEPT  # class 1 works even during lockout
        assert _registers(self.meter) == before

    @rule(minutes=st.integers(1, 60 * 24 * 3), watts=st.sampled_from([0, 300, 2000, 6000]))
    def consume(self, minutes: int, watts: int) -> None:
        self.meter.advance(self.meter.clock + timedelta(minutes=minutes), watts)

    @invariant()
    def credit_comes_only_from_accepted_tokens(self) -> None:
        credited = self.meter.status().credit.totals.energy_credited_kwh
        assert credited == Decimal(self.credited_units) / 10

    @invariant()
    def wallets_never_negative(self) -> None:
        credit = self.meter.status().credit
        assert credit.energy_kwh >= 0
        assert credit.money >= 0


MeterTakingTokens.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestMeterTakingTokens = MeterTakingTokens.TestCase
