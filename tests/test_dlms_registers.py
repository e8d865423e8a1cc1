"""The metering registers (IC 3) over TCP through dlms-cosem's client.

The meter is credited 2,000 kWh at 2004-01-01 00:00 UTC, draws 1,000 W with 300 var
(inductive: quadrant I) for an hour, then exports 600 W for an hour. By hand:
+A 1,000 Wh, Q1 300 varh, -A 600 Wh, |A| 1,600 Wh; no calendar, so everything is
in rate 1. The standing load afterwards is the export: 600 W out, no current
reactive power; the default supply is 230.0 V (2300, scaler -1) at 50.00 Hz
(5000, scaler -2).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from sts.meter.measurement import LoadPoint
from tests.dlms_support import CTSA_DK, MADE, credit_token, long64, make_device, make_meter, served
from tests.dlms_support import attribute as attr


def double_long(value: int) -> bytes:
    return bytes([0x05]) + value.to_bytes(4, "big", signed=True)


def scaler_unit(scaler: int, unit: int) -> bytes:
    """structure {integer scaler, enum unit}."""
    return bytes([0x02, 0x02, 0x0F, scaler & 0xFF, 0x16, unit])


@pytest.fixture(scope="module")
def server():
    meter = make_meter()
    meter.enter_token(credit_token(CTSA_DK, tid=5_871_800, tenths=20000))  # 2,000 kWh
    meter.advance(MADE + timedelta(hours=1), LoadPoint(1000, 300))
    meter.advance(MADE + timedelta(hours=2), LoadPoint(-600, 0))
    with served(make_device(meter)) as s:
        yield s


@pytest.mark.parametrize(
    ("obis", "value", "unit"),
    [
        ("1.0.2.8.0.255", 600, 30),  # -A, Wh
        ("1.0.15.8.0.255", 1600, 30),  # |A|
        ("1.0.5.8.0.255", 300, 32),  # Q1, varh
        ("1.0.8.8.0.255", 0, 32),  # Q4
        ("1.0.1.8.1.255", 1000, 30),  # +A rate 1
        ("1.0.1.8.2.255", 0, 30),  # +A rate 2
        ("1.0.2.8.1.255", 600, 30),  # -A rate 1
    ],
)
def test_energy_registers(server, obis, value, unit):
    with server.client("lls", b"reader-1").session() as c:
        assert c.get(attr(3, obis, 2)) == long64(value)
        assert c.get(attr(3, obis, 3)) == scaler_unit(0, unit)


@pytest.mark.parametrize(
    ("obis", "value", "scaler", "unit"),
    [
        ("1.0.32.7.0.255", 2300, -1, 35),  # voltage, V
        ("1.0.14.7.0.255", 5000, -2, 44),  # frequency, Hz
        ("1.0.1.7.0.255", 0, 0, 27),  # active power import, W
        ("1.0.2.7.0.255", 600, 0, 27),  # active power export
        ("1.0.3.7.0.255", 0, 0, 29),  # reactive power, var
    ],
)
def test_instantaneous_registers(server, obis, value, scaler, unit):
    with server.client("lls", b"reader-1").session() as c:
        assert c.get(attr(3, obis, 2)) == double_long(value)
        assert c.get(attr(3, obis, 3)) == scaler_unit(scaler, unit)


def test_total_import_stays_the_credit_engines(server):
    # +A total is served once, from the credit engine: 1,000 Wh delivered
    with server.client("lls", b"reader-1").session() as c:
        assert c.get(attr(3, "1.0.1.8.0.255", 2)) == bytes([0x06]) + (1000).to_bytes(4, "big")
