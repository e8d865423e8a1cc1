"""The sans-IO server core, APDU bytes in and out, checked against hand-worked bytes.

The public AARQ is the Green Book's example (DLMS UA 1000-2, the public client
proposing conformance 007E1F and a 1200-octet PDU); the AARE expected is
worked from it by hand: accepted (A2 03 02 01 00), service-user diagnostic
null (A3 05 A1 03 02 01 00) and an InitiateResponse with DLMS version 6,
the negotiated conformance 00521D (get, set, action, selective access, block
transfer with get, multiple references, priority management: the
intersection of 007E1F with what the server offers), the server's 1024-octet
PDU (0400) and VAA name 0007.
"""

from __future__ import annotations

from dlms_cosem import enumerations as E
from dlms_cosem.connection import DlmsConnection
from dlms_cosem.protocol import xdlms
from dlms_cosem.security import LowLevelSecurityAuthentication

from sts.meter import state as meter_state
from sts.meter.dlms import axdr
from sts.meter.dlms.server import TRANSITIONS, Event, Session, State
from sts.meter.dlms.wrapper import WrapperDecoder, WrapperError, wrap
from tests.dlms_support import AK, EK, attribute, make_device

GREEN_BOOK_AARQ = bytes.fromhex("601DA109060760857405080101BE10040E01000000065F1F0400007E1F04B0")
AARE_ACCEPTED = bytes.fromhex(
    "6129 A109060760857405080101 A203020100 A305A103020100BE10040E0800065F1F040000521D04000007"
)
GET_CLOCK = bytes.fromhex("C001C1 0008 0000010000FF 02 00")


def public_session():
    device = make_device()
    return device, Session(device, client_sap=16, server_sap=1)


def test_green_book_public_aarq_is_accepted():
    _, session = public_session()
    assert session.receive(GREEN_BOOK_AARQ) == AARE_ACCEPTED
    assert session.state is State.ASSOCIATED


def test_get_before_association_is_an_exception_response():
    _, session = public_session()
    # ExceptionResponse: tag D8, state-error service-not-allowed (1),
    # service-error operation-not-possible (1)
    assert session.receive(GET_CLOCK) == bytes.fromhex("D80101")
    assert session.state is State.IDLE


def test_unknown_and_empty_apdus_are_exception_responses():
    _, session = public_session()
    session.receive(GREEN_BOOK_AARQ)
    for apdu in (b"", b"\x05", bytes.fromhex("C7")):
        assert session.receive(apdu) == bytes.fromhex("D80202")  # service unknown / not supported
    assert session.state is State.ASSOCIATED


def test_get_clock_answers_a_get_response_normal():
    _, session = public_session()
    session.receive(GREEN_BOOK_AARQ)
    reply = session.receive(GET_CLOCK)
    # C4 01 C1 (invoke id 1, confirmed, high priority) 00 (data) 09 0C date-time
    assert reply[:6] == bytes.fromhex("C401C1 00 090C")
    assert reply[6:10] == bytes.fromhex("07D40101")  # 2004-01-01


def test_a_second_aarq_in_an_association_is_rejected_and_the_association_stays():
    _, session = public_session()
    session.receive(GREEN_BOOK_AARQ)
    reply = session.receive(GREEN_BOOK_AARQ)
    assert bytes.fromhex("A203020102") in reply  # rejected-transient
    assert session.state is State.ASSOCIATED


def test_rlrq_answers_rlre_normal_from_every_state():
    _, session = public_session()
    # RLRE: tag 63, reason [0] normal (80 01 00)
    assert session.receive(bytes.fromhex("6200")) == bytes.fromhex("6303800100")
    session.receive(GREEN_BOOK_AARQ)
    assert session.receive(bytes.fromhex("6203800100")) == bytes.fromhex("6303800100")
    assert session.state is State.IDLE and session.released


def test_every_state_can_be_released():
    for state, events in TRANSITIONS.items():
        assert events[Event.RELEASE] is State.IDLE, state


def test_an_apdu_longer_than_the_server_pdu_is_refused():
    _, session = public_session()
    session.receive(GREEN_BOOK_AARQ)
    assert session.receive(b"\xc0" * 1025) == bytes.fromhex("D80104")  # PDU too long


