"""Push setup (IC 40): an alarm reaches a head-end's listener as a DataNotification.

The meter holds 0.1 kWh and a standing load of 1 kW on a frozen clock at
2004-01-01 00:00 UTC. An admin sets the clock forward an hour: the credit lasts
0.1 kWh / 1 kW = 6 minutes, so at 00:06 the credit is exhausted and the relay
opens (event code 4, the latest). The listener, a plain TCP socket, gets the
DataNotification in a wrapper frame from wPort 1 to wPort 1.
"""

from __future__ import annotations

import socket
import threading
from datetime import timedelta

from dlms_cosem import enumerations as E
from dlms_cosem.protocol.xdlms import DataNotification
from dlms_cosem.time import datetime_from_bytes, datetime_to_bytes

from tests.dlms_support import (
    CTSA_DK,
    MADE,
    credit_token,
    make_device,
    make_meter,
    method,
    octets,
    served,
)
from tests.dlms_support import attribute as attr

PUSH = (40, "0.0.25.9.0.255")


class Listener:
    """Accepts connections and keeps what each one sent until it closed."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self.arrived = threading.Semaphore(0)
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while chunk := conn.recv(4096):
                    data += chunk
            self.received.append(data)
            self.arrived.release()

    def next(self) -> bytes:
        # a safety net against a hang if no push ever comes, not a speed requirement
        assert self.arrived.acquire(timeout=60), "no push arrived"
        return self.received[-1]


def destination(text: str) -> bytes:
    # structure {enum 0 (TCP), octet-string HOST:PORT, enum 0 (A-XDR)}
    return bytes.fromhex("0203 1600") + octets(text) + bytes.fromhex("1600")


def test_an_alarm_and_the_push_method_reach_the_listener():
    meter = make_meter()
    meter.enter_token(credit_token(CTSA_DK, tid=5_871_800, tenths=1))  # 0.1 kWh
    meter.advance(MADE, load=1000)  # a standing load of 1 kW
    listener = Listener()
    with served(make_device(meter)) as server:
        with server.client("lls", b"reader-1").session() as c:
            assert c.get(attr(*PUSH, 3)) == destination("")
            refused = c.set(attr(*PUSH, 3), destination(f"127.0.0.1:{listener.port}"))
            assert refused.result is E.DataAccessResult.READ_WRITE_DENIED
        with server.client("lls", b"admin-3").session() as c:
            bad = c.set(attr(*PUSH, 3), destination("no port here"))
            assert bad.result is E.DataAccessResult.TYPE_UNMATCHED
            done = c.set(attr(*PUSH, 3), destination(f"127.0.0.1:{listener.port}"))
            assert done.result is E.DataAccessResult.SUCCESS
            later = MADE + timedelta(hours=1)
            c.set(attr(8, "0.0.1.0.0.255", 2), bytes([0x09, 12]) + datetime_to_bytes(later))
            frame = listener.next()
            assert frame[:6] == bytes.fromhex("0001 0001 0001")  # version 1, wPort 1 to 1
            assert int.from_bytes(frame[6:8], "big") == len(frame) - 8
            pushed = DataNotification.from_bytes(frame[8:])
            assert pushed.date_time == later.replace(tzinfo=None)  # deviation 0: UTC
            assert pushed.body == (
                bytes.fromhex("0204 0906 0000190900FF")
                + octets("STS00000000000")
                + bytes([0x09, 12])
                + datetime_to_bytes(later)
                + bytes.fromhex("1104")  # relay opened
            )
            assert c.get(attr(1, "0.0.96.11.0.255", 2)) == bytes.fromhex("1104")
        with server.client("lls", b"operator-2").session() as c:
            c.action(method(*PUSH, 1), bytes.fromhex("0F00"))
            again = DataNotification.from_bytes(listener.next()[8:])
            assert again.long_invoke_id_and_priority.long_invoke_id == 2
            assert datetime_from_bytes(again.body[28:40])[0] == later.replace(tzinfo=None)
    listener.sock.close()
    assert not meter.status().credit.relay_closed
