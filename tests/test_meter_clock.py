"""Clock synchronisation (issue 9, datasheet 'Event': "time synchronization" in the
standard log, "clock adjust" in the security log): the clock set forward and back.

By hand: 1000 W is 250 Wh a quarter hour. A meter made at 00:00 running 1000 W has
12000 Wh at 12:00; set back to 11:30, it runs on to 12:30 (one more hour, 13000 Wh), and
its 15-minute survey, which had captured 12:00, captures next when its clock reads 12:15
(12750 Wh) and 12:30 (13000 Wh).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from cli import main
from sts.codec import encode
from sts.errors import RangeError
from sts.meter import state as meter_state
from sts.meter.metering import Metering
from sts.results import ResultCode
from sts.tokens.credit import CreditKind, TransferCredit
from sts.tokens.tid import BaseDate, tid_from_datetime
from tests.meter_helpers import KEY, make_meter, reading

T0 = datetime(2026, 5, 4, tzinfo=UTC)
NOON = T0 + timedelta(hours=12)
MINUTE = timedelta(minutes=1)


def surveyed():
    metering = Metering.from_settings(
        {"surveys": [{"channels": ["1.0.1.8.0.255"], "period_min": 15, "capacity": 200}]}
    )
    return make_meter(T0, units=9000, metering=metering)


def token(at: datetime, rnd: int = 0) -> str:
    tid = tid_from_datetime(at, BaseDate.Y2014)
    return encode(TransferCredit.for_units(CreditKind.ELECTRICITY, 10, tid, rnd), KEY)


def test_a_clock_set_back_carries_on_without_capturing_a_row_twice():
    meter = surveyed()
    meter.advance(NOON, 1000)
    meter.set_clock(NOON - 30 * MINUTE)
    assert meter.clock == meter.engine.status().at == NOON - 30 * MINUTE
    meter.advance(NOON + 30 * MINUTE)
    assert reading(meter, "1.0.1.8.0.255") == 13000
    rows = meter.metering.survey(1).rows()
    noon = int(NOON.timestamp())
    assert rows[-3:] == [(noon, (12000,)), (noon + 900, (12750,)), (noon + 1800, (13000,))]
    times = [t for t, _ in rows]
    assert times == sorted(set(times))
    standard = meter.metering.guard.logs.log("standard")
    security = meter.metering.guard.logs.log("security")
    assert [(e.code, e.at - noon) for e in standard] == [(3, -1800)]
    assert [(e.code, e.at - noon) for e in security] == [(101, -1800)]
    assert security[0].detail == (
        "2026-05-04T12:00:00+00:00 -> 2026-05-04T11:30:00+00:00 (-1800 s, head end)"
    )
    # what the file holds after a clock set back loads again
    assert meter_state.loads(meter_state.dumps(meter)).clock == NOON + 30 * MINUTE


def test_a_clock_set_back_never_lets_a_used_token_in_again():
    meter = surveyed()
    used = token(NOON - 10 * MINUTE)
    assert meter.enter_token(used, NOON).result is ResultCode.ACCEPT
    meter.set_clock(NOON - 20 * MINUTE)  # before the token's own TID now
    again = meter.enter_token(used)
    assert again.result is ResultCode.USED
    # a token made in the minutes the clock now repeats is a new one: its TID decides
    assert meter.enter_token(token(NOON - 15 * MINUTE, 1)).result is ResultCode.ACCEPT


def test_a_clock_set_back_keeps_what_is_left_of_the_keypad_lock():
    meter = surveyed()
    meter.advance(NOON)
    for _ in range(3):  # three wrong entries: locked for 10 s
        meter.enter_token("1111 1111 1111 1111 1111")
    meter.set_clock(NOON - 5 * MINUTE)
    lockout = meter.decoder.lockout
    assert lockout.remaining(meter.clock) == timedelta(seconds=10)
    assert lockout.is_locked(meter.clock + timedelta(seconds=9))
    assert not lockout.is_locked(meter.clock + timedelta(seconds=10))


def test_a_clock_set_back_keeps_the_over_current_timer():
    metering = Metering.from_settings({"protection": {"over_current_a": "40"}})
    meter = make_meter(T0, units=9000, metering=metering)
    meter.advance(NOON, 1000)
    meter.advance(NOON + 10 * timedelta(seconds=1), 10_000)  # 43.48 A trips at 12:00:00
    meter.set_clock(NOON - 5 * MINUTE)
    # the 60 s reconnect delay had 50 s left; it still has
    assert meter.metering.guard.reconnect_at == int((NOON - 5 * MINUTE).timestamp()) + 50


def test_the_clock_is_set_back_within_its_day_only_and_forward_runs_the_meter():
    meter = surveyed()
    meter.advance(T0 + 10 * MINUTE, 1000)
    with pytest.raises(RangeError, match="not on the meter's local day 2026-05-04"):
        meter.set_clock(T0 - 10 * MINUTE)
    assert meter.clock == T0 + 10 * MINUTE  # refused before anything changed
    meter.set_clock(T0 + 70 * MINUTE)  # forward: an hour at the standing 1000 W
    assert reading(meter, "1.0.1.8.0.255") == 1166  # 70 min at 1000 W = 1166.67 Wh
    with pytest.raises(RangeError, match="never goes backwards by synchronise_clock"):
        meter.synchronise_clock(T0)


def test_sts_meter_clock_sets_shows_and_refuses(tmp_path):
    path = tmp_path / "m.json"
    meter_state.save(surveyed(), path)
    runner = CliRunner()
    done = runner.invoke(main, ["meter", "clock", str(path), "--set", "+2h", "--json"])
    assert done.exit_code == 0, done.output
    assert '"clock": "2026-05-04T02:00:00+00:00"' in done.output
    done = runner.invoke(main, ["meter", "clock", str(path), "--back", "90m", "--json"])
    assert '"clock": "2026-05-04T00:30:00+00:00"' in done.output
    done = runner.invoke(main, ["meter", "clock", str(path), "--back", "1h"])
    assert done.exit_code == 1
    assert "not on the meter's local day" in done.output
    done = runner.invoke(main, ["meter", "clock", str(path), "--back", "1m", "--sync"])
    assert done.exit_code == 2
    security = meter_state.load(path).metering.guard.logs.log("security")
    assert [e.code for e in security] == [101, 101]
