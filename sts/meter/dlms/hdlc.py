"""HDLC framing (IEC 62056-46), server side, sans-IO: bytes in, bytes out.

dlms-cosem has the HDLC frames, addresses, control fields and the CRC, but
only the client's side of a link: its frame parsers assume they receive
frames addressed to a client (a server parsing them recomputes the check
sequence over re-encoded addresses and fails) and there is no server state
machine. :class:`HdlcLink` adds that part; every frame it sends is
dlms-cosem's own.

One link is one client on one line (a TCP connection or a serial port):

* SNRM opens it (UA answers, with the default parameters: 128-octet
  information fields, window 1) and opens a :class:`~sts.meter.dlms.server.Session`;
* I-frames carry the APDU behind the LLC header (E6 E6 00 to the server,
  E6 E7 00 back). A segmented request is acknowledged with RR frame by
  frame; a long answer goes in segments, each sent when the client's RR
  asks for it;
* DISC closes it (UA), and ends the association with it;
* a frame whose check sequence is wrong is discarded, as HDLC has it; a
  frame when no link is open is answered with DM.
"""

from __future__ import annotations

from collections.abc import Callable

from dlms_cosem.hdlc import frames
from dlms_cosem.hdlc.address import HdlcAddress

from sts.meter.dlms.server import Session

FLAG = 0x7E
LLC_REQUEST = b"\xe6\xe6\x00"
LLC_RESPONSE = b"\xe6\xe7\x00"
MAX_INFORMATION = 128
MAX_REQUEST = 65536 + 3
# UA parameters (IEC 62056-46 6.4.4.4.3.2): max information field length transmit and
# receive 128, window size transmit and receive 1.
UA_PARAMETERS = bytes.fromhex("818012 0501 80 0601 80 070400000001 080400000001".replace(" ", ""))

SNRM = 0x83
DISC = 0x43
UA = 0x63
DM = 0x0F
RR = 0x01


class _DisconnectedMode(frames.BaseHdlcFrame):
    """DM: 'no link is open' (dlms-cosem has no class for it)."""

    fixed_length_bytes = 5

    @property
    def hcs(self) -> bytes:
        return b""

    @property
    def information(self) -> bytes:
        return b""

    def get_control_field(self) -> _Control:
        return _Control(DM | 0x10)


class _Control:
    """A control field given as its octet."""

    def __init__(self, value: int) -> None:
        self.value = value

    def to_bytes(self) -> bytes:
        return bytes([self.value])


def _fcs(data: bytes) -> bytes:
    return frames.FCS.calculate_for(data)


