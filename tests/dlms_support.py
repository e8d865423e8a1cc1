"""Shared by the DLMS tests: a served simulated meter and dlms-cosem clients for it.

The server runs in its own thread with its own event loop on 127.0.0.1 (a
free port); the clients are dlms-cosem's own blocking ``DlmsClient`` over
real TCP sockets, as a head-end would use it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from dlms_cosem import cosem
from dlms_cosem import enumerations as E
from dlms_cosem.client import DlmsClient
from dlms_cosem.cosem.capture_object import CaptureObject
from dlms_cosem.io import BlockingTcpIO, TcpTransport
from dlms_cosem.security import (
    HighLevelSecurityGmacAuthentication,
    LowLevelSecurityAuthentication,
    NoSecurityAuthentication,
)

import sts
from sts.meter.dlms.device import Counters, LogicalDevice, SecuritySettings
from sts.meter.dlms.model import Level
from sts.meter.dlms.tcp import TcpServer
from sts.meter.meter import Meter
from sts.tokens import CreditKind, TransferCredit

structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))

# The compliance-test meter of STS 531-1 (CTSA): DRN 00000000000, SGC 123456, KRN 1, TI 1,
# base date 1993, DKGA02 under VK ABABABABABABABAB.
CTSA_DK = "E653341F9D5BF36F"
OTHER_DK = "060B8643C59A27F1"  # the same meter on TI 2: a token made under it fails the CRC
CREDIT_01KWH = "23716100501183194197"  # CTSA01 step 1: 0.1 kWh, TID 5871715
MADE = datetime(2004, 1, 1, tzinfo=UTC)

SYSTEM_TITLE = bytes.fromhex("5354530000000001")  # "STS" + 00000001
EK = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
AK = bytes.fromhex("D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF")
PASSWORDS = {b"reader-1": Level.READER, b"operator-2": Level.OPERATOR, b"admin-3": Level.ADMIN}


# A profile's first capture object: the clock's time (a range descriptor restricts on it).
CLOCK_CAPTURE = CaptureObject(
    cosem.CosemAttribute(E.CosemInterface.CLOCK, cosem.Obis(0, 0, 1, 0, 0), 2), 0
)


def utc(when: datetime) -> bytes:
    """octet-string of 12: the date-time, weekday not given (FF), deviation 0, status 0."""
    return (
        bytes.fromhex("090C")
        + when.year.to_bytes(2, "big")
        + bytes([when.month, when.day, 0xFF, when.hour, when.minute, 0, 0])
        + bytes.fromhex("0000 00")
    )


def long64(value: int) -> bytes:
    """A-XDR long64 (tag 20)."""
    return b"\x14" + value.to_bytes(8, "big", signed=True)


def make_meter(**options: Any) -> Meter:
    return Meter.manufacture(
        drn="00000000000",
        key=sts.DecoderKey.from_hex(CTSA_DK),
        sgc=123456,
        base_date=1993,
        manufactured=MADE,
        **options,
    )


def credit_token(dk: str, tid: int, tenths: int, rnd: int = 3) -> str:
    token = TransferCredit.for_units(CreditKind.ELECTRICITY, tenths, tid, rnd)
    return sts.encode(token, sts.DecoderKey.from_hex(dk))


def make_device(meter: Meter | None = None, max_pdu_size: int = 1024) -> LogicalDevice:
    challenges = iter(bytes([n]) * 32 for n in range(1, 1000))
    return LogicalDevice(
        meter or make_meter(),
        SecuritySettings(SYSTEM_TITLE, PASSWORDS, EK, AK, max_pdu_size),
        Counters(),
        random_bytes=lambda n: next(challenges)[:n],
    )


@dataclass
class Served:
    device: LogicalDevice
    port: int
    server: TcpServer

    def client(
        self,
        kind: str = "public",
        password: bytes | None = None,
        *,
        client_sap: int | None = None,
        max_pdu_size: int = 65535,
        keys: tuple[bytes, bytes] = (EK, AK),
        invocation_counter: int | None = None,
    ) -> DlmsClient:
        """A dlms-cosem client of ``kind`` public, lls or hls."""
        extra: dict[str, Any] = {}
        if kind == "public":
            auth: Any = NoSecurityAuthentication()
            sap = 16
        elif kind == "lls":
            auth = LowLevelSecurityAuthentication(password)
            sap = 1
        else:
            auth = HighLevelSecurityGmacAuthentication(challenge_length=32)
            sap = 1
            ic = (
                self.device.counters.client_next
                if invocation_counter is None
                else invocation_counter
            )
            extra = {
                "encryption_key": keys[0],
                "authentication_key": keys[1],
                "client_system_title": b"HEADEND1",
                "client_initial_invocation_counter": ic,
            }
        return DlmsClient(
            transport=TcpTransport(
                client_logical_address=sap if client_sap is None else client_sap,
                server_logical_address=1,
                io=BlockingTcpIO("127.0.0.1", self.port, timeout=10),
            ),
            authentication=auth,
            max_pdu_size=max_pdu_size,
            **extra,
        )


@contextmanager
def served(device: LogicalDevice) -> Iterator[Served]:
    loop = asyncio.new_event_loop()
    server = TcpServer({1: device})
    listening = loop.run_until_complete(server.start("127.0.0.1", 0))
    port = listening.sockets[0].getsockname()[1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield Served(device, port, server)
    finally:

        async def stop() -> None:
            listening.close()
            server.close_connections()
            await listening.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


def attribute(class_id: int, obis: str, index: int) -> cosem.CosemAttribute:
    return cosem.CosemAttribute(E.CosemInterface(class_id), cosem.Obis.from_string(obis), index)


def method(class_id: int, obis: str, index: int) -> cosem.CosemMethod:
    return cosem.CosemMethod(E.CosemInterface(class_id), cosem.Obis.from_string(obis), index)


def octets(text: str) -> bytes:
    """An A-XDR octet-string of ASCII text, written out by hand: tag 09, length, bytes."""
    raw = text.encode("ascii")
    return bytes([0x09, len(raw)]) + raw


# The Green Book's public AARQ (conformance 007E1F, PDU 1200).
PUBLIC_AARQ = bytes.fromhex("601DA109060760857405080101BE10040E01000000065F1F0400007E1F04B0")
# The same AARQ from the management client with LLS "reader-1": ACSE requirements (8A 02 07 80),
# mechanism name LLS (8B 07 60 85 74 05 08 02 01) and the password (AC 0A 80 08 ...).
READER_AARQ = bytes.fromhex(
    "6036A109060760857405080101 8A020780 8B0760857405080201 AC0A8008"
    + b"reader-1".hex()
    + "BE10040E01000000065F1F0400007E1F04B0"
)


@dataclass(frozen=True)
class ByEntry:
    """Selective access by entry (access selector 2) for dlms-cosem's client, whose own
    EntryDescriptor (25.1) does not encode: {from_entry, to_entry (double-long-unsigned),
    from_selected_value, to_selected_value (long-unsigned)}, counted from 1, 0 = last."""

    from_entry: int
    to_entry: int = 0
    from_value: int = 1
    to_value: int = 0

    ACCESS_DESCRIPTOR = 2

    def to_bytes(self) -> bytes:
        return (
            bytes.fromhex("02 0204 06")
            + self.from_entry.to_bytes(4, "big")
            + b"\x06"
            + self.to_entry.to_bytes(4, "big")
            + b"\x12"
            + self.from_value.to_bytes(2, "big")
            + b"\x12"
            + self.to_value.to_bytes(2, "big")
        )
