"""The TCP-UDP wrapper of IEC 62056-47 as a sans-IO frame decoder.

Each APDU on TCP travels behind an 8-octet header: version (1), source
wPort, destination wPort and the APDU's length, each an unsigned 16-bit
integer (dlms-cosem's :class:`~dlms_cosem.protocol.wrappers.WrapperHeader`).
:class:`WrapperDecoder` takes bytes as they arrive and gives whole frames::

    >>> decoder = WrapperDecoder()
    >>> decoder.feed(bytes.fromhex("0001 0010 0001 0002 c001".replace(" ", "")))
    [Frame(source=16, destination=1, apdu=b'\\xc0\\x01')]
"""

from __future__ import annotations

from dataclasses import dataclass

from dlms_cosem.protocol.wrappers import WrapperHeader

from sts.meter.dlms.errors import DlmsError

HEADER_LENGTH = 8
VERSION = 1
DEFAULT_PORT = 4059


@dataclass(frozen=True)
class Frame:
    source: int
    destination: int
    apdu: bytes


class WrapperError(DlmsError):
    """Bytes that are not a wrapper frame (wrong version): the connection is closed."""


def wrap(source: int, destination: int, apdu: bytes) -> bytes:
    """One wrapper frame around ``apdu``."""
    return WrapperHeader(source, destination, len(apdu)).to_bytes() + apdu


class WrapperDecoder:
    """Buffers received bytes and cuts them into frames."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames = []
        while len(self._buffer) >= HEADER_LENGTH:
            header = WrapperHeader.from_bytes(bytes(self._buffer[:HEADER_LENGTH]))
            if header.version != VERSION:
                raise WrapperError(f"wrapper version {header.version}; expected {VERSION}")
            end = HEADER_LENGTH + header.length
            if len(self._buffer) < end:
                break
            frames.append(
                Frame(
                    header.source_wport,
                    header.destination_wport,
                    bytes(self._buffer[HEADER_LENGTH:end]),
                )
            )
            del self._buffer[:end]
        return frames
