"""Profiles (IC 7) over TCP through dlms-cosem's client: the monthly billing records and
the event log, whole and by selective access (range, entry); the daily survey by entry in
the core (the surveys themselves: tests/test_dlms_surveys.py).

The meter is credited 2,000 kWh and runs at a constant 1 kW from 2004-01-01 00:00 UTC
(its local time is UTC): every full day uses 24 kWh = 24,000 Wh (00005DC0), January
31 x 24 = 744 kWh = 744,000 Wh (000B5A40). Capture times are the local midnights that
closed each day or month, written as date-times without a deviation (8000).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from dlms_cosem.client import DataResultError
from dlms_cosem.cosem.selective_access import RangeDescriptor

from sts.meter.dlms.server import Session
from tests.dlms_support import (
    CLOCK_CAPTURE,
    CTSA_DK,
    MADE,
    READER_AARQ,
    credit_token,
    make_device,
    make_meter,
    served,
)
from tests.dlms_support import attribute as attr

DAILY = (7, "1.0.99.2.0.255")
MONTHLY = (7, "0.0.98.1.0.255")
EVENTS = (7, "0.0.99.98.0.255")
DAY_WH = bytes.fromhex("06 00005DC0")  # 24,000 Wh


def midnight(year: int, month: int, day: int) -> bytes:
    """octet-string of 12: year, month, day, weekday not given (FF), 00:00:00.00,
    deviation not given (8000), status 0."""
    return (
        bytes.fromhex("090C")
        + year.to_bytes(2, "big")
        + bytes([month, day, 0xFF])
        + bytes(4)
        + bytes.fromhex("8000 00")
    )


def row(*values: bytes) -> bytes:
    return bytes([0x02, len(values)]) + b"".join(values)


@pytest.fixture
def server():
    meter = make_meter()
    meter.enter_token(credit_token(CTSA_DK, tid=5_871_800, tenths=20000))  # 2,000 kWh
    meter.advance(MADE + timedelta(days=33), load=1000)  # to 2004-02-03 00:00
    with served(make_device(meter)) as s:
        yield s


def test_monthly_billing_profile(server):
    with server.client("lls", b"reader-1").session() as c:
        buffer = c.get(attr(*MONTHLY, 2))
    # January closed at 2004-02-01 00:00: 744,000 Wh
    assert buffer == bytes.fromhex("0101") + row(midnight(2004, 2, 1), bytes.fromhex("06 000B5A40"))


def test_event_log_rows_and_range(server):
    with server.client("lls", b"reader-1").session() as c:
        buffer = c.get(attr(*EVENTS, 2))
        # the first event: "meter made" (setting changed, code 13) at 2004-01-01 00:00 UTC
        first = row(bytes.fromhex("090C 07D40101FF 00000000 0000 00"), bytes.fromhex("110D"))
        assert buffer[2 : 2 + len(first)] == first
        # then the token accepted (1) and the relay closed (5) at the same time
        assert bytes.fromhex("1101") in buffer and bytes.fromhex("1105") in buffer
        none = RangeDescriptor(CLOCK_CAPTURE, datetime(2003, 1, 1), datetime(2003, 12, 31))
        assert c.get(attr(*EVENTS, 2), access_descriptor=none) == bytes.fromhex("0100")
        with pytest.raises(DataResultError, match="SCOPE_OF_ACCESS_VIOLATED"):
            c.get(attr(8, "0.0.1.0.0.255", 2), access_descriptor=none)  # the clock: no selection


def test_daily_survey_by_entry_in_the_core():
    meter = make_meter()
    meter.enter_token(credit_token(CTSA_DK, tid=5_871_800, tenths=20000))
    meter.advance(MADE + timedelta(days=3), load=1000)
    session = Session(make_device(meter), client_sap=1)
    assert bytes.fromhex("A203020100") in session.receive(READER_AARQ)  # accepted
    # Get-Request-Normal, daily survey buffer, access selector 2 (entry):
    # {from_entry 2, to_entry 2, from_selected_value 2, to_selected_value 2}
    request = bytes.fromhex(
        "C001C1 0007 0100630200FF 02 01 02 0204 0600000002 0600000002 120002 120002"
    )
    # one row with one value: +A at the second midnight, 48,000 Wh as long64 (tag 14)
    assert session.receive(request) == bytes.fromhex("C401C1 00 0101 0201 14 000000000000BB80")
    past_the_end = bytes.fromhex(
        "C001C1 0007 0100630200FF 02 01 02 0204 0600000009 0600000000 120001 120000"
    )
    assert session.receive(past_the_end) == bytes.fromhex("C401C1 00 0100")
    from_zero = bytes.fromhex(
        "C001C1 0007 0100630200FF 02 01 02 0204 0600000000 0600000000 120001 120000"
    )
    assert session.receive(from_zero) == bytes.fromhex("C401C1 01 0D")  # scope of access
