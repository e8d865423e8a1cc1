"""The DLMS/COSEM server through dlms-cosem's own client over real TCP (127.0.0.1).

Every expected value is worked by hand: A-XDR bytes written out from
IEC 62056-6-2 (tag, length, value), the token outcomes from the STS rules
(CTSA01's 0.1 kWh token is accepted once, then Used; a token made under
another key fails its CRC), and the IC 115 status mapping documented in
:mod:`sts.meter.dlms.objects`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from dlms_cosem import enumerations as E
from dlms_cosem.client import ActionError, DataResultError
from dlms_cosem.cosem.attribute_with_selection import CosemAttributeWithSelection
from dlms_cosem.exceptions import DlmsClientException
from dlms_cosem.time import datetime_from_bytes, datetime_to_bytes

from sts.meter.config import CreditConfig, EmergencyConfig
from sts.meter.dlms.payment import GATEWAY_STATUS
from sts.results import ResultCode
from tests.dlms_support import (
    AK,
    CREDIT_01KWH,
    CTSA_DK,
    EK,
    MADE,
    OTHER_DK,
    credit_token,
    make_device,
    make_meter,
    method,
    octets,
    served,
)
from tests.dlms_support import attribute as attr

CLOCK = (8, "0.0.1.0.0.255")
LDN = (1, "0.0.42.0.0.255")
FIRMWARE = (1, "1.0.0.2.0.255")
ASSOCIATION = (15, "0.0.40.0.0.255")
FRAME_COUNTER = (1, "0.0.43.1.0.255")
ENERGY = (3, "1.0.1.8.0.255")
ACCOUNT = (111, "0.0.19.0.0.255")
ENERGY_WALLET = (112, "0.0.19.10.0.255")
MONEY_WALLET = (112, "0.0.19.10.1.255")
EMERGENCY = (112, "0.0.19.10.2.255")
GATEWAY = (115, "0.0.19.40.0.255")
DISCONNECT = (70, "0.0.96.3.10.255")


@pytest.fixture
def server():
    with served(make_device()) as s:
        yield s


def get(client, obj, index):
    return client.get(attr(obj[0], obj[1], index))


# -- associations -------------------------------------------------------------------------


def test_public_client_reads_the_public_objects(server):
    with server.client().session() as c:
        clock = get(c, CLOCK, 2)
        # octet-string of 12: 2004 (07D4) January 1, weekday not given, 00:00:00.00,
        # deviation 0 (UTC), status 0
        assert clock[:6] == bytes.fromhex("090c 07d4 0101") and clock[7:] == bytes(7)
        assert get(c, CLOCK, 1) == bytes.fromhex("0906 0000010000ff")
        assert get(c, CLOCK, 3) == bytes.fromhex("10 0000")  # time_zone: long 0 (UTC)
        assert get(c, LDN, 2) == octets("STS00000000000")
        assert get(c, FIRMWARE, 2) == octets("sts-toolkit meter 1.0")
        assert get(c, FRAME_COUNTER, 2) == bytes.fromhex("06 00000000")
        # associated_partners_id: structure {integer 16, long-unsigned 1}
        assert get(c, ASSOCIATION, 3) == bytes.fromhex("0202 0f10 120001")
        assert get(c, ASSOCIATION, 8) == bytes.fromhex("1602")  # associated


def test_public_client_is_refused_the_rest(server):
    with server.client().session() as c:
        for obj in (ENERGY, ENERGY_WALLET, ACCOUNT, GATEWAY, DISCONNECT):
            with pytest.raises(DataResultError, match="READ_WRITE_DENIED"):
                get(c, obj, 2)
        with pytest.raises(ActionError, match="READ_WRITE_DENIED"):
            c.action(method(*GATEWAY, 1), octets(CREDIT_01KWH))
    assert server.device.meter.status().credit.energy_kwh == 0


def test_object_list_names_every_object_with_its_class(server):
    with server.client("lls", b"reader-1").session() as c:
        raw = get(c, ASSOCIATION, 2)
    # array of 74 entries: 22 of the server (2 charges among them), 34 metering registers,
    # 3 surveys and the daily survey,
    # 6 event logs with their 6 event code registers, the calendar and special days
    assert raw[:2] == bytes([0x01, 74])
    expected = [CLOCK, LDN, FIRMWARE, ASSOCIATION, FRAME_COUNTER, ENERGY, ACCOUNT,
                ENERGY_WALLET, MONEY_WALLET, EMERGENCY, GATEWAY, DISCONNECT,
                (3, "1.0.1.29.0.255"), (3, "1.0.1.9.0.255"), (1, "0.0.96.11.0.255"),
                (7, "1.0.99.2.0.255"), (7, "0.0.98.1.0.255"), (7, "0.0.99.98.0.255"),
                (18, "0.0.44.0.0.255"), (22, "0.0.15.0.2.255"), (40, "0.0.25.9.0.255"),
                (3, "1.0.2.8.0.255"), (3, "1.0.2.8.8.255"), (3, "1.0.81.7.40.255"),
                (7, "1.0.99.1.0.255"), (7, "1.0.99.1.1.255"), (7, "1.0.99.1.2.255"),
                *((7, f"0.0.99.98.{e}.255") for e in (1, 2, 4, 6, 7, 8)),
                *((1, f"0.0.96.11.{e}.255") for e in (1, 2, 4, 6, 7, 8)),
                (20, "0.0.13.0.0.255"), (11, "0.0.11.0.0.255"),
                (113, "0.0.19.20.0.255"), (113, "0.0.19.20.1.255")]  # fmt: skip
    for class_id, obis in expected:
        name = bytes(int(part) for part in obis.split("."))
        # structure of 4: long-unsigned class id, unsigned version, octet-string name
        head = bytes([0x02, 0x04, 0x12]) + class_id.to_bytes(2, "big") + b"\x11"
        at = raw.index(b"\x09\x06" + name)
        assert raw[at - 7 : at - 2] == head[:5]


def test_management_client_needs_a_right_password(server):
    for password in (b"wrong", b"", b"READER-1"):
        with pytest.raises(DlmsClientException, match="AUTHENTICATION_FAILED"):
            server.client("lls", password).session().__enter__()
    with pytest.raises(DlmsClientException, match="AUTHENTICATION_REQUIRED"):
        server.client("public", client_sap=1).session().__enter__()
    # the public client with a password is not the public client
    with pytest.raises(DlmsClientException, match="MECHANISM_NAME_NOT_RECOGNIZED"):
        server.client("lls", b"reader-1", client_sap=16).session().__enter__()


def test_release_answers_with_a_release_response(server):
    client = server.client("lls", b"reader-1")
    client.connect()
    client.associate()
    rlre = client.release_association()
    client.disconnect()
    assert rlre.reason is E.ReleaseResponseReason.NORMAL


# -- the three password levels ------------------------------------------------------------


def test_reader_reads_but_may_not_enter_tokens_or_set_the_clock(server):
    with server.client("lls", b"reader-1").session() as c:
        assert get(c, ENERGY_WALLET, 2) == bytes.fromhex("05 00000000")
        with pytest.raises(ActionError, match="READ_WRITE_DENIED"):
            c.action(method(*GATEWAY, 1), octets(CREDIT_01KWH))
        answer = c.set(attr(*CLOCK, 2), bytes([0x09, 12]) + datetime_to_bytes(MADE))
        assert answer.result is E.DataAccessResult.READ_WRITE_DENIED
    assert server.device.meter.status().credit.energy_kwh == 0


def test_operator_pushes_a_token_accept_then_used_then_crc(server):
    with server.client("lls", b"operator-2").session() as c:
        assert c.action(method(*GATEWAY, 1), octets(CREDIT_01KWH)) is None
        # token_status: structure {enum 3 (execution OK), bit-string of 8 bits = STS code 1}
        assert get(c, GATEWAY, 6) == bytes.fromhex("0202 1603 040801")
        assert get(c, GATEWAY, 2) == octets(CREDIT_01KWH)
        assert get(c, GATEWAY, 4) == bytes.fromhex("0101") + octets("STS 1 Accept")
        assert get(c, GATEWAY, 5) == bytes.fromhex("1600")  # delivered remotely
        assert datetime_from_bytes(get(c, GATEWAY, 3)[2:])[0] == MADE.replace(tzinfo=None)
        assert get(c, ENERGY_WALLET, 2) == bytes.fromhex("05 00000064")  # 100 Wh
        assert get(c, ENERGY_WALLET, 8) == bytes.fromhex("1603")  # in use

        c.action(method(*GATEWAY, 1), octets(CREDIT_01KWH))
        assert get(c, GATEWAY, 6) == bytes.fromhex("0202 1606 04080a")  # validation, Used (10)
        description = get(c, GATEWAY, 4)
        assert description.startswith(bytes.fromhex("0102") + octets("STS 10 Used"))

        other = credit_token(OTHER_DK, tid=5_871_800, tenths=5)
        c.action(method(*GATEWAY, 1), octets(other))
        assert get(c, GATEWAY, 6) == bytes.fromhex("0202 1605 04080d")  # authentication, CRC
        assert get(c, ENERGY_WALLET, 2) == bytes.fromhex("05 00000064")
    status = server.device.meter.status()
    assert (
        status.credit.energy_kwh == Decimal("0.1") and status.tid_count == 2
    )  # manufacture TID + 1


def test_the_gateway_and_the_keypad_share_the_tid_memory(server):
    server.device.meter.enter_token(CREDIT_01KWH)  # keyed in at the meter first
    with server.client("lls", b"operator-2").session() as c:
        c.action(method(*GATEWAY, 1), octets(CREDIT_01KWH))
        assert get(c, GATEWAY, 6) == bytes.fromhex("0202 1606 04080a")  # Used


def test_the_gateway_shares_the_keypad_lockout(server):
    # three tokens under another key: three CRC rejections lock the keypad for 10 s
    # (DESIGN.md); the clock stands still, so the CTSA01 token after them meets the lock
    with server.client("lls", b"operator-2").session() as c:
        for tid in (5_871_801, 5_871_802, 5_871_803):
            c.action(method(*GATEWAY, 1), octets(credit_token(OTHER_DK, tid=tid, tenths=5)))
            assert get(c, GATEWAY, 6) == bytes.fromhex("0202 1605 04080d")  # CRC
        c.action(method(*GATEWAY, 1), octets(CREDIT_01KWH))
        assert get(c, GATEWAY, 6) == bytes.fromhex("0202 1607 04080f")  # execution: Lockout
    assert server.device.meter.status().credit.energy_kwh == 0


def test_every_sts_result_has_a_gateway_status():
    assert set(GATEWAY_STATUS) == set(ResultCode)


def test_gateway_refuses_what_is_not_twenty_digits(server):
    with server.client("lls", b"operator-2").session() as c:
        for bad in (octets(CREDIT_01KWH[:19]), octets("2371610050118319419x"),
                    bytes.fromhex("0600000001")):  # fmt: skip
            with pytest.raises(ActionError, match="TYPE_UNMATCHED"):
                c.action(method(*GATEWAY, 1), bad)
        assert get(c, GATEWAY, 6) == bytes.fromhex("0202 1608 0400")  # not yet processed
    assert server.device.meter.decoder.lockout.failures == 0


def test_admin_sets_the_clock_forward_only(server):
    later = datetime(2004, 6, 1, 12, 0, tzinfo=UTC)
    with server.client("lls", b"admin-3").session() as c:
        answer = c.set(attr(*CLOCK, 2), bytes([0x09, 12]) + datetime_to_bytes(later))
        assert answer.result is E.DataAccessResult.SUCCESS
        assert datetime_from_bytes(get(c, CLOCK, 2)[2:])[0] == later.replace(tzinfo=None)
        answer = c.set(attr(*CLOCK, 2), bytes([0x09, 12]) + datetime_to_bytes(MADE))
        assert answer.result is E.DataAccessResult.OTHER_REASON
        answer = c.set(attr(*CLOCK, 2), bytes.fromhex("0600000001"))
        assert answer.result is E.DataAccessResult.TYPE_UNMATCHED
    assert server.device.meter.clock == later


# -- the payment and register objects -----------------------------------------------------


def test_registers_credits_account_and_relay_after_a_token(server):
    server.device.meter.enter_token(credit_token(CTSA_DK, tid=5_871_800, tenths=255))  # 25.5 kWh
    with server.client("lls", b"reader-1").session() as c:
        assert get(c, ENERGY, 2) == bytes.fromhex("06 00000000")  # nothing used yet
        assert get(c, ENERGY, 3) == bytes.fromhex("0202 0f00 161e")  # scaler 0, unit Wh
        assert get(c, ENERGY_WALLET, 2) == bytes.fromhex("05 0000639c")  # 25,500 Wh
        assert get(c, ENERGY_WALLET, 3) == bytes.fromhex("1600")  # token credit
        assert get(c, MONEY_WALLET, 2) == bytes.fromhex("05 00000000")
        assert get(c, MONEY_WALLET, 8) == bytes.fromhex("1604")  # exhausted
        assert get(c, EMERGENCY, 3) == bytes.fromhex("1602")  # emergency credit
        assert get(c, EMERGENCY, 6) == bytes.fromhex("05 00000000")  # none configured
        assert get(c, ACCOUNT, 2) == bytes.fromhex("0202 1602 1602")  # prepayment, active
        assert get(c, ACCOUNT, 3) == bytes.fromhex("1101")  # energy wallet in use
        assert get(c, ACCOUNT, 9)[:2] == bytes.fromhex("0103")
        # currency: structure {visible-string "currency", integer -2, enum 2 (monetary)}
        assert get(c, ACCOUNT, 15) == bytes.fromhex("0203 0a08") + b"currency" + bytes.fromhex(
            "0ffe 1602"
        )
        assert get(c, DISCONNECT, 2) == bytes.fromhex("03ff")  # output state: closed
        assert get(c, DISCONNECT, 3) == bytes.fromhex("1601")  # connected
        assert get(c, DISCONNECT, 4) == bytes.fromhex("1601")  # control mode 1


def test_relay_open_without_credit_while_connected(server):
    # no credit opens the relay (output state), not the disconnect control (still
    # connected); remote switching: tests/test_dlms_disconnect.py
    with server.client("lls", b"admin-3").session() as c:
        assert get(c, DISCONNECT, 2) == bytes.fromhex("0300")
        assert get(c, DISCONNECT, 3) == bytes.fromhex("1601")


def test_emergency_credit_refused_when_the_meter_offers_none(server):
    with (
        server.client("lls", b"operator-2").session() as c,
        pytest.raises(ActionError, match="OTHER_REASON"),
    ):
        c.action(method(*EMERGENCY, 3), bytes.fromhex("1101"))


def test_emergency_credit_taken_through_invoke_credit():
    five_kwh = CreditConfig(emergency=EmergencyConfig(limit_kwh=Decimal("5")))
    with served(make_device(make_meter(config=five_kwh))) as server:
        with server.client("lls", b"reader-1").session() as c:
            assert get(c, EMERGENCY, 8) == bytes.fromhex("1601")  # selectable
            assert get(c, EMERGENCY, 2) == bytes.fromhex("05 00001388")  # 5,000 Wh on offer
            with pytest.raises(ActionError, match="READ_WRITE_DENIED"):
                c.action(method(*EMERGENCY, 3), bytes.fromhex("1101"))
        with server.client("lls", b"operator-2").session() as c:
            c.action(method(*EMERGENCY, 3), bytes.fromhex("1101"))
            assert get(c, EMERGENCY, 8) == bytes.fromhex("1603")  # in use
            assert get(c, EMERGENCY, 6) == bytes.fromhex("05 00001388")  # limit 5,000 Wh
            assert get(c, ACCOUNT, 3) == bytes.fromhex("1104")  # emergency credit in use
            assert get(c, DISCONNECT, 2) == bytes.fromhex("03ff")  # the relay closed on it
            with pytest.raises(ActionError, match="OTHER_REASON"):  # already active
                c.action(method(*EMERGENCY, 3), bytes.fromhex("1101"))
        assert server.device.meter.status().credit.emergency_active


def test_bad_references_are_answered_with_their_results(server):
    with server.client("lls", b"admin-3").session() as c:
        with pytest.raises(DataResultError, match="OBJECT_UNDEFINED"):
            c.get(attr(3, "1.0.99.8.0.255", 2))
        with pytest.raises(DataResultError, match="OBJECT_CLASS_INCONSISTENT"):
            c.get(attr(1, "1.0.1.8.0.255", 2))
        with pytest.raises(DataResultError, match="OBJECT_UNAVAILABLE"):
            get(c, ENERGY, 9)
        with pytest.raises(ActionError, match="OBJECT_UNAVAILABLE"):
            c.action(method(*GATEWAY, 7), octets(CREDIT_01KWH))
        # still associated after all of that
        assert get(c, LDN, 2) == octets("STS00000000000")


def test_get_with_list_answers_each_attribute(server):
    wanted = [attr(*LDN, 2), attr(*ENERGY, 2), attr(3, "1.0.99.8.0.255", 2), attr(*CLOCK, 3)]
    with server.client().session() as c:
        answer = c.get_many([CosemAttributeWithSelection(a, None) for a in wanted])
    assert answer.result == [
        bytearray(b"STS00000000000"),
        E.DataAccessResult.READ_WRITE_DENIED,  # +A is not for the public client
        E.DataAccessResult.OBJECT_UNDEFINED,
        0,
    ]


# -- HLS GMAC, suite 0 --------------------------------------------------------------------


def test_hls_client_reads_and_pushes_tokens_ciphered(server):
    with server.client("hls").session() as c:
        assert get(c, LDN, 2) == octets("STS00000000000")
        c.action(method(*GATEWAY, 1), octets(CREDIT_01KWH))
        assert get(c, GATEWAY, 6) == bytes.fromhex("0202 1603 040801")
    assert server.device.meter.status().credit.energy_kwh == Decimal("0.1")
    # AARQ, HLS reply, GET, ACTION, GET, RLRQ: six ciphered client APDUs, counters 0-5
    assert server.device.counters.client_next == 6
    with server.client().session() as c:
        assert get(c, FRAME_COUNTER, 2) == bytes.fromhex("06 00000006")


def test_hls_with_a_wrong_key_is_refused(server):
    wrong = bytes(16)
    for keys in ((wrong, AK), (EK, wrong)):
        with pytest.raises(DlmsClientException, match="AUTHENTICATION_FAILED"):
            server.client("hls", keys=keys).session().__enter__()
    assert server.device.counters.client_next == 0  # nothing deciphered, nothing used up
    assert server.device.meter.status().credit.energy_kwh == 0


def test_hls_replayed_invocation_counter_is_refused(server):
    with server.client("hls").session() as c:
        get(c, LDN, 2)
    used = server.device.counters.client_next
    assert used > 0
    with pytest.raises(DlmsClientException, match="AUTHENTICATION_FAILED"):
        server.client("hls", invocation_counter=0).session().__enter__()
    assert server.device.counters.client_next == used
    with server.client("hls", invocation_counter=used).session() as c:
        assert get(c, LDN, 2) == octets("STS00000000000")


# -- block transfer -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["lls", "hls"])
def test_get_with_block_transfer_gives_the_same_object_list(server, kind):
    password = b"admin-3" if kind == "lls" else None
    with server.client(kind, password).session() as c:
        whole = get(c, ASSOCIATION, 2)
    with server.client(kind, password, max_pdu_size=128).session() as c:
        in_blocks = get(c, ASSOCIATION, 2)
    assert len(whole) > 600
    assert in_blocks == whole
