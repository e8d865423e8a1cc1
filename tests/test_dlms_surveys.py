"""Load-profile surveys, the daily survey and the Magno event logs as IC 7, over TCP
through dlms-cosem's client: whole with block transfer, by range and by entry.

The meter has survey 1 of +A (1.0.1.8.0.255) and voltage (1.0.32.7.0.255) every
15 minutes, survey 2 of -A every 60 minutes, and the default daily survey; it is
credited 2,000 kWh and runs at a constant 1 kW from 2004-01-01 00:00 UTC (its
local time is UTC) for 3 days. Worked by hand: every 15 minutes 250 Wh, so the
k-th capture (at k x 00:15) holds 250k Wh; 3 days are 288 captures, the newest
200 kept (capacity 200: 89-288). Voltage is the nominal 230.0 V = 2300 (scaler -1).
Each midnight the daily survey captures +A 24,000 Wh per day so far.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from dlms_cosem.client import DataResultError
from dlms_cosem.cosem.selective_access import RangeDescriptor

from sts.meter.metering import Metering
from tests.dlms_support import (
    CLOCK_CAPTURE,
    CTSA_DK,
    MADE,
    ByEntry,
    credit_token,
    long64,
    make_device,
    make_meter,
    served,
    utc,
)
from tests.dlms_support import attribute as attr

LOAD_1 = (7, "1.0.99.1.0.255")
LOAD_2 = (7, "1.0.99.1.1.255")
LOAD_3 = (7, "1.0.99.1.2.255")
DAILY = (7, "1.0.99.2.0.255")


def row(*values: bytes) -> bytes:
    return bytes([0x02, len(values)]) + b"".join(values)


VOLTS = bytes.fromhex("05 000008FC")  # 2300 x 0.1 V as double-long


def capture(k: int) -> bytes:
    return row(utc(MADE + timedelta(minutes=15 * k)), long64(250 * k), VOLTS)


@pytest.fixture(scope="module")
def server():
    metering = Metering.from_settings(
        {
            "surveys": [
                {"channels": ["1.0.1.8.0.255", "1.0.32.7.0.255"], "period_min": 15,
                 "capacity": 200},
                {"channels": ["1.0.2.8.0.255"], "period_min": 60, "capacity": 10},
            ]
        }
    )  # fmt: skip
    meter = make_meter(metering=metering)
    meter.enter_token(credit_token(CTSA_DK, tid=5_871_800, tenths=20000))  # 2,000 kWh
    meter.advance(MADE + timedelta(days=3), load=1000)
    with served(make_device(meter)) as s:
        yield s


def test_load_profile_whole_in_blocks(server):
    # the server's PDU is 1,024 octets: 200 rows of 30 are sent in blocks
    with server.client("lls", b"reader-1").session() as c:
        buffer = c.get(attr(*LOAD_1, 2))
        assert c.get(attr(*LOAD_1, 7)) == bytes.fromhex("06 000000C8")  # 200 in use
        assert c.get(attr(*LOAD_1, 8)) == bytes.fromhex("06 000000C8")  # of 200
        assert c.get(attr(*LOAD_1, 4)) == bytes.fromhex("06 00000384")  # 900 s
        assert c.get(attr(*LOAD_1, 3)) == bytes.fromhex(
            "0103 0204 120008 09060000010000FF 0F02 120000"
            " 0204 120003 09060100010800FF 0F02 120000"
            " 0204 120003 09060100200700FF 0F02 120000"
        )
    assert len(buffer) > 1024
    assert buffer[:3] == bytes.fromhex("0181C8")  # array of 200
    assert buffer[3:].startswith(capture(89))
    assert buffer.endswith(capture(288))
    assert buffer == bytes.fromhex("0181C8") + b"".join(capture(k) for k in range(89, 289))


def test_load_profile_by_range_and_by_entry(server):
    # 2004-01-03 01:00 to 02:00 UTC: captures 196-200 (49 x 4 = 196 is 01:00 of day 3)
    selection = RangeDescriptor(
        CLOCK_CAPTURE, datetime(2004, 1, 3, 1, tzinfo=UTC), datetime(2004, 1, 3, 2, tzinfo=UTC)
    )
    with server.client("lls", b"reader-1").session() as c:
        by_range = c.get(attr(*LOAD_1, 2), access_descriptor=selection)
        # entries 2-3 of the kept rows (captures 90 and 91), values 2-2 (+A only)
        by_entry = c.get(
            attr(*LOAD_1, 2),
            access_descriptor=ByEntry(from_entry=2, to_entry=3, from_value=2,
                                      to_value=2),
        )  # fmt: skip
        whole_by_entry = c.get(attr(*LOAD_1, 2), access_descriptor=ByEntry(1, 0, 1, 0))
    assert by_range == bytes.fromhex("0105") + b"".join(capture(k) for k in range(196, 201))
    assert by_entry == bytes.fromhex("0102") + row(long64(22_500)) + row(long64(22_750))
    assert whole_by_entry == bytes.fromhex("0181C8") + b"".join(capture(k) for k in range(89, 289))


def test_second_survey_and_an_unconfigured_third(server):
    with server.client("lls", b"reader-1").session() as c:
        second = c.get(attr(*LOAD_2, 2))
        assert c.get(attr(*LOAD_2, 4)) == bytes.fromhex("06 00000E10")  # 3,600 s
        assert c.get(attr(*LOAD_2, 7)) == bytes.fromhex("06 0000000A")  # 10 in use (ring full)
        assert c.get(attr(*LOAD_3, 2)) == bytes.fromhex("0100")
        assert c.get(attr(*LOAD_3, 3)) == bytes.fromhex("0100")
        assert c.get(attr(*LOAD_3, 8)) == bytes.fromhex("06 00000000")
    # nothing exported: -A stays 0 in the last 10 hourly captures (day 3, 15:00 to 24:00)
    hours = [MADE + timedelta(hours=h) for h in range(63, 73)]
    assert second == bytes.fromhex("010A") + b"".join(row(utc(h), long64(0)) for h in hours)


def test_daily_survey(server):
    with server.client("lls", b"reader-1").session() as c:
        buffer = c.get(attr(*DAILY, 2), access_descriptor=ByEntry(1, 0, 1, 3))
        captures = c.get(attr(*DAILY, 3))
        assert c.get(attr(*DAILY, 4)) == bytes.fromhex("06 00015180")  # 86,400 s
        assert c.get(attr(*DAILY, 8)) == bytes.fromhex("06 0000016E")  # 366
    # the default daily channels: +A, -A, then +A per rate 1-8, then -A per rate 1-8
    assert captures[:2] == bytes.fromhex("0113")  # clock + 18 channels
    assert bytes.fromhex("09060100010800FF") in captures
    assert bytes.fromhex("09060100020801FF") in captures
    days = [(MADE + timedelta(days=d), 24_000 * d) for d in (1, 2, 3)]
    # every kWh in rate 1 (no calendar): -A 0
    assert buffer == bytes.fromhex("0103") + b"".join(
        row(utc(at), long64(wh), long64(0)) for at, wh in days
    )


def test_event_logs_the_magno_way():
    meter = make_meter()
    meter.tamper("meter_cover", now=MADE + timedelta(minutes=1))
    meter.relay("disconnect", remote=True, now=MADE + timedelta(minutes=2))
    with served(make_device(meter)) as s, s.client("lls", b"reader-1").session() as c:
        fraud = c.get(attr(7, "0.0.99.98.1.255", 2))
        disconnector = c.get(attr(7, "0.0.99.98.2.255", 2))
        latest = c.get(attr(1, "0.0.96.11.2.255", 2))
        power_quality = c.get(attr(7, "0.0.99.98.4.255", 2))
        captures = c.get(attr(7, "0.0.99.98.2.255", 3))
        with pytest.raises(DataResultError, match="SCOPE_OF_ACCESS_VIOLATED"):
            c.get(attr(7, "0.0.99.98.1.255", 2), access_descriptor=ByEntry(0, 0, 1, 0))
    # meter cover opened (44 = 002C) at 00:01; disconnect command (105 = 0069) at 00:02
    assert fraud == bytes.fromhex("0101") + row(
        utc(MADE + timedelta(minutes=1)), bytes.fromhex("12002C")
    )
    assert disconnector == bytes.fromhex("0101") + row(
        utc(MADE + timedelta(minutes=2)), bytes.fromhex("120069")
    )
    assert latest == bytes.fromhex("120069")
    assert power_quality == bytes.fromhex("0100")
    assert captures == bytes.fromhex(
        "0102 0204 120008 09060000010000FF 0F02 120000 0204 120001 0906000060 0B02FF 0F02 120000"
    )


def test_sts_dlms_get_by_entry_and_by_range(server):
    from click.testing import CliRunner

    from cli import main

    def sts(*args: str):
        return CliRunner().invoke(main, ["dlms", "get", f"127.0.0.1:{server.port}", *args])

    by_entry = sts("1.0.99.1.0.255", "2", "--entry", "2", "3", "--password", "reader-1", "--json")
    assert by_entry.exit_code == 0, by_entry.output
    expected = bytes.fromhex("0102") + capture(90) + capture(91)
    assert json.loads(by_entry.output)["data"] == expected.hex()
    by_range = sts("1.0.99.1.0.255", "2", "--range", "2004-01-03 01:00+00:00",
                   "2004-01-03 01:15+00:00", "--password", "reader-1", "--json")  # fmt: skip
    assert by_range.exit_code == 0, by_range.output
    expected = bytes.fromhex("0102") + capture(196) + capture(197)
    assert json.loads(by_range.output)["data"] == expected.hex()
    for bad, words in ((["--entry", "0", "1"], "count from 1"),
                       (["--entry", "1", "x"], "not a whole number"),
                       (["--range", "2004-01-03", "+1h"], "not durations")):  # fmt: skip
        refused = sts("1.0.99.1.0.255", "2", *bad, "--password", "reader-1")
        assert refused.exit_code == 2 and words in refused.output, refused.output
