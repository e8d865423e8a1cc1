"""The metering section in the central state schema (sts.meter.state_schema).

A meter using every metering feature saves and loads; a file from before metering
(no "metering", no export/postpaid ledger totals) still loads; junk in the section is
refused with its path under "meter."; and the rules tying the section to the credit
engine (relay reasons held by protection, payment mode, net-metering credit, prices
that need a money tariff) refuse a document that breaks them.

Figures by hand: 600 W exported for an hour is 600 * 3600 = 2,160,000 J; 1 kW for
an hour is 3,600,000 J.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from sts.errors import FormatError
from sts.meter import state as meter_state
from sts.meter.config import CreditConfig, EnergyStep, TariffConfig
from sts.meter.measurement import LoadPoint
from sts.meter.metering import Metering
from tests.meter_helpers import make_meter

T0 = datetime(2026, 5, 4, tzinfo=UTC)
HOUR = timedelta(hours=1)
MONEY_TARIFF = CreditConfig(tariff=TariffConfig(steps=(EnergyStep(None, Decimal(2)),)))


def _every_feature() -> dict[str, Any]:
    metering = Metering.from_settings(
        {
            "net_metering": True,
            "rate_prices": {"2": "1.5"},
            "subsidies": [{"kind": "percent", "amount": "5"}],
            "calendar": {
                "active": {
                    "name": "tou",
                    "seasons": [{"name": "all", "start": "01-01", "week": "w"}],
                    "weeks": [{"name": "w", "days": [1, 1, 1, 1, 1, 1, 1]}],
                    "days": [{"id": 1, "switches": [["00:00", 1], ["12:00", 2]]}],
                },
            },
            "surveys": [{"channels": ["1.0.1.8.0.255", "1.0.2.8.0.255"], "period_min": 15}],
            "protection": {"over_current_a": "60", "control_mode": 1},
        }
    )
    meter = make_meter(T0, money=Decimal(100), config=MONEY_TARIFF, metering=metering)
    meter.advance(T0 + HOUR, -600)  # exported: credited to the energy wallet
    meter.set_payment_mode("postpaid")
    meter.advance(T0 + 2 * HOUR, 1000)  # supplied without drawing a wallet
    meter.relay("disconnect", remote=True)
    return meter_state.to_document(meter)


EVERY = _every_feature()


def _body(document: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(document)["meter"]


def _refused(body: dict[str, Any]) -> str:
    with pytest.raises(FormatError) as caught:
        meter_state.from_document({"format": "sts-meter-state", "version": 1, "meter": body})
    return str(caught.value)


def test_a_meter_with_every_feature_saves_and_loads_unchanged(tmp_path):
    ledger = EVERY["meter"]["credit"]["state"]["ledger"]
    assert ledger["export_credited_j"] == 2_160_000
    assert ledger["postpaid_j"] == 3_600_000
    state = EVERY["meter"]["credit"]["state"]
    assert (state["relay_closed"], state["relay_reason"]) == (False, "disconnected")
    path = tmp_path / "m.json"
    meter_state.save(meter_state.from_document(copy.deepcopy(EVERY)), path)
    again = meter_state.load(path)
    assert meter_state.to_document(again) == EVERY
    assert again.status().payment_mode == "postpaid"
    assert again.status().control_state == "disconnected"


def test_a_file_from_before_metering_still_loads():
    plain = meter_state.to_document(make_meter(T0, units=10))
    body = _body(plain)
    del body["metering"]
    del body["credit"]["state"]["ledger"]["export_credited_j"]
    del body["credit"]["state"]["ledger"]["postpaid_j"]
    old = {"format": "sts-meter-state", "version": 1, "meter": body}
    loaded = meter_state.from_document(old)
    written = meter_state.to_document(loaded)["meter"]
    assert written["metering"]["protection"]["payment_mode"] == "prepaid"
    assert written["credit"]["state"]["ledger"]["postpaid_j"] == 0


@pytest.mark.parametrize(
    ("path", "junk", "named"),
    [
        (("config", "net_metering"), "yes", "meter.metering.config.net_metering"),
        (("config", "rate_prices"), {"9": "1"}, "meter.metering.config.rate_prices"),
        (("surveys", 0, "config", "period_min"), 61, "meter.metering.surveys[0].config"),
        (("protection", "payment_mode"), "later", "meter.metering.protection.payment_mode"),
        (("version",), 2, "meter.metering.version"),
    ],
)
def test_junk_in_the_metering_section_is_refused_with_its_path(path, junk, named):
    body = _body(EVERY)
    node = body["metering"]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = junk
    assert named in _refused(body)


def _plain_closed() -> dict[str, Any]:
    """A prepaid energy meter with credit: relay closed for credit."""
    return _body(meter_state.to_document(make_meter(T0, units=10)))


def test_a_relay_reason_protection_does_not_hold_is_refused():
    body = _plain_closed()
    body["credit"]["state"].update(relay_closed=False, relay_reason="disconnected")
    said = _refused(body)
    assert "meter.credit.state.relay_reason is 'disconnected'" in said
    assert "metering.protection holds nothing" in said


def test_a_closed_relay_while_disconnect_control_holds_it_open_is_refused():
    body = _plain_closed()
    body["metering"]["protection"]["disconnect"]["state"] = 0  # disconnected
    assert "meter.credit.state.relay_closed is True" in _refused(body)


def test_postpaid_reason_goes_with_the_payment_mode():
    prepaid = _plain_closed()
    prepaid["credit"]["state"]["relay_reason"] = "postpaid"
    assert "not 'postpaid' for a prepaid meter" in _refused(prepaid)
    postpaid = _plain_closed()
    postpaid["metering"]["protection"]["payment_mode"] = "postpaid"
    assert "meter.credit.state.relay_reason is 'credit'" in _refused(postpaid)


def test_export_credit_needs_net_metering():
    body = _plain_closed()
    state = body["credit"]["state"]
    state["ledger"]["export_credited_j"] = 1000
    state["energy_j"] += 1000  # the wallet identity still holds
    assert "meter.credit.state.ledger.export_credited_j is 1000" in _refused(body)


def test_rate_prices_need_a_money_tariff():
    body = _plain_closed()
    body["metering"]["config"]["rate_prices"] = {"2": "1.5"}
    assert "meter.metering.config.rate_prices" in _refused(body)
    assert "without a money tariff" in _refused(body)


def test_a_meter_without_metering_takes_none_of_the_new_reasons():
    body = _plain_closed()
    del body["metering"]
    body["credit"]["state"].update(relay_closed=False, relay_reason="over current")
    assert "a reason of a meter without metering" in _refused(body)


def test_a_survey_export_load_point_round_trips_through_a_file(tmp_path):
    """Reactive power and export in the surveys survive a save and a load."""
    metering = Metering.from_settings(
        {"surveys": [{"channels": ["1.0.2.8.0.255", "1.0.5.8.0.255"], "period_min": 60}]}
    )
    meter = make_meter(T0, units=100, metering=metering)
    meter.advance(T0 + 2 * HOUR, LoadPoint(-600, 0))
    path = tmp_path / "m.json"
    meter_state.save(meter, path)
    rows = meter_state.load(path).metering.survey(1).rows(None, None)
    assert [tuple(values) for _, values in rows] == [(600, 0), (1200, 0)]
