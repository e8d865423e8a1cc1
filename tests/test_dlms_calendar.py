"""Activity calendar (IC 20) and special days (IC 11) over TCP through dlms-cosem's client:
write a passive calendar, activate it (at its time, and by the method), and the meter's
TOU rate registers move by the new calendar.

The meter has no calendar at first (every instant rate 1), 2,000 kWh of credit and a
constant 1 kW load from 2004-01-01 00:00 UTC (local time UTC). The passive calendar
"winter" has one season from 01-01, one week of day profile 1 every day, and day 1:
00:00 rate 1, 06:00 rate 2, 18:00 rate 3. Worked by hand, at 1 kW = 1,000 Wh an hour:

- activated at 2004-01-02 00:00, run to 2004-01-03 00:00: Jan 1 all rate 1 (24,000 Wh);
  Jan 2 rate 1 00-06 (6,000), rate 2 06-18 (12,000), rate 3 18-24 (6,000): rates 1/2/3
  = 30,000 / 12,000 / 6,000 Wh;
- activated by the method at 2004-01-01 12:00, run to 2004-01-02 00:00: rate 1 00-12
  (12,000), then rate 2 12-18 (6,000), rate 3 18-24 (6,000).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from dlms_cosem import enumerations as E
from dlms_cosem.client import ActionError
from dlms_cosem.time import datetime_to_bytes

from tests.dlms_support import CTSA_DK, MADE, credit_token, make_device, make_meter, method, served
from tests.dlms_support import attribute as attr

CAL = (20, "0.0.13.0.0.255")
SPECIAL = (11, "0.0.11.0.0.255")
ACTIVATE = method(20, "0.0.13.0.0.255", 1)
CLOCK = attr(8, "0.0.1.0.0.255", 2)
SUCCESS = E.DataAccessResult.SUCCESS

# the passive tables, A-XDR written out by hand
NAME = bytes.fromhex("09 06") + b"winter"
SEASONS = (
    bytes.fromhex("0101 0203 0903")
    + b"all"
    # season_start: year not given (FFFF), 01-01, weekday FF, 00:00:00.00, no deviation
    + bytes.fromhex("090C FFFF0101FF00000000800000")
    + bytes.fromhex("0901")
    + b"w"
)
WEEKS = bytes.fromhex("0101 0208 0901") + b"w" + bytes.fromhex("1101") * 7
SCRIPT = bytes.fromhex("0906 00000A0064FF")  # the tariffication script table 0.0.10.0.100.255
DAYS = bytes.fromhex("0101 0202 1101 0103") + b"".join(
    bytes.fromhex("0203 0904") + bytes([hour, 0, 0, 0]) + SCRIPT + bytes.fromhex("12") + rate
    for hour, rate in ((0, b"\x00\x01"), (6, b"\x00\x02"), (18, b"\x00\x03"))
)


def when(moment: datetime) -> bytes:
    return bytes([0x09, 12]) + datetime_to_bytes(moment)


def rate_wh(c, rate: int) -> int:
    value = c.get(attr(3, f"1.0.1.8.{rate}.255", 2))
    assert value[0] == 0x14  # long64
    return int.from_bytes(value[1:], "big")


def write_passive(c) -> None:
    assert c.set(attr(*CAL, 6), NAME).result is SUCCESS
    assert c.set(attr(*CAL, 9), DAYS).result is SUCCESS
    assert c.set(attr(*CAL, 8), WEEKS).result is SUCCESS
    assert c.set(attr(*CAL, 7), SEASONS).result is SUCCESS


@pytest.fixture
def meter():
    m = make_meter()
    m.enter_token(credit_token(CTSA_DK, tid=5_871_800, tenths=20000))  # 2,000 kWh
    m.advance(MADE, load=1000)
    return m


def test_passive_calendar_written_and_activated_at_its_time(meter):
    with served(make_device(meter)) as s, s.client("lls", b"admin-3").session() as c:
        assert c.get(attr(*CAL, 2)) == bytes.fromhex("0900")  # no active calendar yet
        write_passive(c)
        # whole, but no time yet: the meter holds no passive calendar
        assert meter.metering.calendar.passive is None
        assert c.get(attr(*CAL, 10)) == bytes.fromhex("090C FFFFFFFFFFFFFFFFFF 8000 FF")
        assert c.set(attr(*CAL, 10), when(MADE + timedelta(days=1))).result is SUCCESS
        assert meter.metering.calendar.passive is not None
        # read back as written
        assert c.get(attr(*CAL, 6)) == NAME
        assert c.get(attr(*CAL, 7)) == SEASONS
        assert c.get(attr(*CAL, 8)) == WEEKS
        assert c.get(attr(*CAL, 9)) == DAYS
        assert c.set(CLOCK, when(MADE + timedelta(days=2))).result is SUCCESS
        assert [rate_wh(c, r) for r in (1, 2, 3, 4)] == [30_000, 12_000, 6_000, 0]
        assert c.get(attr(*CAL, 2)) == NAME  # active now
        assert c.get(attr(*CAL, 5)) == DAYS
        assert c.get(attr(*CAL, 6)) == bytes.fromhex("0900")  # the passive one is empty again


def test_activate_passive_calendar_method(meter):
    with served(make_device(meter)) as s, s.client("lls", b"admin-3").session() as c:
        with pytest.raises(ActionError, match="OTHER_REASON"):
            c.action(ACTIVATE, bytes.fromhex("0F00"))  # nothing written yet
        write_passive(c)
        assert c.set(CLOCK, when(MADE + timedelta(hours=12))).result is SUCCESS
        c.action(ACTIVATE, bytes.fromhex("0F00"))
        assert c.set(CLOCK, when(MADE + timedelta(days=1))).result is SUCCESS
        assert [rate_wh(c, r) for r in (1, 2, 3)] == [12_000, 6_000, 6_000]


def test_bad_calendar_writes_are_refused_and_change_nothing(meter):
    with served(make_device(meter)) as s:
        with s.client("lls", b"admin-3").session() as c:
            # a switch at 06:00:30 (seconds), then a rate 9
            seconds = DAYS.replace(bytes([6, 0, 0, 0]), bytes([6, 0, 30, 0]))
            assert c.set(attr(*CAL, 9), seconds).result is E.DataAccessResult.TYPE_UNMATCHED
            rate_9 = DAYS.replace(b"\x12\x00\x03", b"\x12\x00\x09")
            assert c.set(attr(*CAL, 9), rate_9).result is E.DataAccessResult.TYPE_UNMATCHED
            # the first switch after 00:00
            late = DAYS.replace(bytes([0, 0, 0, 0]), bytes([1, 0, 0, 0]), 1)
            assert c.set(attr(*CAL, 9), late).result is E.DataAccessResult.TYPE_UNMATCHED
            assert c.get(attr(*CAL, 9)) == bytes.fromhex("0100")
        with s.client("lls", b"reader-1").session() as c:
            assert c.set(attr(*CAL, 6), NAME).result is E.DataAccessResult.READ_WRITE_DENIED


def test_special_days_insert_read_delete(meter):
    with served(make_device(meter)) as s, s.client("lls", b"admin-3").session() as c:
        write_passive(c)
        c.action(ACTIVATE, bytes.fromhex("0F00"))
        # Christmas every year (FFFF 0C 19 FF) on day profile 1; Sundays (weekday 7)
        c.action(method(*SPECIAL, 1), bytes.fromhex("0203 120005 0905 FFFF0C19FF 1101"))
        c.action(method(*SPECIAL, 1), bytes.fromhex("0203 120002 0905 FFFFFFFF07 1101"))
        assert c.get(attr(*SPECIAL, 2)) == bytes.fromhex(
            "0102 0203 120002 0905 FFFFFFFF07 1101 0203 120005 0905 FFFF0C19FF 1101"
        )
        with pytest.raises(ActionError, match="OTHER_REASON"):  # day profile 9 is not defined
            c.action(method(*SPECIAL, 1), bytes.fromhex("0203 120006 0905 FFFF0C1AFF 1109"))
        c.action(method(*SPECIAL, 2), bytes.fromhex("120005"))
        assert c.get(attr(*SPECIAL, 2)) == bytes.fromhex("0101 0203 120002 0905 FFFFFFFF07 1101")
        with pytest.raises(ActionError, match="OTHER_REASON"):
            c.action(method(*SPECIAL, 2), bytes.fromhex("120005"))  # already gone