def test_aarq_with_dlms_version_5_is_rejected_with_an_initiate_error():
    aarq = bytearray(GREEN_BOOK_AARQ)
    aarq[aarq.index(bytes.fromhex("065F1F"))] = 5
    _, session = public_session()
    reply = session.receive(bytes(aarq))
    assert bytes.fromhex("A203020101") in reply  # rejected-permanent
    # user information: ConfirmedServiceError, initiateError (1), initiate (6), version too low (1)
    assert reply.endswith(bytes.fromhex("BE0604040E010601"))
    assert session.state is State.IDLE


def _ciphered_lls() -> tuple[Session, DlmsConnection]:
    device = make_device()
    session = Session(device, client_sap=1, server_sap=1)
    connection = DlmsConnection(
        authentication=LowLevelSecurityAuthentication(b"reader-1"),
        client_system_title=b"HEADEND1",
        global_encryption_key=EK,
        global_authentication_key=AK,
    )
    connection.receive_data(session.receive(connection.send(connection.get_aarq())))
    aare = connection.next_event()
    assert aare.result is E.AssociationResult.ACCEPTED
    return session, connection


def test_ciphered_get_and_a_replayed_invocation_counter():
    session, connection = _ciphered_lls()
    request = connection.send(xdlms.GetRequestNormal(attribute(1, "0.0.42.0.0.255", 2)))
    connection.receive_data(session.receive(request))
    answer = connection.next_event()
    assert answer.data == axdr.octet_string(b"STS00000000000")
    assert session.device.counters.client_next == 2  # AARQ used 0, the GET 1
    # the same APDU again: ExceptionResponse, invocation counter error (6), expecting 2
    assert session.receive(request) == bytes.fromhex("D80106 00000002")
    assert session.device.counters.client_next == 2


def test_plain_requests_are_refused_in_a_ciphered_association():
    session, _ = _ciphered_lls()
    assert session.receive(GET_CLOCK) == bytes.fromhex("D80101")


def test_a_tampered_ciphered_apdu_is_a_deciphering_error():
    session, connection = _ciphered_lls()
    request = bytearray(connection.send(xdlms.GetRequestNormal(attribute(8, "0.0.1.0.0.255", 2))))
    request[-1] ^= 0x01  # one bit of the GCM tag
    assert session.receive(bytes(request)) == bytes.fromhex("D80105")
    assert session.device.counters.client_next == 1  # not used up by a forgery


def test_refusals_leave_the_meter_as_it_was():
    device, session = public_session()
    before = meter_state.dumps(device.meter)
    session.receive(GREEN_BOOK_AARQ)
    enter = bytes.fromhex("C301C1 0073 0000132800FF 01 01") + axdr.octet_string(
        b"23716100501183194197"
    )
    assert session.receive(enter) == bytes.fromhex("C701C1 03 00")  # read-write-denied
    assert meter_state.dumps(device.meter) == before


def test_wrapper_frames_cut_from_a_stream():
    decoder = WrapperDecoder()
    stream = wrap(16, 1, GREEN_BOOK_AARQ) + wrap(16, 1, GET_CLOCK)
    assert decoder.feed(stream[:5]) == []
    frames = decoder.feed(stream[5:40]) + decoder.feed(stream[40:])
    assert [(f.source, f.destination, f.apdu) for f in frames] == [
        (16, 1, GREEN_BOOK_AARQ),
        (16, 1, GET_CLOCK),
    ]
    assert wrap(16, 1, b"\xc0")[:8] == bytes.fromhex("0001 0010 0001 0001")


def test_wrapper_of_another_version_is_refused():
    try:
        WrapperDecoder().feed(bytes.fromhex("0002 0010 0001 0001 c0"))
    except WrapperError as exc:
        assert "version 2" in str(exc)
    else:
        raise AssertionError("a version 2 wrapper was taken")


def test_a_wall_clock_device_runs_the_meter_up_to_the_request():
    from datetime import timedelta

    from sts.meter.dlms.device import LogicalDevice
    from tests.dlms_support import MADE, make_meter

    base = make_device()
    later = MADE + timedelta(days=2)
    device = LogicalDevice(make_meter(), base.settings, clock=lambda: later)
    session = Session(device, client_sap=16)
    session.receive(GREEN_BOOK_AARQ)
    reply = session.receive(GET_CLOCK)
    assert reply[6:10] == bytes.fromhex("07D40103")  # 2004-01-03
    assert device.meter.clock == later and device.changed
