"""A small DLMS client for people without a head-end, on dlms-cosem's own client.

Each call opens a TCP connection (wrapper transport), associates as the
chosen client, does one service, releases and disconnects::

    target = Target("127.0.0.1", 4059, Credentials.lls(b"secret"))
    get(target, (0, 0, 1, 0, 0, 255), 2)                 # the clock's time, as Data bytes
    push_token(target, "23716100501183194197")           # GatewayOutcome(status=3, sts_result=1)

With HLS the client first reads the server's frame counter
(0.0.43.1.0.255) as the public client, as IDIS head-ends do, and starts its
own invocation counter there. Every failure (no connection, association
refused, a data-access error) is a :class:`ClientError` naming it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sts.meter.dlms.errors import DlmsError
from sts.meter.dlms.model import Obis, obis_text

FRAME_COUNTER: Obis = (0, 0, 43, 1, 0, 255)
TOKEN_GATEWAY: Obis = (0, 0, 19, 40, 0, 255)
PUBLIC_CLIENT = 16
MANAGEMENT_CLIENT = 1


class ClientError(DlmsError):
    """The DLMS exchange failed; the message says at which step and why."""


@dataclass(frozen=True)
class Credentials:
    """Who the client is: public, LLS with a password, or HLS GMAC with suite-0 keys."""

    client_sap: int = PUBLIC_CLIENT
    password: bytes | None = None
    encryption_key: bytes | None = None
    authentication_key: bytes | None = None
    system_title: bytes = b"STSCLI01"

    @classmethod
    def public(cls) -> Credentials:
        return cls()

    @classmethod
    def lls(cls, password: bytes) -> Credentials:
        return cls(MANAGEMENT_CLIENT, password=password)

    @classmethod
    def hls(cls, encryption_key: bytes, authentication_key: bytes) -> Credentials:
        return cls(
            MANAGEMENT_CLIENT, encryption_key=encryption_key, authentication_key=authentication_key
        )

    @property
    def is_hls(self) -> bool:
        return self.encryption_key is not None


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    credentials: Credentials
    server_sap: int = 1
    max_pdu_size: int = 65535
    timeout: int = 10


@dataclass(frozen=True)
class GatewayOutcome:
    """The token gateway's token_status after ``enter``: IC 115 status and the STS result."""

    status: int
    sts_result: int | None
    description: tuple[str, ...]


def _quiet() -> None:
    """dlms-cosem logs every APDU through structlog at info level: keep the CLI's output clean."""
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def _client(target: Target, credentials: Credentials, invocation_counter: int = 0) -> Any:
    from dlms_cosem.client import DlmsClient
    from dlms_cosem.io import BlockingTcpIO, TcpTransport
    from dlms_cosem.security import (
        HighLevelSecurityGmacAuthentication,
        LowLevelSecurityAuthentication,
        NoSecurityAuthentication,
    )

    _quiet()
    auth: Any
    keys: dict[str, Any] = {}
    if credentials.is_hls:
        auth = HighLevelSecurityGmacAuthentication(challenge_length=32)
        keys = {
            "encryption_key": credentials.encryption_key,
            "authentication_key": credentials.authentication_key,
            "client_system_title": credentials.system_title,
            "client_initial_invocation_counter": invocation_counter,
        }
    elif credentials.password is not None:
        auth = LowLevelSecurityAuthentication(credentials.password)
    else:
        auth = NoSecurityAuthentication()
    return DlmsClient(
        transport=TcpTransport(
            client_logical_address=credentials.client_sap,
            server_logical_address=target.server_sap,
            io=BlockingTcpIO(target.host, target.port, timeout=target.timeout),
            timeout=target.timeout,
        ),
        authentication=auth,
        max_pdu_size=target.max_pdu_size,
        **keys,
    )


def _session(target: Target, work: Callable[[Any], Any]) -> Any:
    """Connect, associate, ``work(client)``, release, disconnect; ClientError on failure."""
    counter = 0
    if target.credentials.is_hls:
        raw = _session(
            Target(target.host, target.port, Credentials.public(), target.server_sap),
            lambda c: c.get(_attribute(1, FRAME_COUNTER, 2)),
        )
        counter = int.from_bytes(raw[1:5], "big") if raw[:1] == b"\x06" else 0
    client = _client(target, target.credentials, counter)
    step = "connect"
    try:
        client.connect()
        step = "associate"
        client.associate()
        step = "request"
        result = work(client)
        step = "release"
        client.release_association()
        return result
    except ClientError:
        raise
    except Exception as exc:
        raise ClientError(f"DLMS {step} with {target.host}:{target.port} failed: {exc}") from None
    finally:
        with contextlib.suppress(Exception):
            client.disconnect()


def _attribute(class_id: int, obis: Obis, attribute: int) -> Any:
    from dlms_cosem import cosem, enumerations

    return cosem.CosemAttribute(
        enumerations.CosemInterface(class_id), cosem.Obis(*obis[:5], obis[5]), attribute
    )


def _method(class_id: int, obis: Obis, method: int) -> Any:
    from dlms_cosem import cosem, enumerations

    return cosem.CosemMethod(
        enumerations.CosemInterface(class_id), cosem.Obis(*obis[:5], obis[5]), method
    )


