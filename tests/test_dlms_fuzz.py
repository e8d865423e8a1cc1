"""Fuzzing the sans-IO core with malformed frames and APDUs (hypothesis, bounded).

Whatever arrives, the core answers with an APDU (an error, a reject, a
result code) and never raises; the wrapper decoder gives frames or refuses
the stream with a WrapperError; and a session that may only read (the public
client, or the reader password) leaves the meter's state exactly as it was.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sts.meter import state as meter_state
from sts.meter.dlms import axdr
from sts.meter.dlms.server import Session
from sts.meter.dlms.wrapper import WrapperDecoder, WrapperError
from tests.dlms_support import CREDIT_01KWH, PUBLIC_AARQ, READER_AARQ, make_device

VALID = [
    PUBLIC_AARQ,
    READER_AARQ,
    bytes.fromhex("C001C1 0008 0000010000FF 02 00"),  # GET clock time
    bytes.fromhex("C001C1 0046 000060030AFF 02 00"),  # GET relay output state
    bytes.fromhex("C002C1 00000001"),  # GET next block 1
    bytes.fromhex("C001C1 0007 0100630200FF 02 01 02 0204 0600000002 0600000002 120002 120000"),
    bytes.fromhex("C003C1 02 0001 00002A0000FF 02 00 0003 0100010800FF 02 00"),  # GET with list
    bytes.fromhex("C101C1 0008 0000010000FF 02 00") + axdr.octet_string(bytes(12)),  # SET
    bytes.fromhex("C301C1 0073 0000132800FF 01 01") + axdr.octet_string(CREDIT_01KWH.encode()),
    bytes.fromhex("C301C1 0046 000060030AFF 01 01 0F00"),  # remote_disconnect
    bytes.fromhex("6203800100"),  # RLRQ
    # the load profile, a Magno event log and the daily survey by entry
    bytes.fromhex("C001C1 0007 0100630100FF 02 01 02 0204 0600000001 0600000000 120001 120000"),
    bytes.fromhex("C001C1 0007 0000636201FF 02 00"),
    bytes.fromhex("C001C1 0014 00000D0000FF 09 00"),  # GET passive day profiles
    bytes.fromhex("C001C1 0071 0000131400FF 05 00"),  # GET the energy charge's unit charge
    bytes.fromhex("C101C1 0046 000060030AFF 04 00 1602"),  # SET control mode 2
    bytes.fromhex("C301C1 0014 00000D0000FF 01 01 0F00"),  # activate_passive_calendar
    bytes.fromhex("C301C1 000B 00000B0000FF 01 01 0203 120005 0905 FFFF0C19FF 1101"),  # insert
]
# writes of the passive calendar (as tests/test_dlms_calendar.py writes it)
CALENDAR_WRITES = [
    bytes.fromhex("C101C1 0014 00000D0000FF 06 00 0906") + b"winter",
    bytes.fromhex(
        "C101C1 0014 00000D0000FF 09 00"
        "01010202110101030203090400000000090600000A0064FF1200010203090406000000090600000A"
        "0064FF1200020203090412000000090600000A0064FF120003"
    ),
    bytes.fromhex("C101C1 0014 00000D0000FF 08 00 010102080901771101110111011101110111011101"),
    bytes.fromhex(
        "C101C1 0014 00000D0000FF 07 00 010102030903616C6C090CFFFF0101FF00000000800000090177"
    ),
    bytes.fromhex("C101C1 0014 00000D0000FF 0A 00 090C 07D40102FF00000000000000"),
    bytes.fromhex("C301C1 0046 000060030AFF 02 01 0F00"),  # remote_reconnect
]
ADMIN_AARQ = bytes.fromhex(
    "6035A109060760857405080101 8A020780 8B0760857405080201 AC098007"
    + b"admin-3".hex()
    + "BE10040E01000000065F1F0400007E1F04B0"
)


@st.composite
def mutated_from(draw: st.DrawFn, valid: list[bytes]) -> bytes:
    base = bytearray(draw(st.sampled_from(valid)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        if not base:
            break
        at = draw(st.integers(0, len(base) - 1))
        if kind == "flip":
            base[at] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            del base[at:]
        elif kind == "insert":
            base[at:at] = draw(st.binary(min_size=1, max_size=8))
        else:
            del base[at]
    return bytes(base)


def mutated() -> st.SearchStrategy[bytes]:
    return mutated_from(VALID)


apdus = st.one_of(st.binary(max_size=300), mutated(), st.sampled_from(VALID))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    opening=st.sampled_from([None, PUBLIC_AARQ, READER_AARQ]),
    client_sap=st.sampled_from([1, 16, 2]),
    sequence=st.lists(apdus, min_size=1, max_size=6),
)
def test_core_answers_every_apdu_and_a_reading_session_changes_nothing(
    opening, client_sap, sequence
):
    device = make_device()
    before = meter_state.dumps(device.meter)
    session = Session(device, client_sap=client_sap, server_sap=1)
    for apdu in ([opening] if opening else []) + sequence:
        reply = session.receive(apdu)
        assert isinstance(reply, bytes) and reply
    assert meter_state.dumps(device.meter) == before
    assert not device.changed


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sequence=st.lists(
        st.one_of(mutated_from(CALENDAR_WRITES + VALID), st.sampled_from(CALENDAR_WRITES)),
        min_size=1,
        max_size=8,
    )
)
def test_admin_writes_answer_every_apdu_and_leave_a_state_that_loads(sequence):
    """Calendar, special day and disconnect control writes, whole or mangled, by the admin:
    every APDU answered, and the meter's state afterwards is one its own loader accepts."""
    device = make_device()
    session = Session(device, client_sap=1, server_sap=1)
    assert bytes.fromhex("A203020100") in session.receive(ADMIN_AARQ)
    for apdu in sequence:
        reply = session.receive(apdu)
        assert isinstance(reply, bytes) and reply
    text = meter_state.dumps(device.meter)
    assert meter_state.dumps(meter_state.loads(text)) == text


@settings(max_examples=300, deadline=None)
@given(chunks=st.lists(st.binary(max_size=40), max_size=8))
def test_wrapper_decoder_gives_frames_or_refuses(chunks):
    decoder = WrapperDecoder()
    try:
        for chunk in chunks:
            for frame in decoder.feed(chunk):
                assert 0 <= frame.source <= 0xFFFF and 0 <= frame.destination <= 0xFFFF
    except WrapperError:
        pass
