"""Multi-TOU scenarios (issue 9, datasheet 'Multi TOU Tariff' lines).

One calendar serves every scenario:

- summer (from 04-01), week "summer": weekdays day 1, weekends day 2;
- winter (from 10-01), week "winter": weekdays day 3, weekends day 2;
- day 1: 00:00 rate 1, 07:00 rate 2, 23:00 rate 1
- day 2: 00:00 rate 3 (all day)
- day 3: 00:00 rate 1, 17:00 rate 4, 20:00 rate 1

At a constant 1 kW every hour is 1 kWh = 1000 Wh, so each per-rate figure is
the number of hours the rate was in force, counted by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest

from sts.errors import FormatError
from sts.meter.calendar import ActivityCalendar
from sts.meter.config import CreditConfig, EnergyStep, TariffConfig, VatRate
from sts.meter.metering import Metering, MeteringConfig
from tests.meter_helpers import make_meter

TABLES = {
    "name": "tou-2026",
    "seasons": [
        {"name": "winter", "start": "10-01", "week": "winter"},
        {"name": "summer", "start": "04-01", "week": "summer"},
    ],
    "weeks": [
        {"name": "summer", "days": [1, 1, 1, 1, 1, 2, 2]},
        {"name": "winter", "days": [3, 3, 3, 3, 3, 2, 2]},
    ],
    "days": [
        {"id": 1, "switches": [["00:00", 1], ["07:00", 2], ["23:00", 1]]},
        {"id": 2, "switches": [["00:00", 3]]},
        {"id": 3, "switches": [["00:00", 1], ["17:00", 4], ["20:00", 1]]},
    ],
}


def calendar(**extra: object) -> ActivityCalendar:
    return ActivityCalendar.from_dict({"active": TABLES, **extra})


def per_rate(meter) -> dict[int, int]:
    """Wh imported per rate, rates with none left out."""
    r = meter.metering.registers
    wh = {rate: r.value(f"1.0.1.8.{rate}.255") for rate in range(1, 9)}
    return {rate: value for rate, value in wh.items() if value}


def tou_meter(start: datetime, cal: ActivityCalendar, zone: str = "UTC", **kw):
    return make_meter(
        start, units=9000, config=CreditConfig(timezone=zone), metering=Metering(calendar=cal), **kw
    )


def test_crossing_a_switching_time():
    # Monday 2026-05-04 (summer, day 1), 06:00 -> 08:00: 1 h of rate 1, 1 h of rate 2
    start = datetime(2026, 5, 4, 6, tzinfo=UTC)
    meter = tou_meter(start, calendar())
    meter.advance(start + timedelta(hours=2), 1000)
    assert per_rate(meter) == {1: 1000, 2: 1000}
    assert meter.metering.registers.value("1.0.1.8.0.255") == 2000


def test_crossing_a_season_boundary():
    # Wed 2026-09-30 16:00 (summer, day 1) -> Thu 2026-10-01 21:00 (winter, day 3):
    # Sep 30: 16-23 rate 2 (7 h), 23-24 rate 1 (1 h);
    # Oct 1: 00-17 rate 1 (17 h), 17-20 rate 4 (3 h), 20-21 rate 1 (1 h)
    start = datetime(2026, 9, 30, 16, tzinfo=UTC)
    meter = tou_meter(start, calendar())
    meter.advance(datetime(2026, 10, 1, 21, tzinfo=UTC), 1000)
    assert per_rate(meter) == {1: 19_000, 2: 7_000, 4: 3_000}


def test_special_days_one_off_beats_weekly_and_recurring_entries_apply():
    # Fri 2026-12-25 is a one-off special day (day 2: rate 3); a weekly Friday entry says
    # day 1 but the one-off is more specific. Sat 2026-12-26 matches a yearly '*-12-26'
    # entry giving day 3 instead of the weekend's day 2.
    specials = [
        {"index": 1, "weekday": 4, "day_id": 1},
        {"index": 2, "date": "2026-12-25", "day_id": 2},
        {"index": 3, "date": "*-12-26", "day_id": 3},
    ]
    start = datetime(2026, 12, 24, 12, tzinfo=UTC)
    meter = tou_meter(start, calendar(special_days=specials))
    meter.advance(datetime(2026, 12, 27, 0, tzinfo=UTC), 1000)
    # Thu 24 (winter day 3) 12-17 rate 1 (5 h), 17-20 rate 4 (3 h), 20-24 rate 1 (4 h);
    # Fri 25: rate 3 (24 h); Sat 26 (yearly -> day 3): rate 1 17 + 4 = 21 h, rate 4 3 h
    assert per_rate(meter) == {1: 30_000, 3: 24_000, 4: 6_000}
    cal = meter.metering.calendar
    # Fri 2027-01-01 12:00: the weekly entry gives day 1, rate 2 (winter's day 3 says rate 1)
    assert cal.rate_at(datetime(2027, 1, 1, 12)) == 2
    monthly = calendar(special_days=[{"index": 9, "date": "*-*-01", "day_id": 2}])
    assert monthly.rate_at(datetime(2027, 1, 1, 12)) == 3  # first of any month: day 2
    daily = calendar(special_days=[{"index": 9, "date": "*-*-*", "day_id": 2}])
    assert daily.rate_at(datetime(2026, 7, 7, 12)) == 3


def test_a_dst_change_moves_the_switching_instants_with_the_wall_clock():
    # Europe/Berlin: Sun 2026-03-29 02:00 CET -> 03:00 CEST, a 23-hour day. An all-week
    # day 1 calendar: 00-07 rate 1 is only 6 hours, 07-23 rate 2 16 h, 23-24 rate 1 1 h.
    tables = dict(TABLES, seasons=[{"name": "all", "start": "01-01", "week": "all"}])
    tables["weeks"] = [{"name": "all", "days": [1] * 7}]
    cal = ActivityCalendar.from_dict({"active": tables})
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 3, 29, tzinfo=berlin)
    end = datetime(2026, 3, 30, tzinfo=berlin)
    assert end.timestamp() - start.timestamp() == 23 * 3600
    meter = tou_meter(start, cal, zone="Europe/Berlin")
    meter.advance(end, 1000)
    assert per_rate(meter) == {1: 7_000, 2: 16_000}


def test_the_passive_calendar_becomes_active_at_its_time():
    passive = {
        "name": "flat",
        "seasons": [{"name": "all", "start": "01-01", "week": "w"}],
        "weeks": [{"name": "w", "days": [5] * 7}],
        "days": [{"id": 5, "switches": [["00:00", 5]]}],
    }
    cal = calendar(passive=passive, activate_at="2026-05-04T12:00:00+00:00")
    start = datetime(2026, 5, 4, 10, tzinfo=UTC)
    meter = tou_meter(start, cal)
    meter.advance(datetime(2026, 5, 4, 14, tzinfo=UTC), 1000)
    # 10-12 rate 2 under the active calendar, 12-14 rate 5 under the former passive one
    assert per_rate(meter) == {2: 2000, 5: 2000}
    assert cal.passive is None and cal.active is not None and cal.active.name == "flat"


def test_export_registers_follow_the_rates_too():
    start = datetime(2026, 5, 4, 6, tzinfo=UTC)
    meter = tou_meter(start, calendar())
    meter.advance(start + timedelta(hours=2), -500)  # 0.5 kWh at rate 1, 0.5 kWh at rate 2
    r = meter.metering.registers
    assert [r.value(f"1.0.2.8.{k}.255") for k in (0, 1, 2)] == [1000, 500, 500]
    assert r.value("1.0.1.8.0.255") == 0


def test_rate_prices_replace_the_step_price_with_vat_on_top():
    # Money wallet 100.00; one step at 2.00/kWh; rate 2 priced 3.00; VAT 15 % on energy.
    # 06-07 rate 1: 1 kWh * 2.00 * 1.15 = 2.30; 07-08 rate 2: 1 kWh * 3.00 * 1.15 = 3.45.
    # Left: 100 - 2.30 - 3.45 = 94.25
    tariff = TariffConfig(steps=(EnergyStep(None, D("2.00")),), vat=(VatRate("VAT", D(15)),))
    start = datetime(2026, 5, 4, 6, tzinfo=UTC)
    metering = Metering(MeteringConfig(rate_prices={2: D("3.00")}), calendar())
    meter = make_meter(start, money=D(100), config=CreditConfig(tariff=tariff), metering=metering)
    meter.advance(start + timedelta(hours=2), 1000)
    assert meter.engine.status().money == D("94.25000")
    assert per_rate(meter) == {1: 1000, 2: 1000}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t["seasons"].extend([t["seasons"][0]] * 11), "at most 12"),
        (lambda t: t["days"][0]["switches"].extend([["23:59", 1]] * 22), "at most 24"),
        (lambda t: t["days"][0]["switches"].__setitem__(0, ["00:00", 9]), r"switches\[0\] is 9"),
        (lambda t: t["days"][0]["switches"].__setitem__(0, ["01:00", 1]), "start at 00:00"),
        (lambda t: t["weeks"][0]["days"].__setitem__(0, 7), "day profile 7"),
        (lambda t: t["seasons"][0].__setitem__("start", "02-30"), "real 'MM-DD'"),
    ],
)
def test_calendar_tables_are_refused_with_the_path_of_the_bad_field(change, message):
    import copy

    tables = copy.deepcopy(TABLES)
    change(tables)
    with pytest.raises(FormatError, match=message):
        ActivityCalendar.from_dict({"active": tables})


def test_special_days_are_bounded_and_checked():
    many = [{"index": k, "date": "*-01-01", "day_id": 2} for k in range(201)]
    with pytest.raises(FormatError, match="at most 200"):
        calendar(special_days=many)
    assert len(calendar(special_days=many[:200]).special_days) == 200
    with pytest.raises(FormatError, match="not a date"):
        calendar(special_days=[{"index": 1, "date": "2026-02-29", "day_id": 2}])
    with pytest.raises(FormatError, match="day profile 8"):
        calendar(special_days=[{"index": 1, "date": "*-*-*", "day_id": 8}])
    with pytest.raises(FormatError, match="repeats an index"):
        calendar(special_days=[many[0], many[0]])
    with pytest.raises(FormatError, match="activate_at"):
        ActivityCalendar.from_dict({"active": TABLES, "passive": TABLES})
    cal = calendar(special_days=many[:3])
    assert ActivityCalendar.from_dict(cal.to_dict()).to_dict() == cal.to_dict()


def test_owed_emergency_energy_is_repaid_at_the_rate_in_force_when_the_token_comes():
    # Emergency credit: 0.5 kWh used 06:00-06:30 (rate 1). Money comes at 07:00 sharp,
    # when rate 2 (priced 4.00) starts: the 0.5 kWh owed costs 0.5 x 4.00 = 2.00, so 10.00
    # leaves 8.00 in the money wallet.
    from sts.meter.config import EmergencyConfig
    from sts.tokens.credit import CreditKind

    tariff = TariffConfig(steps=(EnergyStep(None, D("2.00")),))
    config = CreditConfig(tariff=tariff, emergency=EmergencyConfig(limit_kwh=D(2)))
    start = datetime(2026, 5, 4, 6, tzinfo=UTC)
    metering = Metering(MeteringConfig(rate_prices={2: D("4.00")}), calendar())
    meter = make_meter(start, config=config, metering=metering)
    assert meter.short_code("99") == ["Emergency credit", "2 kWh"]
    meter.advance(start + timedelta(minutes=30), 1000)
    meter.advance(start + timedelta(hours=1), 0)
    at_seven = meter.short_code("0", start + timedelta(hours=1))  # the meter at 07:00
    assert at_seven[0] == "Energy 0.000 kWh"
    receipt = meter.engine.apply_credit(CreditKind.ELECTRICITY_CURRENCY, D(10), meter.clock)
    assert (receipt.repaid_emergency, receipt.money) == (D("2.00000"), D("8.00000"))
