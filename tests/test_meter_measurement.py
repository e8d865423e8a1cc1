"""Measurement scenarios (issue 9, datasheet 'Measurement' and 'Prepayment' lines).

Every expected figure is worked by hand in the comment beside it; 3-4-5
triangles (P 1600 W, Q 1200 var, S 2000 VA; or 1840/1380/2300) keep them exact.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from sts.errors import FormatError, RangeError
from sts.meter import state as meter_state
from sts.meter.measurement import Instant, LoadModel, LoadPoint, SupplyConfig
from sts.meter.metering import Metering, MeteringConfig
from sts.meter.obis import ObisCode, Unit, spec_of
from tests.meter_helpers import make_meter, reading

T0 = datetime(2026, 5, 4, 0, 0, tzinfo=UTC)  # a Monday


def test_instantaneous_values_of_a_3_4_5_load_at_230_v():
    # S = sqrt(1840^2 + 1380^2) = 2300 VA; I = 2300 / 230 = 10 A; PF = 1840 / 2300 = 0.8;
    # angle = atan(1380 / 1840) = atan(0.75) = 36.87 degrees
    i = Instant.of(LoadPoint(1840, 1380), SupplyConfig(), relay_closed=True)
    assert (i.voltage_v, i.current_a, i.apparent_va) == (D("230.0"), D("10.00"), 2300)
    assert (i.power_factor, i.angle_deg, i.frequency_hz) == (D("0.800"), D("36.9"), D("50.00"))
    assert i.neutral_a == D("10.00") and i.quadrant == 1


def test_110_v_rating_at_60_hz_and_the_operating_ranges():
    # 1100 W at 110 V: 10 A; operating range 80-120 % of 110 V = 88-132 V
    supply = SupplyConfig(D(110), 60)
    i = Instant.of(LoadPoint(1100), supply, relay_closed=True)
    assert (i.current_a, i.frequency_hz, i.power_factor) == (D("10.00"), D("60.00"), D("1.000"))
    assert supply.operating_range_v == (D("88.0"), D("132.0"))
    assert SupplyConfig().operating_range_v == (D("115.0"), D("276.0"))  # 50-120 % of 230 V
    with pytest.raises(RangeError, match="200 V"):
        SupplyConfig(D(200))
    with pytest.raises(RangeError, match="55"):
        SupplyConfig(frequency_hz=55)


def test_four_quadrants_fill_their_own_registers_and_only_import_draws_credit():
    meter = make_meter(T0, units=100)  # 10 kWh
    hour = timedelta(hours=1)
    for k, point in enumerate(
        (
            LoadPoint(1600, 1200),
            LoadPoint(-1600, 1200),
            LoadPoint(-1600, -1200),
            LoadPoint(1600, -1200),
        )
    ):
        meter.advance(T0 + (k + 1) * hour, point)
    # Q1 and Q4 import 1.6 kWh each; Q2 and Q3 export 1.6 kWh each; each hour 1.2 kvarh, 2 kVAh
    expected = {
        "1.0.1.8.0.255": 3200,
        "1.0.2.8.0.255": 3200,
        "1.0.15.8.0.255": 6400,
        "1.0.5.8.0.255": 1200,
        "1.0.6.8.0.255": 1200,
        "1.0.7.8.0.255": 1200,
        "1.0.8.8.0.255": 1200,
        "1.0.9.8.0.255": 4000,
        "1.0.10.8.0.255": 4000,
    }
    assert {code: reading(meter, code) for code in expected} == expected
    assert meter.engine.status().energy_kwh == D("6.800")  # 10 - 3.2 imported
    # the last point is Q4: angle atan2(-1200, 1600) = -36.87 degrees, PF 0.8
    assert reading(meter, "1.0.81.7.40.255") == -369
    assert reading(meter, "1.0.13.7.0.255") == 800


def test_export_does_not_add_credit_unless_net_metering_is_on():
    # 1 kWh in the wallet, 2 kW exported for one hour = 2 kWh of -A
    off = make_meter(T0, units=10)
    off.advance(T0 + timedelta(hours=1), -2000)
    assert reading(off, "1.0.2.8.0.255") == 2000
    assert off.engine.status().energy_kwh == D("1.000")
    on = make_meter(T0, units=10, metering=Metering(MeteringConfig(net_metering=True)))
    on.advance(T0 + timedelta(hours=1), -2000)
    assert reading(on, "1.0.2.8.0.255") == 2000
    assert on.engine.status().energy_kwh == D("3.000")  # 1 + 2 kWh exported
    s = on.engine.state
    assert s.ledger.export_credited_j == 7_200_000
    assert (
        s.ledger.imbalances(s.energy_j, s.money, s.emergency_used_j + s.debt_j, s.money_debt) == []
    )


def test_import_registers_stop_with_the_relay_when_credit_runs_out():
    # 1 kWh of credit at 2 kW lasts 30 minutes: +A 1000 Wh; Q1 1000 var for 30 min = 500 varh
    meter = make_meter(T0, units=10)
    meter.advance(T0 + timedelta(hours=1), LoadPoint(2000, 1000))
    assert meter.engine.state.relay_closed is False
    assert reading(meter, "1.0.1.8.0.255") == 1000
    assert reading(meter, "1.0.5.8.0.255") == 500
    assert meter.engine.state.ledger.delivered_j == meter.metering.registers.import_j[0]
    assert reading(meter, "1.0.31.7.0.255") == 0  # no current through an open relay
    # and export is not measured through an open relay either
    meter.advance(T0 + timedelta(hours=2), -1000)
    assert reading(meter, "1.0.2.8.0.255") == 0


def test_voltage_profile_and_a_neutral_current_that_differs():
    volts = [230] * 24
    volts[3] = 207  # 90 % of 230 V from 03:00 to 04:00
    model = LoadModel.of(2070).with_voltage(volts)
    meter = make_meter(T0, units=200)  # 20 kWh: enough for 2.07 kW for 5 hours (10.35 kWh)
    meter.advance(T0 + timedelta(hours=3, minutes=30), model)
    assert reading(meter, "1.0.32.7.0.255") == 2070  # 207.0 V with scaler -1
    assert reading(meter, "1.0.31.7.0.255") == 1000  # 2070 W / 207 V = 10.00 A
    meter.advance(T0 + timedelta(hours=4, minutes=30))
    assert reading(meter, "1.0.32.7.0.255") == 2300
    assert reading(meter, "1.0.31.7.0.255") == 900  # 2070 / 230 = 9.00 A
    # 0.2 A apart: below the 0.5 A at which the meter calls it a neutral mismatch (tamper)
    meter.advance(T0 + timedelta(hours=5), LoadPoint(2300, neutral_a=D("9.8")))
    assert (reading(meter, "1.0.31.7.0.255"), reading(meter, "1.0.91.7.0.255")) == (1000, 980)


def test_every_register_has_its_obis_code_scaler_and_dlms_unit():
    meter = make_meter(T0, units=100)
    meter.advance(T0 + timedelta(minutes=1), 2300)
    rows = {str(r.spec.obis): r for r in meter.metering.readings(meter.clock, True)}
    assert rows["1.0.32.7.0.255"].to_dict() | {"name": ""} == {
        "obis": "1.0.32.7.0.255",
        "name": "",
        "value": 2300,
        "scaler": -1,
        "unit": 35,
        "unit_symbol": "V",
        "quantity": "230.0",
    }
    assert rows["1.0.14.7.0.255"].quantity == D("50.00")
    assert spec_of("1.0.1.8.3.255").unit is Unit.WATT_HOUR
    assert ObisCode.parse("1-0:2.8.4*255") == ObisCode(1, 0, 2, 8, 4, 255)
    assert len(rows) == 9 + 16 + 10 + 2  # and the two pulse-output counts
    with pytest.raises(FormatError, match="no register"):
        spec_of("1.0.99.99.0.255")


def test_state_file_keeps_registers_and_reads_old_files_and_refuses_bad_sections():
    meter = make_meter(T0, units=100)
    meter.advance(T0 + timedelta(hours=1), LoadPoint(1600, -1200))
    again = meter_state.loads(meter_state.dumps(meter))
    assert again.metering.registers.to_dict() == meter.metering.registers.to_dict()
    assert reading(again, "1.0.8.8.0.255") == 1200
    old = meter_state.to_document(meter)
    del old["meter"]["metering"]  # a file written before metering existed
    assert meter_state.from_document(old).metering.registers.import_j[0] == 0
    bad = meter_state.to_document(meter)
    bad["meter"]["metering"]["registers"]["import_j"][1] += 1
    with pytest.raises(FormatError, match=r"metering\.registers.import_j: the rates do not add"):
        meter_state.from_document(bad)
    bad = meter_state.to_document(meter)
    bad["meter"]["metering"]["config"]["supply"]["nominal_v"] = "400"
    with pytest.raises(FormatError, match=r"metering\.config.supply"):
        meter_state.from_document(bad)
    bad = meter_state.to_document(meter)
    bad["meter"]["metering"]["load"]["extra"] = 1
    with pytest.raises(FormatError, match=r"metering\.load has an unknown key"):
        meter_state.from_document(bad)


def test_bad_loads_are_range_errors():
    with pytest.raises(RangeError, match="not a list of volts"):
        LoadModel.of(100).with_voltage(["230", "x"] * 12)
    with pytest.raises(RangeError, match=r"0\.1 V"):
        LoadModel.of(100).with_voltage(["230.05"] * 24)
    with pytest.raises(RangeError, match="neither watts"):
        LoadModel.of("lots")
    with pytest.raises(RangeError, match="beyond"):
        LoadPoint(2_000_000)
