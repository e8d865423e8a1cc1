"""A water or gas meter on the DLMS server, through dlms-cosem's client over TCP.

By hand: a water (gas) token of 2.5 m3 (25 tenths, class 0 subclass 1 (2)) is pushed
through the token gateway (IC 115) at the meter's making; the volume wallet 0.0.19.10.0
then holds 2,500 (0.001 m3) and the volume register 0. A flow of 1.5 m3/h for 30
minutes draws 0.75 m3: volume 750, wallet 2,500 - 750 = 1,750, flow 1,500 (0.001 m3/h),
valve open. The 1.75 m3 left last 1.75 / 1.5 h = 70 minutes: two more hours of flow
leave the wallet at 0, the volume at 2,500, the valve shut and the flow at 0.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from dlms_cosem.client import DataResultError

import sts
from sts.meter.config import CreditConfig
from sts.meter.meter import Meter
from sts.tokens import CreditKind, TransferCredit
from tests.dlms_support import CTSA_DK, MADE, long64, make_device, make_meter, octets, served
from tests.dlms_support import attribute as attr
from tests.dlms_support import method as meth

TID = 5_871_800  # after the manufacture TID (4,017 days * 1,440 = 5,784,480)
GATEWAY = "0.0.19.40.0.255"
VOLUME_WALLET = "0.0.19.10.0.255"
DISCONNECT = "0.0.96.3.10.255"
ASSOCIATION = "0.0.40.0.0.255"

# service -> (credit subclass, volume register, flow register)
MEDIUM = {
    "water": (CreditKind.WATER, "8.0.1.0.0.255", "8.0.2.0.0.255"),
    "gas": (CreditKind.GAS, "7.0.3.0.0.255", "7.0.43.0.0.255"),
}
# service -> (volume load profile, monthly billing profile): tests/test_dlms_water_profiles.py
PROFILES = {
    "water": ("8.0.99.1.0.255", "8.0.98.1.0.255"),
    "gas": ("7.0.99.1.0.255", "7.0.98.1.0.255"),
}


def make(service: str) -> Meter:
    return make_meter(config=CreditConfig(service=service))


def token(kind: CreditKind, tenths: int) -> str:
    return sts.encode(
        TransferCredit.for_units(kind, tenths, TID, 3), sts.DecoderKey.from_hex(CTSA_DK)
    )


def double_long(value: int) -> bytes:
    return bytes([0x05]) + value.to_bytes(4, "big", signed=True)


def double_long_unsigned(value: int) -> bytes:
    return bytes([0x06]) + value.to_bytes(4, "big")


def scaler_unit(scaler: int, unit: int) -> bytes:
    return bytes([0x02, 0x02, 0x0F, scaler & 0xFF, 0x16, unit])


def entry_head(class_id: int) -> bytes:
    """An object-list entry's start: structure of 4, long-unsigned class id, version tag."""
    return bytes([0x02, 0x04, 0x12]) + class_id.to_bytes(2, "big") + b"\x11"


def name(obis: str) -> bytes:
    return bytes(int(part) for part in obis.split("."))


def names(raw: bytes) -> set[bytes]:
    """Every logical name in an object list (octet-string of 6 after the version)."""
    found = set()
    at = raw.find(b"\x09\x06")
    while at != -1:
        found.add(raw[at + 2 : at + 8])
        at = raw.find(b"\x09\x06", at + 8)
    return found


@pytest.mark.parametrize("service", ["water", "gas"])
def test_a_pushed_token_a_flow_and_the_valve_in_cubic_metres(service):
    kind, volume, flow = MEDIUM[service]
    meter = make(service)
    with served(make_device(meter)) as s:
        with s.client("lls", b"operator-2").session() as c:
            c.action(meth(115, GATEWAY, 1), octets(token(kind, 25)))
            # execution OK (3), STS result 1 (accept) as the 8-bit data value
            assert c.get(attr(115, GATEWAY, 6)) == bytes.fromhex("0202 1603 040801")
            assert c.get(attr(112, VOLUME_WALLET, 2)) == double_long(2500)
            assert c.get(attr(3, volume, 2)) == long64(0)
            assert c.get(attr(3, volume, 3)) == scaler_unit(-3, 13)  # 0.001 m3
            assert c.get(attr(3, flow, 3)) == scaler_unit(-3, 15)  # 0.001 m3/h

        meter.advance_flow(MADE + timedelta(minutes=30), Decimal("1.5"))
        with s.client("lls", b"reader-1").session() as c:
            assert c.get(attr(3, volume, 2)) == long64(750)
            assert c.get(attr(112, VOLUME_WALLET, 2)) == double_long(1750)
            assert c.get(attr(3, flow, 2)) == double_long_unsigned(1500)
            assert c.get(attr(70, DISCONNECT, 2)) == bytes.fromhex("03ff")  # valve open

        meter.advance_flow(MADE + timedelta(minutes=150), Decimal("1.5"))
        with s.client("lls", b"reader-1").session() as c:
            assert c.get(attr(3, volume, 2)) == long64(2500)
            assert c.get(attr(112, VOLUME_WALLET, 2)) == double_long(0)
            assert c.get(attr(3, flow, 2)) == double_long_unsigned(0)
            assert c.get(attr(70, DISCONNECT, 2)) == bytes.fromhex("0300")  # valve shut


