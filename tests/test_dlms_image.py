"""Firmware upgrade through image transfer (IC 18) and its schedule (IC 22), over TCP
with dlms-cosem's client as the admin (LLS).

The image is 300 octets: 268 octets of payload and their SHA-256 (32 octets), sent in
blocks of 128, 128 and 44 octets. A verified image scheduled for 2004-01-01 01:00 UTC
activates when the (frozen) clock is set past it; the firmware version then reads the
image's identifier. An image whose hash does not match is refused.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from dlms_cosem import enumerations as E
from dlms_cosem.client import ActionError
from dlms_cosem.time import datetime_to_bytes

from sts.meter.dlms.device import Counters
from sts.meter.dlms.files import settings_to_json
from tests.dlms_support import MADE, make_device, method, octets, served
from tests.dlms_support import attribute as attr

IMAGE = (18, "0.0.44.0.0.255")
SCHEDULE = (22, "0.0.15.0.2.255")
FIRMWARE = attr(1, "1.0.0.2.0.255", 2)


def start(identifier: str, size: int) -> bytes:
    return bytes.fromhex("0202") + octets(identifier) + b"\x06" + size.to_bytes(4, "big")


def block(number: int, value: bytes) -> bytes:
    # structure {double-long-unsigned number, octet-string value}; a length of 128 or
    # more takes two octets (81 nn)
    size = bytes([len(value)]) if len(value) < 128 else bytes([0x81, len(value)])
    return bytes.fromhex("0202 06") + number.to_bytes(4, "big") + b"\x09" + size + value


def send(c, identifier: str, image: bytes) -> None:
    c.action(method(*IMAGE, 1), start(identifier, len(image)))
    for number in range(0, len(image), 128):
        c.action(method(*IMAGE, 2), block(number // 128, image[number : number + 128]))


PAYLOAD = bytes(range(256)) + b"sts firmware"  # 268 octets
GOOD = PAYLOAD + hashlib.sha256(PAYLOAD).digest()


def test_upgrade_verified_and_activated_at_its_time():
    with served(make_device()) as server, server.client("lls", b"admin-3").session() as c:
        assert c.get(FIRMWARE) == octets("sts-toolkit meter 1.0")
        assert c.get(attr(*IMAGE, 2)) == bytes.fromhex("06 00000080")  # blocks of 128
        send(c, "meter 2.0", GOOD)
        assert c.get(attr(*IMAGE, 3)) == bytes.fromhex("04 03 E0")  # 3 blocks, all there
        assert c.get(attr(*IMAGE, 4)) == bytes.fromhex("06 00000003")  # none missing
        c.action(method(*IMAGE, 3), bytes.fromhex("0F00"))
        assert c.get(attr(*IMAGE, 6)) == bytes.fromhex("1603")  # verification successful
        # activate at 01:00 on 2004-01-01: {time 01:00:00.00, date 2004-01-01, weekday FF}
        at = bytes.fromhex("0101 0202 0904 01000000 0905 07D40101FF")
        assert c.set(attr(*SCHEDULE, 4), at).result is E.DataAccessResult.SUCCESS
        assert c.get(attr(*SCHEDULE, 4)) == at
        assert c.get(FIRMWARE) == octets("sts-toolkit meter 1.0")  # not yet
        later = MADE + timedelta(hours=1, minutes=5)
        c.set(attr(8, "0.0.1.0.0.255", 2), bytes([0x09, 12]) + datetime_to_bytes(later))
        assert c.get(FIRMWARE) == octets("meter 2.0")
        assert c.get(attr(*IMAGE, 6)) == bytes.fromhex("1606")  # activation successful
    assert server.device.notes["firmware"] == "meter 2.0"


def test_a_bad_image_is_refused_and_not_activated():
    bad = GOOD[:-1] + bytes([GOOD[-1] ^ 1])
    with served(make_device()) as server:
        with (
            server.client("lls", b"operator-2").session() as c,
            pytest.raises(ActionError, match="READ_WRITE_DENIED"),
        ):
            c.action(method(*IMAGE, 1), start("meter 2.0", len(GOOD)))  # admin only
        with server.client("lls", b"admin-3").session() as c:
            send(c, "meter 2.0", bad)
            with pytest.raises(ActionError, match="OTHER_REASON"):
                c.action(method(*IMAGE, 3), bytes.fromhex("0F00"))
            assert c.get(attr(*IMAGE, 6)) == bytes.fromhex("1604")  # verification failed
            with pytest.raises(ActionError, match="OTHER_REASON"):
                c.action(method(*IMAGE, 4), bytes.fromhex("0F00"))
            with pytest.raises(ActionError, match="TYPE_UNMATCHED"):
                c.action(method(*IMAGE, 2), block(3, b"x"))  # no block 3 in 300 octets
            assert c.get(FIRMWARE) == octets("sts-toolkit meter 1.0")


def test_the_active_firmware_is_kept_with_the_settings():
    from tests.dlms_support import make_device as device

    settings = device().settings
    assert '"firmware": "meter 2.0"' in settings_to_json(settings, Counters(), "meter 2.0")
    assert "firmware" not in settings_to_json(settings, Counters())
