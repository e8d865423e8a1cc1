"""Starting current and pulse output (issue 9, datasheet lines 46-48).

Every expected figure is worked by hand in the comment beside it. The
datasheet's rating is 5(100) A with a starting current of 0.4 % of Ib: 20 mA,
which at 230 V is 0.02 A * 230 V = 4.6 VA.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from click.testing import CliRunner

from cli import main
from sts.errors import FormatError, RangeError
from sts.meter import state as meter_state
from sts.meter.measurement import LoadPoint, SupplyConfig
from sts.meter.metering import Metering, MeteringConfig
from tests.meter_helpers import make_meter, reading

T0 = datetime(2026, 5, 4, 0, 0, tzinfo=UTC)
TEN_HOURS = T0 + timedelta(hours=10)


def test_datasheet_defaults():
    supply = SupplyConfig()
    assert supply.basic_current_a == D(5)
    assert supply.starting_percent == D("0.4")
    assert supply.starting_current_a == D("0.02")
    config = MeteringConfig()
    assert (config.pulse_imp_kwh, config.pulse_imp_kvarh) == (1000, 1000)


def test_a_load_below_the_starting_current_registers_nothing_and_draws_no_credit():
    # 4 W at 230 V is 4 / 230 = 17.4 mA, below 20 mA: 0 Wh for 10 hours, wallet stays 10 kWh
    meter = make_meter(T0, units=100)
    meter.advance(TEN_HOURS, 4)
    assert reading(meter, "1.0.1.8.0.255") == 0
    assert reading(meter, "1.0.9.8.0.255") == 0
    assert meter.engine.status().energy_kwh == D("10.000")
    assert meter.engine.state.ledger.delivered_j == 0
    # the instantaneous values still read: 4 W, 0.0174 A -> 0.02 A at scaler -2
    assert reading(meter, "1.0.1.7.0.255") == 4
    assert reading(meter, "1.0.31.7.0.255") == 2


def test_a_load_above_the_starting_current_registers_and_draws_credit():
    # 5 W at 230 V is 5 / 230 = 21.7 mA, above 20 mA: 5 W * 10 h = 50 Wh, wallet 10 - 0.05
    meter = make_meter(T0, units=100)
    meter.advance(TEN_HOURS, 5)
    assert reading(meter, "1.0.1.8.0.255") == 50
    assert meter.engine.status().energy_kwh == D("9.950")


def test_reactive_and_export_below_the_starting_current_register_nothing():
    # 3 W and 3 var: S = 4.24 VA, I = 18.4 mA < 20 mA; -4 W export is 17.4 mA
    meter = make_meter(T0, units=100)
    meter.advance(T0 + timedelta(hours=10), LoadPoint(3, 3))
    meter.advance(T0 + timedelta(hours=20), LoadPoint(-4, -3))  # S = 5 VA, 21.7 mA: counts
    assert reading(meter, "1.0.1.8.0.255") == 0
    assert reading(meter, "1.0.5.8.0.255") == 0  # Q1 not counted below the start
    assert reading(meter, "1.0.2.8.0.255") == 40  # 4 W * 10 h export
    assert reading(meter, "1.0.7.8.0.255") == 30  # 3 var * 10 h in Q3
    meter.advance(T0 + timedelta(hours=30), LoadPoint(-4))
    assert reading(meter, "1.0.2.8.0.255") == 40  # 17.4 mA: nothing more


def test_the_threshold_follows_the_settings_and_the_point_voltage():
    # 0 %: no threshold, 4 W * 10 h = 40 Wh
    zero = Metering(MeteringConfig(SupplyConfig(starting_percent=D(0))))
    meter = make_meter(T0, units=100, metering=zero)
    meter.advance(TEN_HOURS, 4)
    assert reading(meter, "1.0.1.8.0.255") == 40
    # Ib 10 A: 0.4 % is 40 mA, 9.2 VA at 230 V; 5 W (21.7 mA) now registers nothing
    big = Metering(MeteringConfig(SupplyConfig(basic_current_a=D(10))))
    meter = make_meter(T0, units=100, metering=big)
    meter.advance(TEN_HOURS, 5)
    assert reading(meter, "1.0.1.8.0.255") == 0
    # 4 W at a measured 150 V is 26.7 mA, above 20 mA: 40 Wh
    meter = make_meter(T0, units=100)
    meter.advance(TEN_HOURS, LoadPoint(4, voltage_v=D(150)))
    assert reading(meter, "1.0.1.8.0.255") == 40


def test_pulse_counts_at_the_default_and_a_configured_constant():
    # 1500 W and 900 var for 1 h: 1.5 kWh, 0.9 kvarh
    meter = make_meter(T0, units=100)
    meter.advance(T0 + timedelta(hours=1), LoadPoint(1500, 900))
    assert meter.metering.pulses() == (1500, 900)  # 1.5 * 1000, 0.9 * 1000
    assert reading(meter, "1.0.128.8.0.255") == 1500
    assert reading(meter, "1.0.129.8.0.255") == 900
    config = MeteringConfig(pulse_imp_kwh=400, pulse_imp_kvarh=250)
    meter = make_meter(T0, units=100, metering=Metering(config))
    meter.advance(T0 + timedelta(hours=1), LoadPoint(1500, 900))
    assert meter.metering.pulses() == (600, 225)  # 1.5 * 400, 0.9 * 250
    # a pulse is emitted whole: 1.5 kWh at 1 imp/kWh is 1 pulse
    meter = make_meter(T0, units=100, metering=Metering(MeteringConfig(pulse_imp_kwh=1)))
    meter.advance(T0 + timedelta(hours=1), 1500)
    assert meter.metering.pulses()[0] == 1


def test_settings_are_kept_in_the_state_file_and_checked():
    config = MeteringConfig(
        SupplyConfig(basic_current_a=D(10), starting_percent=D("0.5")), pulse_imp_kwh=400
    )
    meter = make_meter(T0, units=100, metering=Metering(config))
    again = meter_state.loads(meter_state.dumps(meter))
    assert again.metering.config == config
    for key, value, where in (
        ("starting_percent", "11", r"supply\.starting_percent is 11; expected 0\.\.10"),
        ("basic_current_a", "0", r"supply\.basic_current_a is 0; expected 0\.01\.\.100"),
    ):
        bad = meter_state.to_document(meter)
        bad["meter"]["metering"]["config"]["supply"][key] = value
        with pytest.raises(FormatError, match=where):
            meter_state.from_document(bad)
    bad = meter_state.to_document(meter)
    bad["meter"]["metering"]["config"]["pulse_imp_kwh"] = 0
    with pytest.raises(FormatError, match=r"pulse_imp_kwh is 0; expected 1\.\.100000"):
        meter_state.from_document(bad)
    # a file written before these settings reads with the datasheet's defaults
    old = meter_state.to_document(meter)
    del old["meter"]["metering"]["config"]["pulse_imp_kwh"]
    del old["meter"]["metering"]["config"]["supply"]["starting_percent"]
    loaded = meter_state.from_document(old).metering.config
    assert (loaded.pulse_imp_kwh, loaded.supply.starting_percent) == (1000, D("0.4"))
    with pytest.raises(RangeError, match="pulse_imp_kvarh 0"):
        MeteringConfig(pulse_imp_kvarh=0)
    with pytest.raises(RangeError, match="starting current"):
        SupplyConfig(starting_percent=D(-1))


def test_sts_meter_registers_lists_the_pulse_counts(tmp_path):
    settings = tmp_path / "settings.json"
    settings.write_text(
        json.dumps({"metering": {"pulse_imp_kwh": 400, "load": {"constant": 1500}}})
    )
    file = tmp_path / "m.json"
    runner = CliRunner()
    made = runner.invoke(
        main,
        [
            "meter", "new", str(file), "--dk", "E653341F9D5BF36F", "--drn", "00000000000",
            "--sgc", "123456", "--manufactured", "2026-05-04 00:00+00:00",
            "--config", str(settings),
        ],
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    assert runner.invoke(main, ["meter", "mode", str(file), "postpaid"]).exit_code == 0
    ran = runner.invoke(main, ["meter", "run", str(file), "--for", "1h"])
    assert ran.exit_code == 0, ran.output
    out = runner.invoke(main, ["meter", "registers", str(file), "--json"])
    assert out.exit_code == 0, out.output
    rows = {r["obis"]: r for r in json.loads(out.output)["registers"]}
    assert rows["1.0.1.8.0.255"]["value"] == 1500  # 1.5 kWh
    assert rows["1.0.128.8.0.255"]["value"] == 600  # 1.5 kWh * 400 imp/kWh
    assert rows["1.0.128.8.0.255"]["name"] == "pulse output, active import (pulses)"
    assert rows["1.0.129.8.0.255"]["value"] == 0  # no reactive load
