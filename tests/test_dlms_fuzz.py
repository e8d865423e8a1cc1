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
    bytes.fromhex("C001C1 0070 0000600310FF 02 00"),  # GET relay output state
    bytes.fromhex("C002C1 00000001"),  # GET next block 1
    bytes.fromhex("C001C1 0007 0100630200FF 02 01 02 0204 0600000002 0600000002 120002 120000"),
    bytes.fromhex("C003C1 02 0001 00002A0000FF 02 00 0003 0100010800FF 02 00"),  # GET with list
    bytes.fromhex("C101C1 0008 0000010000FF 02 00") + axdr.octet_string(bytes(12)),  # SET
    bytes.fromhex("C301C1 0073 0000132800FF 01 01") + axdr.octet_string(CREDIT_01KWH.encode()),
    bytes.fromhex("C301C1 0070 0000600310FF 01 01 0F00"),  # remote_disconnect
    bytes.fromhex("6203800100"),  # RLRQ
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    base = bytearray(draw(st.sampled_from(VALID)))
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
