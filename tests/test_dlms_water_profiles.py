"""A water or gas meter's volume load profile and monthly billing profile over DLMS, through
dlms-cosem's client over TCP: whole, by range and by entry.

Worked by hand. The meters are made 2004-01-01 00:00 UTC (local time UTC) and credited
10 m3 (100 tenths). Survey 1 captures +A total, the channel the volume profile reads
(one m3 is kept where a kWh would be, so +A in Wh is the volume in litres = 0.001 m3),
and the voltage, every 30 minutes. A flow of 1 m3/h for 2 hours draws 0.5 m3 each half
hour: captures at 00:30, 01:00, 01:30 and 02:00 hold 500, 1,000, 1,500 and 2,000
(0.001 m3).

The billing meter draws 1 m3/h for 2 hours in January (2.000 m3), 0.5 m3/h for 1 hour
in February (0.5 m3) and 1 m3/h for 15 minutes in March (0.25 m3). Its billing rows are
the volume index at each month's close: 2004-02-01 00:00 2,000, 2004-03-01 00:00 2,500;
the volume register then reads 2,750.

The surveyed meter's survey 2 captures +A every 15 minutes and its daily survey at
local midnight (UTC here); 1 m3/h for 30 minutes, then nothing until 01:00 the next
day: survey 2 holds 250 at 00:15 and 500 at 00:30, the daily survey 500 at 2004-01-02
00:00, and survey 1, which captures no volume, an empty volume profile.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from dlms_cosem import cosem
from dlms_cosem import enumerations as E
from dlms_cosem.client import DataResultError
from dlms_cosem.cosem.capture_object import CaptureObject
from dlms_cosem.cosem.selective_access import RangeDescriptor

import sts
from sts.meter.config import CreditConfig
from sts.meter.meter import Meter
from sts.meter.metering import Metering
from sts.tokens import CreditKind, TransferCredit
from tests.dlms_support import (
    CLOCK_CAPTURE,
    CTSA_DK,
    MADE,
    ByEntry,
    long64,
    make_device,
    make_meter,
    served,
    utc,
)
from tests.dlms_support import attribute as attr

TID = 5_871_800  # after the manufacture TID (4,017 days * 1,440 = 5,784,480)
KIND = {"water": CreditKind.WATER, "gas": CreditKind.GAS}
VOLUME = {"water": "8.0.1.0.0.255", "gas": "7.0.3.0.0.255"}
LOAD = {"water": "8.0.99.1.0.255", "gas": "7.0.99.1.0.255"}
BILLING = {"water": "8.0.98.1.0.255", "gas": "7.0.98.1.0.255"}


def make(service: str, surveys: list[dict]) -> Meter:
    meter = make_meter(
        config=CreditConfig(service=service),
        metering=Metering.from_settings({"surveys": surveys}),
    )
    digits = sts.encode(
        TransferCredit.for_units(KIND[service], 100, TID, 3), sts.DecoderKey.from_hex(CTSA_DK)
    )
    meter.enter_token(digits)  # 10 m3
    return meter


def u32(value: int) -> bytes:
    return b"\x06" + value.to_bytes(4, "big")


def midnight(year: int, month: int) -> bytes:
    """A month's close: the first at 00:00 local, deviation not given (8000), status 0."""
    return (
        bytes.fromhex("090C")
        + year.to_bytes(2, "big")
        + bytes([month, 1, 0xFF, 0, 0, 0, 0])
        + bytes.fromhex("8000 00")
    )


def row(*values: bytes) -> bytes:
    return bytes([0x02, len(values)]) + b"".join(values)


def capture_object(class_id: int, obis: str) -> bytes:
    """{class id, logical name, attribute 2, data index 0}."""
    name = bytes(int(part) for part in obis.split("."))
    return (
        bytes.fromhex("0204 12")
        + class_id.to_bytes(2, "big")
        + b"\x09\x06"
        + name
        + bytes.fromhex("0F02 120000")
    )


class RangeOf(RangeDescriptor):
    """A range descriptor naming its selected values (dlms-cosem encodes only an empty
    list): {restricting object, from, to, array of capture objects}."""

    def to_bytes(self) -> bytes:
        if not self.selected_values:
            return super().to_bytes()
        bare = RangeDescriptor(self.restricting_object, self.from_value, self.to_value)
        head = bare.to_bytes()[: -len(b"\x01\x00")]
        columns = self.selected_values
        return head + bytes([0x01, len(columns)]) + b"".join(c.to_bytes() for c in columns)


def selection_of(obis: str) -> RangeDescriptor:
    """00:45 to 01:30 UTC on the making day, of the register ``obis`` only."""
    a, b, c, d, e, _f = (int(part) for part in obis.split("."))
    column = CaptureObject(
        cosem.CosemAttribute(E.CosemInterface.REGISTER, cosem.Obis(a, b, c, d, e), 2), 0
    )
    return RangeOf(
        CLOCK_CAPTURE,
        datetime(2004, 1, 1, 0, 45, tzinfo=UTC),
        datetime(2004, 1, 1, 1, 30, tzinfo=UTC),
        [column],
    )


