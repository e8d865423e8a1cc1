"""The dual resource signal (issue 9, datasheet 'Input/Output Ports': "Dual Resource
Signal (Tariff change)"): while the input is on, energy goes to the configured TOU rate.

By hand: 1000 W is 1000 Wh an hour. The calendar gives rate 1 all day; the input is on
from 01:00 to 03:00 with dual_resource_rate 3: rate 1 gets 00-01 and 03-04 (2000 Wh),
rate 3 gets 01-03 (2000 Wh), the total 4000 Wh.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from cli import main
from sts.errors import FormatError, RangeError
from sts.meter import state as meter_state
from sts.meter.metering import Metering
from tests.meter_helpers import make_meter, reading

T0 = datetime(2026, 5, 4, tzinfo=UTC)
HOUR = timedelta(hours=1)


def with_input(**settings: object):
    return make_meter(T0, units=9000, metering=Metering.from_settings(settings))


def test_the_tariff_input_moves_energy_to_its_rate_while_on():
    meter = with_input(dual_resource_rate=3)
    meter.advance(T0 + HOUR, 1000)
    assert meter.tariff_input(True, T0 + HOUR) == 3
    meter.advance(T0 + 3 * HOUR)
    assert meter.tariff_input(False, T0 + 3 * HOUR) == 1
    meter.advance(T0 + 4 * HOUR)
    assert reading(meter, "1.0.1.8.1.255") == 2000
    assert reading(meter, "1.0.1.8.3.255") == 2000
    assert reading(meter, "1.0.1.8.0.255") == 4000
    start = int(T0.timestamp())
    standard = meter.metering.guard.logs.log("standard")
    assert [(e.code, e.at - start, e.detail) for e in standard] == [
        (4, 3600, "rate 3"),
        (5, 10800, "the calendar's rate"),
    ]


def test_the_tariff_input_state_is_kept_and_checked():
    meter = with_input(dual_resource_rate=8)
    meter.tariff_input(True, T0)
    again = meter_state.loads(meter_state.dumps(meter))
    again.advance(T0 + HOUR, 500)
    assert reading(again, "1.0.1.8.8.255") == 500
    plain = with_input()
    with pytest.raises(RangeError, match="no tariff change input"):
        plain.tariff_input(True)
    document = meter_state.to_document(plain)
    document["meter"]["metering"]["dual_resource"] = True
    with pytest.raises(FormatError, match="dual_resource is on; the meter has no"):
        meter_state.from_document(document)
    with pytest.raises(FormatError, match="dual_resource_rate is 9"):
        Metering.from_settings({"dual_resource_rate": 9})


def test_sts_meter_tariff_input(tmp_path):
    path = tmp_path / "m.json"
    meter_state.save(with_input(dual_resource_rate=2), path)
    done = CliRunner().invoke(main, ["meter", "tariff-input", str(path), "on", "--json"])
    assert done.exit_code == 0, done.output
    assert '"rate": 2' in done.output
    meter_state.save(with_input(), path)
    done = CliRunner().invoke(main, ["meter", "tariff-input", str(path), "on"])
    assert done.exit_code == 1
    assert "no tariff change input" in done.output