def _check_ids(class_id: int, index: int) -> None:
    from dlms_cosem import enumerations

    if class_id not in {int(c) for c in enumerations.CosemInterface}:
        raise ClientError(f"class id {class_id} is not a COSEM interface class dlms-cosem knows")
    if not 1 <= index <= 255:
        raise ClientError(f"attribute or method {index} is not 1-255")


@dataclass(frozen=True)
class ByEntry:
    """Selective access by entry (selector 2): rows ``first``-``last`` (0: to the last),
    every column. Encoded here: dlms-cosem's EntryDescriptor does not encode (25.1)."""

    first: int
    last: int = 0

    def to_bytes(self) -> bytes:
        if not (1 <= self.first <= 0xFFFFFFFF and 0 <= self.last <= 0xFFFFFFFF):
            raise ClientError(f"entries {self.first}-{self.last}: expected 1-4294967295 (0: last)")
        return (
            bytes.fromhex("02 0204 06")
            + self.first.to_bytes(4, "big")
            + b"\x06"
            + self.last.to_bytes(4, "big")
            + bytes.fromhex("120001 120000")
        )


def by_range(start: datetime, end: datetime) -> Any:
    """Selective access by range (selector 1): rows captured from ``start`` to ``end``."""
    from dlms_cosem import cosem, enumerations
    from dlms_cosem.cosem.capture_object import CaptureObject
    from dlms_cosem.cosem.selective_access import RangeDescriptor

    clock = cosem.CosemAttribute(enumerations.CosemInterface.CLOCK, cosem.Obis(0, 0, 1, 0, 0), 2)
    return RangeDescriptor(CaptureObject(clock, 0), start, end)


def get(target: Target, obis: Obis, attribute: int, class_id: int, selection: Any = None) -> bytes:
    """The attribute's value as A-XDR Data bytes (``selection``: :class:`ByEntry` or
    :func:`by_range`, for a profile's buffer)."""
    _check_ids(class_id, attribute)
    return _session(
        target,
        lambda c: c.get(_attribute(class_id, obis, attribute), access_descriptor=selection),
    )


def set_value(target: Target, obis: Obis, attribute: int, class_id: int, value: bytes) -> None:
    """Write ``value`` (A-XDR Data bytes); ClientError naming the data-access result."""
    from dlms_cosem import enumerations

    _check_ids(class_id, attribute)

    def work(client: Any) -> None:
        response = client.set(_attribute(class_id, obis, attribute), value)
        result = getattr(response, "result", None)
        if result is not enumerations.DataAccessResult.SUCCESS:
            name = result.name if result is not None else type(response).__name__
            raise ClientError(f"SET {obis_text(obis)} attribute {attribute} refused: {name}")

    _session(target, work)


def action(
    target: Target, obis: Obis, method: int, class_id: int, parameter: bytes | None
) -> bytes | None:
    """Invoke a method; its return data (A-XDR bytes) or None."""
    _check_ids(class_id, method)

    def work(client: Any) -> bytes | None:
        from dlms_cosem.client import ActionError

        try:
            return client.action(_method(class_id, obis, method), parameter)
        except ActionError as exc:
            raise ClientError(f"ACTION {obis_text(obis)} method {method} refused: {exc}") from None

    return _session(target, work)


def push_token(target: Target, digits: str) -> GatewayOutcome:
    """Enter a 20-digit token through the token gateway and read back its status."""
    token = "".join(ch for ch in digits if not ch.isspace() and ch != "-")
    if len(token) != 20 or not token.isascii() or not token.isdigit():
        raise ClientError(f"token {digits!r} is not 20 digits")
    parameter = b"\x09\x14" + token.encode("ascii")

    def work(client: Any) -> tuple[bytes, bytes]:
        from dlms_cosem.client import ActionError

        try:
            client.action(_method(115, TOKEN_GATEWAY, 1), parameter)
        except ActionError as exc:
            raise ClientError(f"the token gateway refused the token: {exc}") from None
        return client.get(_attribute(115, TOKEN_GATEWAY, 6)), client.get(
            _attribute(115, TOKEN_GATEWAY, 4)
        )

    status, description = _session(target, work)
    return parse_gateway_status(status, description)


def parse_gateway_status(status: bytes, description: bytes) -> GatewayOutcome:
    """token_status (structure {enum, bit-string}) and token_description (array of octet-string).

    Parsed here: dlms-cosem's parser cannot read bit strings.
    """
    if len(status) < 6 or status[:3] != b"\x02\x02\x16" or status[4] != 4:
        raise ClientError(f"token_status {status.hex()} is not structure {{enum, bit-string}}")
    code = status[3]
    bits = status[5]
    sts_result = status[6] if bits == 8 and len(status) >= 7 else None
    lines: list[str] = []
    if description[:1] == b"\x01" and len(description) >= 2:
        at = 2
        for _ in range(description[1]):
            if description[at : at + 1] != b"\x09" or at + 2 > len(description):
                break
            size = description[at + 1]
            lines.append(description[at + 2 : at + 2 + size].decode("ascii", "replace"))
            at += 2 + size
    return GatewayOutcome(code, sts_result, tuple(lines))