def half_hour(k: int) -> bytes:
    """The k-th capture: k x 30 minutes after the making, k x 500 (0.001 m3)."""
    return row(utc(MADE + timedelta(minutes=30 * k)), long64(500 * k))


@pytest.fixture(scope="module", params=["water", "gas"])
def flowing(request):
    service = request.param
    survey = {"channels": ["1.0.32.7.0.255", "1.0.1.8.0.255"], "period_min": 30, "capacity": 100}
    meter = make(service, [survey])
    meter.advance_flow(MADE + timedelta(hours=2), Decimal(1))
    with served(make_device(meter)) as s:
        yield service, s


def test_the_volume_load_profile_is_survey_1_in_cubic_metres(flowing):
    service, server = flowing
    load = (7, LOAD[service])
    with server.client("lls", b"reader-1").session() as c:
        buffer = c.get(attr(*load, 2))
        captures = c.get(attr(*load, 3))
        assert c.get(attr(*load, 4)) == u32(1800)  # 30 minutes
        assert c.get(attr(*load, 7)) == u32(4)  # in use
        assert c.get(attr(*load, 8)) == u32(100)  # of 100
        assert c.get(attr(3, VOLUME[service], 2)) == long64(2000)
    assert captures == bytes.fromhex("0102") + capture_object(8, "0.0.1.0.0.255") + capture_object(
        3, VOLUME[service]
    )
    assert buffer == bytes.fromhex("0104") + b"".join(half_hour(k) for k in (1, 2, 3, 4))


def test_the_volume_load_profile_by_range_and_by_entry(flowing):
    service, server = flowing
    load = (7, LOAD[service])
    # 00:45 to 01:30 UTC: the captures at 01:00 and 01:30
    selection = RangeDescriptor(
        CLOCK_CAPTURE,
        datetime(2004, 1, 1, 0, 45, tzinfo=UTC),
        datetime(2004, 1, 1, 1, 30, tzinfo=UTC),
    )
    with server.client("lls", b"reader-1").session() as c:
        by_range = c.get(attr(*load, 2), access_descriptor=selection)
        by_entry = c.get(attr(*load, 2), access_descriptor=ByEntry(3, 0, 2, 2))
        volume_only = c.get(attr(*load, 2), access_descriptor=selection_of(VOLUME[service]))
        # survey 1's +A channel is not a column of the volume profile
        with pytest.raises(DataResultError, match="SCOPE_OF_ACCESS_VIOLATED"):
            c.get(attr(*load, 2), access_descriptor=selection_of("1.0.1.8.0.255"))
    assert by_range == bytes.fromhex("0102") + half_hour(2) + half_hour(3)
    assert volume_only == bytes.fromhex("0102") + row(long64(1000)) + row(long64(1500))
    # entries 3 to the last, the volume column only
    assert by_entry == bytes.fromhex("0102") + row(long64(1500)) + row(long64(2000))


@pytest.fixture(scope="module")
def billed():
    # survey 1 has no +A channel: the volume profile has nothing to read
    meter = make("water", [{"channels": ["1.0.32.7.0.255"], "period_min": 60, "capacity": 10}])
    meter.advance_flow(MADE + timedelta(hours=2), Decimal(1))  # January: 2.000 m3
    meter.advance_flow(datetime(2004, 2, 1, 1, tzinfo=UTC), Decimal(0))
    meter.advance_flow(datetime(2004, 2, 1, 2, tzinfo=UTC), Decimal("0.5"))  # February: 0.5 m3
    meter.advance_flow(datetime(2004, 3, 1, 1, tzinfo=UTC), Decimal(0))
    meter.advance_flow(datetime(2004, 3, 1, 1, 15, tzinfo=UTC), Decimal(1))  # March: 0.25 m3
    with served(make_device(meter)) as s:
        yield s


def test_the_monthly_billing_profile_holds_the_volume_index_at_each_close(billed):
    billing = (7, BILLING["water"])
    with billed.client("lls", b"reader-1").session() as c:
        buffer = c.get(attr(*billing, 2))
        captures = c.get(attr(*billing, 3))
        assert c.get(attr(*billing, 4)) == u32(0)  # captured at each month's close
        assert c.get(attr(*billing, 7)) == u32(2)
        assert c.get(attr(*billing, 8)) == u32(13)  # the engine keeps 13 closed months
        assert c.get(attr(3, VOLUME["water"], 2)) == long64(2750)
    assert captures == bytes.fromhex("0102") + capture_object(8, "0.0.1.0.0.255") + capture_object(
        3, "8.0.1.0.0.255"
    )
    assert buffer == bytes.fromhex("0102") + row(midnight(2004, 2), long64(2000)) + row(
        midnight(2004, 3), long64(2500)
    )