@pytest.mark.parametrize("service", ["water", "gas"])
def test_the_object_list_has_volume_registers_and_no_electricity(service):
    _kind, volume, flow = MEDIUM[service]
    with served(make_device(make(service))) as s, s.client("lls", b"reader-1").session() as c:
        raw = c.get(attr(15, ASSOCIATION, 2))
    # 74 objects of the electricity meter, less 34 metering registers, +A total, +A this
    # day and this month, 3 surveys and the daily survey, the monthly billing profile
    # and the power quality log with its event code (44), plus volume and flow, the
    # volume profiles of the 3 surveys and the daily survey and the medium's monthly
    # billing profile: 37
    assert raw[:2] == bytes([0x01, 37])
    load, billing = PROFILES[service]
    a = load.split(".")[0]
    more = [f"{a}.0.99.1.1.255", f"{a}.0.99.1.2.255", f"{a}.0.99.2.0.255"]
    for class_id, obis in [(3, volume), (3, flow), (115, GATEWAY), (70, DISCONNECT),
                           (112, VOLUME_WALLET), (1, "1.0.0.2.0.255"), (7, load),
                           (7, billing), *((7, o) for o in more)]:  # fmt: skip
        at = raw.index(b"\x09\x06" + name(obis))
        assert raw[at - 7 : at - 1] == entry_head(class_id)
    listed = names(raw)
    # of value group A = 1 only the firmware identifier (the image transfer reports it)
    assert {n for n in listed if n[0] == 1} == {bytes((1, 0, 0, 2, 0, 255))}
    for gone in ("0.0.98.1.0.255", "0.0.99.98.4.255", "0.0.96.11.4.255"):
        assert name(gone) not in listed


@pytest.mark.parametrize("service", ["water", "gas"])
@pytest.mark.parametrize(
    ("class_id", "obis"),
    [
        (3, "1.0.1.8.0.255"),  # +A total
        (3, "1.0.32.7.0.255"),  # voltage L1
        (3, "1.0.31.7.0.255"),  # current L1
        (3, "1.0.1.7.0.255"),  # active power
        (3, "1.0.1.9.0.255"),  # +A this month
        (7, "1.0.99.1.0.255"),  # load survey
        (7, "0.0.99.98.4.255"),  # power quality log
        (7, "0.0.98.1.0.255"),  # monthly billing over +A
    ],
)
def test_electricity_objects_are_undefined(service, class_id, obis):
    with served(make_device(make(service))) as s, s.client("lls", b"admin-3").session() as c:
        with pytest.raises(DataResultError, match="OBJECT_UNDEFINED"):
            c.get(attr(class_id, obis, 2))
        assert c.get(attr(1, "0.0.42.0.0.255", 2)) == octets("STS00000000000")


def test_an_electricity_meter_has_no_volume_register():
    device = make_device(make("electricity"))
    with served(device) as s, s.client("lls", b"reader-1").session() as c:
        for obis in ("8.0.1.0.0.255", "7.0.3.0.0.255"):
            with pytest.raises(DataResultError, match="OBJECT_UNDEFINED"):
                c.get(attr(3, obis, 2))


def test_the_unit_charge_prices_the_volume_register():
    with served(make_device(make("water"))) as s, s.client("lls", b"reader-1").session() as c:
        unit_charge = c.get(attr(113, "0.0.19.20.0.255", 5))
    # {scaling {commodity_scale, price_scale}, commodity {class 3, 8.0.1.0.0.255, attr 2}, ..}
    commodity = bytes.fromhex("0203 120003 0906 080001 0000ff 0f02")
    assert commodity in unit_charge
