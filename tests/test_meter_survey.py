"""Load profile and billing scenarios (issue 9, datasheet 'Load Profile' and 'Billing Record').

Figures by hand: at a constant 1 kW every 15 minutes add 250 Wh.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sts.errors import FormatError, RangeError
from sts.meter import state as meter_state
from sts.meter.calendar import ActivityCalendar
from sts.meter.measurement import LoadPoint
from sts.meter.metering import Metering
from sts.meter.obis import ObisCode
from sts.meter.survey import Survey, SurveyConfig
from tests.meter_helpers import make_meter

T0 = datetime(2026, 5, 4, tzinfo=UTC)
DAY_PROFILE = {
    "active": {
        "name": "std",
        "seasons": [{"name": "all", "start": "01-01", "week": "w"}],
        "weeks": [{"name": "w", "days": [1] * 7}],
        "days": [{"id": 1, "switches": [["00:00", 1], ["07:00", 2], ["23:00", 1]]}],
    }
}


def codes(*texts: str) -> tuple[ObisCode, ...]:
    return tuple(ObisCode.parse(t) for t in texts)


def surveyed(*surveys: dict, calendar: dict | None = None):
    metering = Metering.from_settings({"surveys": list(surveys), "calendar": calendar or {}})
    return make_meter(T0, units=9000, metering=metering)


def test_a_15_minute_survey_captures_energy_and_instantaneous_channels():
    meter = surveyed(
        {"channels": ["1.0.1.8.0.255", "1.0.1.7.0.255", "1.0.32.7.0.255"], "period_min": 15}
    )
    meter.advance(T0 + timedelta(hours=1), 1000)
    rows = meter.metering.survey(1).rows()
    t = int(T0.timestamp())
    assert rows == [
        (t + 900, (250, 1000, 2300)),
        (t + 1800, (500, 1000, 2300)),
        (t + 2700, (750, 1000, 2300)),
        (t + 3600, (1000, 1000, 2300)),
    ]
    # the --from/--to window is inclusive at both ends
    assert [r[0] for r in meter.metering.survey(1).rows(t + 1800, t + 2700)] == [t + 1800, t + 2700]


def test_three_surveys_each_at_its_own_period_and_export_channels():
    meter = surveyed(
        {"channels": ["1.0.2.8.0.255"], "period_min": 1, "capacity": 100},
        {"channels": ["1.0.2.8.0.255", "1.0.2.7.0.255"], "period_min": 20},
        {"channels": ["1.0.2.8.0.255"], "period_min": 60},
    )
    meter.advance(T0 + timedelta(hours=1), -600)  # 600 W exported: 10 Wh a minute
    one, twenty, sixty = (meter.metering.survey(n).rows() for n in (1, 2, 3))
    assert len(one) == 60 and one[0][1] == (10,) and one[-1][1] == (600,)
    assert [values for _, values in twenty] == [(200, 600), (400, 600), (600, 600)]
    assert [values for _, values in sixty] == [(600,)]


def test_the_ring_buffer_keeps_the_newest_rows_and_survives_the_state_file():
    meter = surveyed({"channels": ["1.0.1.8.0.255"], "period_min": 15, "capacity": 3})
    meter.advance(T0 + timedelta(minutes=75), 1000)  # 5 captures: 250 ... 1250 Wh
    assert [v for _, (v,) in meter.metering.survey(1).rows()] == [750, 1000, 1250]
    again = meter_state.loads(meter_state.dumps(meter))
    assert again.metering.survey(1).rows() == meter.metering.survey(1).rows()
    again.advance(T0 + timedelta(minutes=90))
    assert [v for _, (v,) in again.metering.survey(1).rows()] == [1000, 1250, 1500]


def test_a_year_of_15_minute_rows_of_8_channels_is_35040_rows():
    config = SurveyConfig(codes("1.0.1.8.0.255", *(f"1.0.1.8.{r}.255" for r in range(1, 8))), 15)
    survey = Survey(config)
    for k in range(35_040 + 5):
        survey.capture(900 * (k + 1), [k] * 8)
    assert len(survey) == 35_040
    rows = survey.rows()
    assert rows[0] == (900 * 6, (5,) * 8) and rows[-1][1] == (35_044,) * 8
    assert Survey.from_dict(survey.to_dict(), "s").rows()[-1] == rows[-1]


def test_daily_survey_and_billing_records_carry_rates_and_net_consumption():
    # 2026-05-31: 1 kW import 00-12 (rate 1 00-07: 7 kWh, rate 2 07-12: 5 kWh), then 1 kW
    # export 12-24 (rate 2 12-23: 11 kWh, rate 1 23-24: 1 kWh): net 0. June 1: 2 kW import
    # all day (rate 1 8 h: 16 kWh, rate 2 16 h: 32 kWh), net 48 kWh.
    start = datetime(2026, 5, 31, tzinfo=UTC)
    metering = Metering(calendar=ActivityCalendar.from_dict(DAY_PROFILE))
    meter = make_meter(start, units=9000, metering=metering)
    meter.advance(start + timedelta(hours=12), 1000)
    meter.advance(start + timedelta(hours=24), -1000)
    meter.advance(start + timedelta(hours=48), 2000)
    billing = meter.metering.billing
    may31, june1 = billing.daily
    assert (may31.label, may31.import_wh, may31.export_wh, may31.net_wh) == (
        "2026-05-31", 12_000, 12_000, 0)  # fmt: skip
    assert [may31.rate_import_wh(r) for r in (1, 2)] == [7_000, 5_000]
    assert [may31.rate_export_wh(r) for r in (1, 2)] == [1_000, 11_000]
    assert (june1.import_wh, june1.net_wh) == (48_000, 48_000)
    assert [june1.rate_import_wh(r) for r in (1, 2)] == [16_000, 32_000]
    (may,) = billing.monthly
    assert (may.label, may.import_wh, may.export_wh, may.net_wh) == ("2026-05", 12_000, 12_000, 0)
    daily = meter.metering.survey(0).rows()
    # daily survey channels: +A, -A, +A rates 1-8, -A rates 1-8, read at each midnight
    assert [values[:4] for _, values in daily] == [(12_000, 12_000, 7_000, 5_000),
                                                   (60_000, 12_000, 23_000, 37_000)]  # fmt: skip
    again = meter_state.loads(meter_state.dumps(meter))
    assert [r.to_dict() for r in again.metering.billing.daily] == [
        r.to_dict() for r in billing.daily
    ]


def test_the_bounds_of_surveys_are_refused():
    with pytest.raises(RangeError, match="1 to 60 channels"):
        SurveyConfig(codes(*(f"1.0.1.8.{r}.255" for r in range(9))) * 7, 15)
    with pytest.raises(RangeError, match="not 1-60"):
        SurveyConfig(codes("1.0.1.8.0.255"), 61)
    with pytest.raises(RangeError, match="not one of the meter's registers"):
        SurveyConfig(codes("1.0.99.8.0.255"), 15)
    with pytest.raises(RangeError, match="2,000,000"):
        SurveyConfig(codes(*(f"1.0.1.8.{r}.255" for r in range(9))), 15, capacity=250_000)
    with pytest.raises(FormatError, match=r"metering.surveys has 4 entries; at most 3"):
        Metering.from_settings({"surveys": [{"channels": ["1.0.1.8.0.255"]}] * 4})
    with pytest.raises(FormatError, match=r"survey 2 is not configured"):
        surveyed({"channels": ["1.0.1.8.0.255"]}).metering.survey(2)


def test_damaged_survey_data_in_a_state_file_is_refused_with_its_path():
    meter = surveyed({"channels": ["1.0.1.8.0.255", "1.0.2.8.0.255"], "period_min": 15})
    meter.advance(T0 + timedelta(hours=1), 1000)
    document = meter_state.to_document(meter)
    document["meter"]["metering"]["surveys"][0]["values"] = "not base64!"
    with pytest.raises(FormatError, match=r"metering.surveys\[0\].values is not base64"):
        meter_state.from_document(document)
    document = meter_state.to_document(meter)
    good = document["meter"]["metering"]["surveys"][0]
    good["times"] = (
        Metering.from_settings({"surveys": [{"channels": ["1.0.1.8.0.255"]}]})
        .surveys[0]
        .to_dict()["times"]
    )  # no rows, while values hold 4 rows
    with pytest.raises(FormatError, match=r"8 values do not fill 0 rows"):
        meter_state.from_document(document)


def test_load_points_drive_instantaneous_channels_with_the_relay():
    meter = surveyed({"channels": ["1.0.31.7.0.255", "1.0.13.7.0.255"], "period_min": 30})
    meter.advance(T0 + timedelta(hours=1), LoadPoint(1840, 1380))  # 10 A, PF 0.8
    assert [values for _, values in meter.metering.survey(1).rows()] == [(1000, 800)] * 2


def test_an_empty_survey_keeps_its_schedule_through_the_state_file():
    # an empty ring is falsy (len 0); its next capture time must survive a reload
    meter = surveyed({"channels": ["1.0.1.8.0.255"], "period_min": 60})
    meter.advance(T0 + timedelta(minutes=1), 0)
    daily = meter.metering.survey(0)
    assert (len(daily), daily.next_at) == (0, int((T0 + timedelta(days=1)).timestamp()))
    again = meter_state.loads(meter_state.dumps(meter))
    assert again.metering.survey(0).next_at == daily.next_at