class HdlcLink:
    """The server's end of one HDLC line.

    ``open_session(client_sap, server_sap)`` gives the session for a new link,
    or None when no logical device answers to ``server_sap`` (then DM).
    """

    def __init__(self, open_session: Callable[[int, int], Session | None]) -> None:
        self._open_session = open_session
        self._buffer = bytearray()
        self.session: Session | None = None
        self._client: HdlcAddress | None = None
        self._server: HdlcAddress | None = None
        self._vs = 0  # the next N(S) the server sends
        self._vr = 0  # the next N(S) the server expects
        self._request = bytearray()
        self._pending: list[bytes] = []

    @property
    def connected(self) -> bool:
        return self.session is not None

    def feed(self, data: bytes) -> bytes:
        """The bytes to send back after receiving ``data``."""
        self._buffer += data
        out = bytearray()
        while True:
            frame = self._next_frame()
            if frame is None:
                break
            out += self._handle(frame)
        return bytes(out)

    # -- framing ----------------------------------------------------------------------------

    def _next_frame(self) -> bytes | None:
        buffer = self._buffer
        while True:
            start = buffer.find(FLAG)
            if start < 0:
                buffer.clear()
                return None
            del buffer[:start]
            while len(buffer) >= 2 and buffer[1] == FLAG:
                del buffer[:1]  # flags between frames
            if len(buffer) < 3:
                return None
            if buffer[1] & 0xF0 != 0xA0:
                del buffer[:1]  # not a type 3 frame: hunt for the next flag
                continue
            length = ((buffer[1] & 0x07) << 8) | buffer[2]
            if len(buffer) < length + 2:
                return None
            if buffer[length + 1] != FLAG or length < 7:
                del buffer[:1]
                continue
            frame = bytes(buffer[: length + 2])
            del buffer[: length + 1]  # the closing flag may open the next frame
            if frame[-3:-1] == _fcs(frame[1:-3]):
                return frame
            # a bad frame check sequence: the frame is discarded

    # -- frames -----------------------------------------------------------------------------

    def _handle(self, frame: bytes) -> bytes:
        try:
            (dest_logical, dest_physical, dest_len), (src_logical, _sp, src_len) = (
                HdlcAddress.find_address_in_frame_bytes(frame)
            )
        except (ValueError, IndexError):
            return b""
        at = 3 + dest_len + src_len
        if at >= len(frame) - 3:
            return b""
        control = frame[at]
        information = b""
        if len(frame) > at + 1 + 3:  # header check sequence and an information field
            if frame[at + 1 : at + 3] != _fcs(frame[1 : at + 1]):
                return b""
            information = frame[at + 3 : -3]
        client = HdlcAddress(src_logical, None, "client")
        server = HdlcAddress(dest_logical, dest_physical or None, "server")
        segmented = bool(frame[1] & 0x08)

        kind = control & 0xEF  # without the poll bit
        if kind == SNRM:
            return self._connect(client, server)
        if kind == DISC:
            return self._disconnect(client, server)
        if not self.connected:
            return _DisconnectedMode(client, server).to_bytes()
        if control & 0x01 == 0:
            return self._information(control, information, segmented)
        if control & 0x0F == RR:
            return self._next_segment()
        return b""  # UI, RNR, ...: nothing this server takes

    def _connect(self, client: HdlcAddress, server: HdlcAddress) -> bytes:
        session = self._open_session(client.logical_address, server.logical_address)
        if session is None:
            return _DisconnectedMode(client, server).to_bytes()
        self.session, self._client, self._server = session, client, server
        self._vs = self._vr = 0
        self._request.clear()
        self._pending.clear()
        return frames.UnNumberedAcknowledgmentFrame(client, server, UA_PARAMETERS).to_bytes()

    def _disconnect(self, client: HdlcAddress, server: HdlcAddress) -> bytes:
        if not self.connected:
            return _DisconnectedMode(client, server).to_bytes()
        self.session = None
        self._pending.clear()
        self._request.clear()
        return frames.UnNumberedAcknowledgmentFrame(client, server).to_bytes()

    def _rr(self) -> bytes:
        assert self._client is not None and self._server is not None
        return frames.ReceiveReadyFrame(
            self._client, self._server, receive_sequence_number=self._vr, final=True
        ).to_bytes()

    def _information(self, control: int, information: bytes, segmented: bool) -> bytes:
        assert self.session is not None
        ns = (control >> 1) & 0x07
        if ns != self._vr:
            return self._rr()  # out of sequence: say which frame is expected
        self._vr = (self._vr + 1) % 8
        self._request += information
        if len(self._request) > MAX_REQUEST:
            self._request.clear()
            return self._rr()
        if segmented:
            return self._rr()
        request = bytes(self._request)
        self._request.clear()
        apdu = request[3:] if request.startswith(LLC_REQUEST) else request
        reply = self.session.receive(apdu) or b""
        data = LLC_RESPONSE + reply
        self._pending = [
            data[i : i + MAX_INFORMATION] for i in range(0, len(data), MAX_INFORMATION)
        ]
        return self._next_segment()

    def _next_segment(self) -> bytes:
        if not self._pending:
            return self._rr()
        assert self._client is not None and self._server is not None
        chunk = self._pending.pop(0)
        frame = frames.InformationFrame(
            self._client,
            self._server,
            chunk,
            send_sequence_number=self._vs,
            receive_sequence_number=self._vr,
            segmented=bool(self._pending),
            final=True,
        )
        self._vs = (self._vs + 1) % 8
        return frame.to_bytes()