def test_the_monthly_billing_profile_by_range_and_by_entry(billed):
    billing = (7, BILLING["water"])
    february = RangeDescriptor(
        CLOCK_CAPTURE, datetime(2004, 2, 15, tzinfo=UTC), datetime(2004, 3, 15, tzinfo=UTC)
    )
    with billed.client("lls", b"reader-1").session() as c:
        by_range = c.get(attr(*billing, 2), access_descriptor=february)
        by_entry = c.get(attr(*billing, 2), access_descriptor=ByEntry(1, 1, 2, 2))
    assert by_range == bytes.fromhex("0101") + row(midnight(2004, 3), long64(2500))
    assert by_entry == bytes.fromhex("0101") + row(long64(2000))


def test_without_volume_in_survey_1_the_load_profile_is_empty(billed):
    load = (7, LOAD["water"])
    with billed.client("lls", b"reader-1").session() as c:
        assert c.get(attr(*load, 2)) == bytes.fromhex("0100")
        assert c.get(attr(*load, 3)) == bytes.fromhex("0100")
        assert c.get(attr(*load, 4)) == u32(0)
        assert c.get(attr(*load, 7)) == u32(0)


def test_a_gas_meter_closes_its_month_on_its_own_billing_profile():
    meter = make("gas", [])
    meter.advance_flow(MADE + timedelta(minutes=90), Decimal(2))  # 3 m3 in January
    meter.advance_flow(datetime(2004, 2, 1, 0, 30, tzinfo=UTC), Decimal(0))
    with served(make_device(meter)) as s, s.client("lls", b"reader-1").session() as c:
        buffer = c.get(attr(7, BILLING["gas"], 2))
        with pytest.raises(DataResultError, match="OBJECT_UNDEFINED"):
            c.get(attr(7, BILLING["water"], 2))
    assert buffer == bytes.fromhex("0101") + row(midnight(2004, 2), long64(3000))


def test_an_electricity_meter_has_no_volume_profiles():
    meter = make_meter()
    with served(make_device(meter)) as s, s.client("lls", b"reader-1").session() as c:
        for obis in (*LOAD.values(), *BILLING.values()):
            with pytest.raises(DataResultError, match="OBJECT_UNDEFINED"):
                c.get(attr(7, obis, 2))
        assert c.get(attr(7, "0.0.98.1.0.255", 7)) == u32(0)  # its own billing profile


@pytest.fixture(scope="module")
def surveyed():
    # survey 1 captures no volume (its profile is empty), survey 2 captures +A every
    # 15 minutes; the daily survey (its default: +A and -A) captures at local midnight.
    surveys = [
        {"channels": ["1.0.32.7.0.255"], "period_min": 30, "capacity": 10},
        {"channels": ["1.0.1.8.0.255"], "period_min": 15, "capacity": 200},
    ]
    meter = make("water", surveys)
    meter.advance_flow(MADE + timedelta(minutes=30), Decimal(1))  # 0.5 m3 by 00:30
    meter.advance_flow(datetime(2004, 1, 2, 1, tzinfo=UTC), Decimal(0))  # past midnight
    with served(make_device(meter)) as s:
        yield s


def test_surveys_2_and_3_and_the_daily_survey_have_volume_profiles(surveyed):
    first, second, third, daily = (
        (7, "8.0.99.1.0.255"),
        (7, "8.0.99.1.1.255"),
        (7, "8.0.99.1.2.255"),
        (7, "8.0.99.2.0.255"),
    )
    # 00:00 to 00:30 UTC on the making day: survey 2's captures at 00:15 and 00:30
    selection = RangeDescriptor(CLOCK_CAPTURE, MADE, datetime(2004, 1, 1, 0, 30, tzinfo=UTC))
    with surveyed.client("lls", b"reader-1").session() as c:
        assert c.get(attr(*first, 7)) == u32(0)  # survey 1 has no +A channel
        assert c.get(attr(*first, 3)) == bytes.fromhex("0100")
        assert c.get(attr(*second, 4)) == u32(900)  # 15 minutes
        # every 15 minutes from 00:15 on 1 January to 01:00 on 2 January: 24 h 45 min
        # after the first capture, 99 steps, so 100 captures
        assert c.get(attr(*second, 7)) == u32(100)
        second_captures = c.get(attr(*second, 3))
        by_range = c.get(attr(*second, 2), access_descriptor=selection)
        assert c.get(attr(*third, 7)) == u32(0)  # no survey 3
        daily_captures = c.get(attr(*daily, 3))
        daily_rows = c.get(attr(*daily, 2))
    volume = capture_object(3, "8.0.1.0.0.255")
    clock = capture_object(8, "0.0.1.0.0.255")
    assert second_captures == bytes.fromhex("0102") + clock + volume
    assert daily_captures == bytes.fromhex("0102") + clock + volume
    assert by_range == bytes.fromhex("0102") + row(
        utc(datetime(2004, 1, 1, 0, 15)), long64(250)
    ) + row(utc(datetime(2004, 1, 1, 0, 30)), long64(500))
    # one local midnight (local time is UTC here) passed: 0.5 m3 delivered by then
    assert daily_rows == bytes.fromhex("0101") + row(utc(datetime(2004, 1, 2)), long64(500))
