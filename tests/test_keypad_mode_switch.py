"""The payment mode switch on the keypad (issue 9, datasheet 'Prepayment': "Configurable
prepayment and post-payment mode"): ``18`` + the utility's PIN + ``0``/``1`` and Enter.

By hand: PIN 4321, so "18" "4321" "1" is the 7-digit entry 1843211 (postpaid) and
1843210 (prepaid). Three wrong entries lock the keypad for 10 s (DESIGN.md 3).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sts.errors import FormatError
from sts.meter import state as meter_state
from sts.meter.keypad import EntryKind, Keypad
from sts.meter.load import RelayReason
from sts.meter.metering import Metering
from sts.results import ResultCode
from tests.meter_helpers import make_meter, reading

T0 = datetime(2026, 5, 4, tzinfo=UTC)
HOUR = timedelta(hours=1)


def meter_with_pin(pin: str | None = "4321", units: int = 0):
    protection = {} if pin is None else {"mode_switch_pin": pin}
    return make_meter(T0, units=units, metering=Metering.from_settings({"protection": protection}))


def key_in(pad: Keypad, entry: str, at: datetime):
    for key in entry:
        pad.press(key, at)
    return pad.press("E", at).submission


def security(meter) -> list[tuple[int, str]]:
    return [(e.code, e.detail) for e in meter.metering.guard.logs.log("security")]


def test_the_engineer_switches_to_postpaid_and_back_on_the_keypad_keeping_registers():
    meter = meter_with_pin()
    assert meter.engine.state.relay_reason is RelayReason.NO_CREDIT  # prepaid, no credit
    pad = Keypad(meter)
    done = key_in(pad, "1843211", T0)
    assert (done.kind, done.result, done.lines) == (
        EntryKind.ENGINEERING,
        ResultCode.ACCEPT,
        ("Mode postpaid", "was prepaid"),
    )
    assert meter.engine.state.relay_reason is RelayReason.POSTPAID
    meter.advance(T0 + HOUR, 1000)  # billed afterwards: 1000 Wh with no credit
    done = key_in(pad, "1843210", T0 + HOUR)
    assert done.lines == ("Mode prepaid", "was postpaid")
    meter.advance(T0 + 2 * HOUR)
    assert reading(meter, "1.0.1.8.0.255") == 1000  # kept; nothing more without credit
    assert security(meter) == [
        (104, "prepaid -> postpaid (keypad)"),
        (104, "postpaid -> prepaid (keypad)"),
    ]
    assert key_in(pad, "1843210", T0 + 2 * HOUR).lines == ("Mode prepaid", "unchanged")
    again = meter_state.loads(meter_state.dumps(meter))
    assert again.metering.guard.config.mode_switch_pin == "4321"


def test_a_wrong_pin_says_format_counts_towards_the_lockout_and_is_logged():
    meter = meter_with_pin()
    pad = Keypad(meter)
    for _ in range(3):
        done = key_in(pad, "1812341", T0)
        assert (done.result, done.lines[0]) == (ResultCode.FORMAT, "Format")
    assert meter.decoder.lockout.failures == 3
    # locked for 10 s now: even the right PIN is refused until then
    done = key_in(pad, "1843211", T0 + timedelta(seconds=5))
    assert (done.result, done.lines) == (ResultCode.LOCKOUT, ("Lockout", "locked 5 s"))
    assert meter.metering.guard.postpaid is False
    done = key_in(pad, "1843211", T0 + timedelta(seconds=10))
    assert done.result is ResultCode.ACCEPT
    assert meter.decoder.lockout.failures == 0  # an accepted entry clears the counter
    assert [c for c, _ in security(meter)] == [108, 108, 108, 104]
    # a mode digit other than 0 or 1 is as wrong as a wrong PIN
    assert key_in(pad, "1843212", T0 + timedelta(seconds=11)).result is ResultCode.FORMAT


def test_without_a_pin_the_meter_has_no_keypad_switch():
    meter = meter_with_pin(None)
    done = key_in(Keypad(meter), "1843211", T0)
    assert (done.result, done.lines) == (ResultCode.FUNCTION, ("Function", "no keypad mode switch"))
    assert meter.decoder.lockout.failures == 0
    # an entry of that length not starting 18 never reaches the meter
    done = key_in(Keypad(meter), "2843211", T0)
    assert (done.kind, done.result) == (EntryKind.WRONG_LENGTH, ResultCode.FORMAT)


@pytest.mark.parametrize("pin", ["123", "123456789", "12a4", 1234])
def test_the_pin_setting_is_checked(pin: object):
    with pytest.raises(FormatError, match="mode_switch_pin"):
        Metering.from_settings({"protection": {"mode_switch_pin": pin}})


def test_engineering_entries_of_a_wrong_shape_are_format_errors():
    meter = meter_with_pin()
    for entry in ("123", "18" * 10, "18x4321"):
        with pytest.raises(FormatError, match="is not 4 to 19 digits"):
            meter.engineering_entry(entry)


def test_the_keypad_screen_shows_fire_as_the_alarm_and_the_relay_reason():
    from sts.meter.keypad_app import indicators

    meter = meter_with_pin(units=100)
    meter.tamper("fire_alarm", T0)
    shown = indicators(meter.status())
    assert shown["meter-alarm"] == ("ALARM: fire alarm (1; code 16 acknowledges)", "bad")
    assert shown["relay"] == ("Relay: OPEN (fire)", "bad")
    assert meter.short_code("15") == ["ALARM (1)", "Fire alarm"]
