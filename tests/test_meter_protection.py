"""Events, tamper, self-protection, load control and payment mode scenarios (issue 9,
datasheet 'Event', 'Anti Tamper', 'Alarm', 'Load control' and 'Prepayment' lines).

Figures by hand: 1 kW for an hour is 1000 Wh; 10 kW at 230 V is 43.48 A.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from sts.errors import FormatError, FunctionError, RangeError
from sts.meter import state as meter_state
from sts.meter.disconnect import ControlState, DisconnectControl, Trigger
from sts.meter.event_logs import Code, LogName
from sts.meter.load import RelayReason
from sts.meter.measurement import LoadModel, LoadPoint
from sts.meter.metering import Metering
from tests.meter_helpers import make_meter, reading

T0 = datetime(2026, 5, 4, tzinfo=UTC)
HOUR = timedelta(hours=1)


def guarded(units: int = 9000, **protection: object):
    metering = Metering.from_settings({"protection": protection})
    return make_meter(T0, units=units, metering=metering)


def codes(meter, log: str) -> list[tuple[int, int]]:
    """(code, seconds after T0) of every entry in one log."""
    start = int(T0.timestamp())
    return [(e.code, e.at - start) for e in meter.metering.guard.logs.log(log)]


def relay(meter) -> tuple[bool, RelayReason]:
    s = meter.engine.state
    return s.relay_closed, s.relay_reason


def test_voltage_profile_gives_power_failure_sag_and_swell_events():
    volts = [230] * 24
    volts[2], volts[3], volts[4] = 100, 200, 260  # below 115 V: off; < 207 V sag; > 253 V swell
    meter = guarded()
    meter.advance(T0 + 6 * HOUR, LoadModel.of(1000).with_voltage(volts))
    assert codes(meter, "standard") == [(1, 7200), (2, 10800)]  # power down 02:00, up 03:00
    assert codes(meter, "power_quality") == [
        (81, 7200),
        (82, 10800),
        (76, 10800),
        (77, 14400),
        (78, 18000),
    ]
    # no supply from 02:00 to 03:00: 5 of the 6 hours delivered
    assert reading(meter, "1.0.1.8.0.255") == 5000
    assert meter.engine.state.ledger.delivered_j == 5 * 3_600_000


def test_covers_and_magnet_are_fraud_events_that_open_the_relay_until_cleared():
    meter = guarded()
    meter.advance(T0 + HOUR, 1000)
    meter.tamper("meter_cover", T0 + HOUR)
    assert relay(meter) == (False, RelayReason.TAMPER)
    meter.advance(T0 + 2 * HOUR)
    meter.tamper("magnetic", T0 + 2 * HOUR)
    meter.tamper("tamper", T0 + 3 * HOUR, clear=True)
    assert relay(meter) == (True, RelayReason.CREDIT)
    meter.advance(T0 + 4 * HOUR)
    assert codes(meter, "fraud") == [(44, 3600), (47, 7200), (50, 10800)]
    fraud = meter.metering.guard.logs.log("fraud")
    assert fraud[0].detail == "with power, injected"
    assert reading(meter, "1.0.1.8.0.255") == 2000  # 00-01 and 03-04
    assert meter.short_code("8") == ["Tamper none"]


def test_a_cover_opened_during_a_power_failure_is_logged_without_power():
    meter = guarded()
    meter.advance(T0 + HOUR, LoadPoint(0, voltage_v=D(0)))
    meter.tamper("terminal_cover", T0 + HOUR)
    (entry,) = meter.metering.guard.logs.log(LogName.FRAUD)
    assert (entry.code, entry.detail) == (40, "without power, injected")


def test_current_reversal_is_fraud_only_where_configured():
    plain = guarded()
    plain.advance(T0 + HOUR, -1000)
    assert codes(plain, "fraud") == [] and reading(plain, "1.0.2.8.0.255") == 1000
    strict = guarded(reverse_current_fraud=True)
    strict.advance(T0 + HOUR, -1000)
    assert codes(strict, "fraud") == [(48, 0)]
    assert relay(strict) == (False, RelayReason.TAMPER)
    assert reading(strict, "1.0.2.8.0.255") == 0  # opened before anything flowed


def test_neutral_current_mismatch_is_detected():
    meter = guarded()
    meter.advance(T0 + HOUR, LoadPoint(2300, neutral_a=D("7.5")))  # 10.00 A vs 7.50 A
    (entry,) = meter.metering.guard.logs.log("fraud")
    assert (entry.code, entry.detail) == (49, "with power, phase 10.00 A, neutral 7.50 A")
    assert relay(meter) == (False, RelayReason.TAMPER)


def test_over_current_trips_reconnects_then_locks_out_until_the_button():
    # 10 kW at 230 V = 43.48 A > 40 A: trips at 0, 60 and 120 s (reconnect delay 60 s);
    # the third trip within 600 s locks out for 1800 s; control mode 1 then waits for
    # the customer's button.
    meter = guarded(over_current_a="40", lockout_s=1800)
    meter.advance(T0 + timedelta(seconds=30), 10_000)
    assert relay(meter) == (False, RelayReason.OVER_CURRENT)
    meter.advance(T0 + timedelta(seconds=200))
    assert relay(meter) == (False, RelayReason.OVER_CURRENT_LOCKOUT)
    assert codes(meter, "power_quality") == [(80, 0), (80, 60), (80, 120)]
    assert meter.metering.guard.disconnect.state is ControlState.READY_FOR_RECONNECTION
    meter.advance(T0 + timedelta(seconds=2000), 2000)  # lock-out over at 1920 s
    assert relay(meter) == (False, RelayReason.DISCONNECTED)
    assert reading(meter, "1.0.1.8.0.255") == 0
    assert meter.relay("reconnect", now=T0 + timedelta(seconds=2000)) == "connected"
    meter.advance(T0 + timedelta(seconds=3800))  # 2 kW for 1800 s = 1000 Wh
    assert reading(meter, "1.0.1.8.0.255") == 1000


def test_over_current_lockout_reconnects_by_itself_in_control_mode_5():
    meter = guarded(over_current_a="40", lockout_s=1800, control_mode=5)
    meter.advance(T0 + timedelta(seconds=200), 10_000)
    meter.advance(T0 + timedelta(seconds=1920), 2000)  # lock-out over at 120 + 1800 s
    meter.advance(T0 + timedelta(seconds=1920 + 1800))
    assert relay(meter) == (True, RelayReason.CREDIT)
    assert reading(meter, "1.0.1.8.0.255") == 1000
    assert [c for c, _ in codes(meter, "security")] == [106, 107]


@pytest.mark.parametrize(("mode", "after_normal_wh"), [(1, 3000), (5, 5000)])
def test_abnormal_voltage_control(mode: int, after_normal_wh: int):
    # 1 kW 00-06, a sag from 03:00 to 04:00: the relay opens at 03:00; in mode 5 it
    # closes again at 04:00 (5 kWh), in mode 1 it waits for the button (3 kWh)
    volts = [230] * 24
    volts[3] = 200
    meter = guarded(open_on_abnormal_voltage=True, control_mode=mode)
    meter.advance(T0 + 6 * HOUR, LoadModel.of(1000).with_voltage(volts))
    assert reading(meter, "1.0.1.8.0.255") == after_normal_wh


def test_malfunction_control_opens_when_configured_and_recloses_in_mode_6():
    meter = guarded(open_on_malfunction=True, control_mode=6)
    meter.advance(T0 + HOUR, 1000)
    meter.tamper("relay_error", T0 + HOUR)
    assert relay(meter) == (False, RelayReason.MALFUNCTION)
    meter.tamper("relay_error", T0 + 2 * HOUR, clear=True)
    assert relay(meter) == (True, RelayReason.CREDIT)
    meter.advance(T0 + 3 * HOUR)
    assert reading(meter, "1.0.1.8.0.255") == 2000
    assert codes(meter, "failure") == [(91, 3600), (94, 7200)]
    ignored = guarded()
    ignored.tamper("battery_low", T0)
    assert relay(ignored)[0] is True and codes(ignored, "failure") == [(92, 0)]


def test_remote_and_manual_commands_follow_the_control_mode():
    meter = guarded()  # mode 1
    assert meter.relay("disconnect", remote=True, now=T0) == "disconnected"
    assert relay(meter) == (False, RelayReason.DISCONNECTED)
    assert meter.relay("reconnect", remote=True, now=T0 + HOUR) == "ready_for_reconnection"
    assert relay(meter)[0] is False
    assert meter.relay("reconnect", now=T0 + 2 * HOUR) == "connected"
    assert relay(meter)[0] is True
    assert [c for c, _ in codes(meter, "security")] == [105, 105, 105]
    with pytest.raises(FunctionError, match="manual reconnect is not possible in state connected"):
        meter.relay("reconnect", now=T0 + 2 * HOUR)
    direct = guarded(control_mode=2)
    direct.relay("disconnect", remote=True, now=T0)
    assert direct.relay("reconnect", remote=True, now=T0) == "connected"
    fixed = guarded(control_mode=0)
    with pytest.raises(FunctionError, match="control mode 0"):
        fixed.relay("disconnect", remote=True, now=T0)


@pytest.mark.parametrize(
    ("mode", "trigger", "allowed"),
    [
        (3, Trigger.MANUAL_DISCONNECT, False),
        (4, Trigger.MANUAL_DISCONNECT, False),
        (6, Trigger.MANUAL_DISCONNECT, False),
        (5, Trigger.MANUAL_DISCONNECT, True),
        (1, Trigger.LOCAL_DISCONNECT, True),
        (0, Trigger.LOCAL_DISCONNECT, False),
    ],
)
def test_class_70_disconnects_allowed_per_mode(mode: int, trigger: Trigger, allowed: bool):
    assert DisconnectControl(mode).allows(trigger) is allowed


def test_postpaid_meters_bill_energy_without_credit_and_the_switch_is_logged():
    meter = guarded(units=0, payment_mode="postpaid")
    assert relay(meter) == (True, RelayReason.POSTPAID)
    meter.advance(T0 + 2 * HOUR, 1000)
    assert reading(meter, "1.0.1.8.0.255") == 2000
    s = meter.engine.state
    assert (s.energy_j, s.ledger.postpaid_j) == (0, 7_200_000)
    assert s.ledger.imbalances(s.energy_j, s.money, 0, s.money_debt) == []
    meter.set_payment_mode("prepaid", T0 + 2 * HOUR)
    assert relay(meter) == (False, RelayReason.NO_CREDIT)
    meter.advance(T0 + 3 * HOUR)
    assert reading(meter, "1.0.1.8.0.255") == 2000  # registers kept, nothing more delivered
    (entry,) = meter.metering.guard.logs.log("security")
    assert (entry.code, entry.detail) == (104, "postpaid -> prepaid (head end)")
    assert meter.short_code("17") == ["Control connected", "Mode 1 prepaid"]


def test_the_alarm_set_is_configurable_and_shown_on_the_keypad():
    meter = guarded(over_current_a="40", alarm_codes=[80])
    meter.tamper("module_cover", T0)
    assert meter.short_code("15") == ["No alarm"]  # 46 is not in this meter's alarm set
    meter.tamper("tamper", T0, clear=True)
    meter.advance(T0 + HOUR, 10_000)
    # 10 kW trips at 0, 60 and 120 s, then locks out: three over-current alarms
    assert meter.short_code("15") == ["ALARM (3)", "Over current"]
    assert meter.short_code("16") == ["Alarm acknowledged (3)"]
    assert meter.short_code("15") == ["No alarm"]


def test_rejected_tokens_and_parameter_tokens_are_security_events():
    meter = guarded()
    meter.enter_token("1234 5678 9012 3456 7890", T0)
    (entry,) = meter.metering.guard.logs.log("security")
    assert entry.code == Code.TOKEN_REJECTED


def test_protection_state_round_trips_and_refuses_bad_data():
    meter = guarded(over_current_a="40")
    meter.advance(T0 + timedelta(seconds=100), 10_000)
    meter.tamper("memory_error", T0 + timedelta(seconds=100))
    again = meter_state.loads(meter_state.dumps(meter))
    assert again.metering.guard.to_dict() == meter.metering.guard.to_dict()
    document = meter_state.to_document(meter)
    document["meter"]["metering"]["protection"]["logs"]["fraud"].append([90, 0, "x"])
    with pytest.raises(FormatError, match=r"protection.logs.fraud\[0\] has code 90"):
        meter_state.from_document(document)
    document = meter_state.to_document(meter)
    document["meter"]["metering"]["protection"]["payment_mode"] = "credit"
    with pytest.raises(FormatError, match="payment_mode is 'credit'"):
        meter_state.from_document(document)
    with pytest.raises(FormatError, match=r"protection.control_mode is 7"):
        Metering.from_settings({"protection": {"control_mode": 7}})
    with pytest.raises(FormatError, match="tamper kind 'smoke'"):
        meter.tamper("smoke")


def test_a_time_synchronisation_is_a_standard_and_a_security_event():
    meter = guarded()
    meter.synchronise_clock(T0 + timedelta(minutes=5))
    assert codes(meter, "standard") == [(3, 300)]
    assert codes(meter, "security") == [(101, 300)]
    assert meter.clock == T0 + timedelta(minutes=5)
    with pytest.raises(RangeError, match="never goes backwards"):
        meter.synchronise_clock(T0)
