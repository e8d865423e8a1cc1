"""HDLC framing (IEC 62056-46) on TCP through dlms-cosem's own HdlcTransport client.

Answers longer than one 128-octet information field (the object list) come in
segments the client asks for with RR; the HLS association works over HDLC as
over the wrapper. The raw frames of the link set-up are checked byte by byte
against frames worked by hand from IEC 62056-46 (flag 7E, format A0 + length,
addresses, control, check sequences).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from dlms_cosem.client import DlmsClient
from dlms_cosem.hdlc.state import NEED_DATA
from dlms_cosem.io import BlockingTcpIO, HdlcTransport
from dlms_cosem.security import (
    HighLevelSecurityGmacAuthentication,
    LowLevelSecurityAuthentication,
    NoSecurityAuthentication,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from sts.meter import state as meter_state
from sts.meter.dlms.hdlc import HdlcLink
from sts.meter.dlms.server import Session
from sts.meter.dlms.tcp import TcpServer
from tests.dlms_support import AK, CREDIT_01KWH, EK, attribute, make_device, method, octets

OBJECTS = 74  # as tests/test_dlms_tcp.py counts them
LDN = attribute(1, "0.0.42.0.0.255", 2)
OBJECT_LIST = attribute(15, "0.0.40.0.0.255", 2)
GATEWAY_STATUS = attribute(115, "0.0.19.40.0.255", 6)
ENTER = method(115, "0.0.19.40.0.255", 1)


@contextmanager
def hdlc_served(device) -> Iterator[int]:
    loop = asyncio.new_event_loop()
    server = TcpServer({1: device}, hdlc=True)
    listening = loop.run_until_complete(server.start("127.0.0.1", 0))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield listening.sockets[0].getsockname()[1]
    finally:

        async def stop() -> None:
            listening.close()
            server.close_connections()
            await listening.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


class FramedTcpIO(BlockingTcpIO):
    """Reads each HDLC frame by its length field (format A0 + 11 bits).

    dlms-cosem's HdlcTransport reads up to the next 7E octet and takes a lone 7E for
    an opening flag; IEC 62056-46 frames are delimited by their length, and a check
    sequence may hold 7E, which made the client wait forever for a frame the server
    had already sent. The transport asks for the opening flag, then for the frame up
    to its closing flag."""

    opened = False

    def recv_until(self, end: bytes) -> bytes:
        if not self.opened:
            flag = self.recv(1)
            self.opened = flag == end
            return flag
        head = self.recv(2)
        length = ((head[0] & 0x07) << 8) | head[1]
        self.opened = False
        return head + self.recv(length - 2 + 1)  # the rest and the closing flag


class WholeFrameHdlcTransport(HdlcTransport):
    """HdlcTransport that, when a frame cut at a 7E inside it does not parse, tries
    the next flag already received before reading more (the frame is all there)."""

    def next_event(self):  # type: ignore[no-untyped-def]
        connection = self.hdlc_connection
        while True:
            event = connection.next_event()
            if event is not NEED_DATA:
                return event
            if connection.buffer.find(b"\x7e", connection.buffer_search_position) == -1:
                connection.receive_data(self.recv_frame())


def client(port: int, sap: int, auth, **extra) -> DlmsClient:
    return DlmsClient(
        transport=WholeFrameHdlcTransport(
            client_logical_address=sap,
            server_logical_address=1,
            io=FramedTcpIO("127.0.0.1", port, timeout=10),
        ),
        authentication=auth,
        **extra,
    )


@pytest.fixture
def device():
    return make_device()


def test_public_client_over_hdlc_reads_a_segmented_object_list(device):
    with hdlc_served(device) as port:
        with client(port, 16, NoSecurityAuthentication()).session() as c:
            assert c.get(LDN) == octets("STS00000000000")
            listing = c.get(OBJECT_LIST)
        with client(port, 1, LowLevelSecurityAuthentication(b"reader-1")).session() as c:
            assert c.get(OBJECT_LIST)[:2] == bytes([0x01, OBJECTS])
    assert len(listing) > 3 * 128  # more than three information fields
    assert listing[:2] == bytes([0x01, OBJECTS])


def test_token_through_the_gateway_over_hdlc_lls_and_hls(device):
    with hdlc_served(device) as port:
        with client(port, 1, LowLevelSecurityAuthentication(b"operator-2")).session() as c:
            c.action(ENTER, octets(CREDIT_01KWH))
            assert c.get(GATEWAY_STATUS) == bytes.fromhex("0202 1603 040801")  # Accept
        hls = HighLevelSecurityGmacAuthentication(challenge_length=32)
        with client(
            port, 1, hls, encryption_key=EK, authentication_key=AK,
            client_system_title=b"HEADEND1", client_initial_invocation_counter=0,
        ).session() as c:  # fmt: skip
            c.action(ENTER, octets(CREDIT_01KWH))
            assert c.get(GATEWAY_STATUS) == bytes.fromhex("0202 1606 04080a")  # Used


def link(device) -> HdlcLink:
    return HdlcLink(lambda client_sap, server_sap: Session(device, client_sap, server_sap))


# The Green Book's SNRM from the public client (address 21) to server 1 (address 03):
# format A0 07 (length 7), control 93 (SNRM, poll), FCS 0F01.
SNRM = bytes.fromhex("7EA0070321930F017E")
DISC = bytes.fromhex("7EA00703215303C77E")  # control 53 (DISC, poll), FCS 03C7
# An I-frame N(S)=0 N(R)=0 carrying LLC E6E600 and an RLRQ (62 00), HCS 7E5E, FCS FB35.
I_FRAME = bytes.fromhex("7EA00E0321007E5EE6E6006200FB357E")


def test_snrm_is_answered_with_ua_and_disc_closes(device):
    hdlc = link(device)
    ua = hdlc.feed(SNRM)
    # UA: 7E, format A0 1E (30 = format 2 + addresses 2 + control 1 + HCS 2 + 21 octets of
    # parameters + FCS 2), destination 21 (client 16), source 03 (server 1), control 73
    assert ua[:6] == bytes.fromhex("7EA01E210373")
    assert ua[8:29] == bytes.fromhex("818012050180060180070400000001080400000001")
    assert len(ua) == 32 and ua[-1] == 0x7E
    assert hdlc.connected
    # DISC (control 53) from client 16: answered with UA (control 73), the link is closed
    assert hdlc.feed(DISC)[:6] == bytes.fromhex("7EA007210373")
    assert not hdlc.connected


def test_frames_without_a_link_get_dm_and_bad_check_sequences_are_dropped(device):
    hdlc = link(device)
    assert hdlc.feed(I_FRAME)[:6] == bytes.fromhex("7EA00721031F")  # DM, final
    broken = bytearray(SNRM)
    broken[-2] ^= 0xFF
    assert hdlc.feed(bytes(broken)) == b""
    assert not hdlc.connected
    # with a link the same I-frame is an RLRQ: answered in an I-frame N(S)=0 N(R)=1 (30)
    hdlc.feed(SNRM)
    answer = hdlc.feed(I_FRAME)
    assert answer[5] == 0x30 and answer[8:16] == bytes.fromhex("E6E7006303800100")


@settings(max_examples=200, deadline=None)
@given(chunks=st.lists(st.binary(max_size=60), max_size=6), open_first=st.booleans())
def test_hdlc_link_never_raises_and_changes_nothing(chunks, open_first):
    device = make_device()
    before = meter_state.dumps(device.meter)
    hdlc = link(device)
    if open_first:
        hdlc.feed(SNRM)
    for chunk in chunks:
        assert isinstance(hdlc.feed(b"\x7e" + chunk), bytes)
    assert meter_state.dumps(device.meter) == before


def test_a_request_longer_than_one_information_field_is_segmented(device):
    # an image block of 128 octets makes an ACTION request of some 150 octets: the client
    # sends it in two I-frames and the server acknowledges the first with RR
    block = bytes(range(128))
    admin = LowLevelSecurityAuthentication(b"admin-3")
    with hdlc_served(device) as port, client(port, 1, admin).session() as c:
        start = bytes.fromhex("0202 0903") + b"v2x" + bytes.fromhex("06 000000A0")  # 160
        c.action(method(18, "0.0.44.0.0.255", 1), start)
        c.action(method(18, "0.0.44.0.0.255", 2), bytes.fromhex("0202 06 00000000 09 8180") + block)
        # blocks transferred: a bit string of 2 bits, the first set (80)
        assert c.get(attribute(18, "0.0.44.0.0.255", 3)) == bytes.fromhex("04 02 80")
    assert device.notes["image"].blocks[0] == block
