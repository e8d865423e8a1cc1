"""Disconnect control (IC 70) over TCP through dlms-cosem's client: remote disconnect and
reconnect as each control mode allows (IEC 62056-6-2 class 70; the transitions are
:mod:`sts.meter.disconnect`'s), through the meter's own disconnect control.

Control state 0 disconnected, 1 connected, 2 ready for reconnection; output state is
the relay itself (closed only when connected and the meter has credit). A command the
mode allows but not from the present state answers temporary-failure (2); any command
under mode 0 (no remote control) read-write-denied (3).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from dlms_cosem import enumerations as E
from dlms_cosem.client import ActionError

from tests.dlms_support import CTSA_DK, MADE, credit_token, make_device, make_meter, method, served
from tests.dlms_support import attribute as attr

DC = (70, "0.0.96.3.10.255")
DISCONNECT = method(*DC, 1)
RECONNECT = method(*DC, 2)
ZERO = bytes.fromhex("0F00")  # data: integer 0
CLOSED, OPEN = bytes.fromhex("03FF"), bytes.fromhex("0300")


def state(c) -> tuple[bytes, bytes, bytes]:
    return c.get(attr(*DC, 2)), c.get(attr(*DC, 3)), c.get(attr(*DC, 4))


@pytest.fixture
def served_meter():
    meter = make_meter()
    meter.enter_token(credit_token(CTSA_DK, tid=5_871_800, tenths=20000))  # 2,000 kWh
    with served(make_device(meter)) as s:
        yield s


def test_mode_1_remote_reconnect_arms_and_the_button_closes(served_meter):
    s = served_meter
    with s.client("lls", b"operator-2").session() as c:
        assert state(c) == (CLOSED, bytes.fromhex("1601"), bytes.fromhex("1601"))  # mode 1
        c.action(DISCONNECT, ZERO)
        assert state(c)[:2] == (OPEN, bytes.fromhex("1600"))
        with pytest.raises(ActionError, match="TEMPORARY_FAILURE"):
            c.action(DISCONNECT, ZERO)  # already disconnected
        c.action(RECONNECT, ZERO)
        # ready for reconnection: the relay stays open until the customer's button
        assert state(c)[:2] == (OPEN, bytes.fromhex("1602"))
    s.device.meter.relay("reconnect", now=MADE + timedelta(minutes=1))  # the button
    with s.client("lls", b"reader-1").session() as c:
        assert state(c)[:2] == (CLOSED, bytes.fromhex("1601"))
    with (
        s.client("lls", b"operator-2").session() as c,
        pytest.raises(ActionError, match="TEMPORARY_FAILURE"),
    ):
        c.action(RECONNECT, ZERO)  # connected already


def test_mode_2_remote_reconnect_closes_at_once(served_meter):
    with served_meter.client("lls", b"admin-3").session() as c:
        assert c.set(attr(*DC, 4), bytes.fromhex("1602")).result is E.DataAccessResult.SUCCESS
        c.action(DISCONNECT, ZERO)
        assert state(c) == (OPEN, bytes.fromhex("1600"), bytes.fromhex("1602"))
        c.action(RECONNECT, ZERO)
        assert state(c)[:2] == (CLOSED, bytes.fromhex("1601"))


def test_mode_0_refuses_every_command_and_connects(served_meter):
    with served_meter.client("lls", b"admin-3").session() as c:
        c.action(DISCONNECT, ZERO)
        assert state(c)[:2] == (OPEN, bytes.fromhex("1600"))
        # mode 0 is "always connected": setting it closes the relay
        assert c.set(attr(*DC, 4), bytes.fromhex("1600")).result is E.DataAccessResult.SUCCESS
        assert state(c) == (CLOSED, bytes.fromhex("1601"), bytes.fromhex("1600"))
        for command in (DISCONNECT, RECONNECT):
            with pytest.raises(ActionError, match="READ_WRITE_DENIED"):
                c.action(command, ZERO)
        assert state(c)[:2] == (CLOSED, bytes.fromhex("1601"))


def test_bad_modes_and_levels_are_refused(served_meter):
    s = served_meter
    with s.client("lls", b"admin-3").session() as c:
        for bad in ("1607", "1101"):  # mode 7; an unsigned, not an enum
            result = c.set(attr(*DC, 4), bytes.fromhex(bad)).result
            assert result is E.DataAccessResult.TYPE_UNMATCHED
    with s.client("lls", b"reader-1").session() as c:
        result = c.set(attr(*DC, 4), bytes.fromhex("1602")).result
        assert result is E.DataAccessResult.READ_WRITE_DENIED
        with pytest.raises(ActionError, match="READ_WRITE_DENIED"):
            c.action(DISCONNECT, ZERO)
        assert state(c) == (CLOSED, bytes.fromhex("1601"), bytes.fromhex("1601"))
    assert s.device.meter.metering.guard.disconnect.mode == 1
