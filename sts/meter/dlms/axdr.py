"""A-XDR encoding of COSEM ``Data`` values, as the server sends them.

dlms-cosem parses Data well (:class:`dlms_cosem.dlms_data.DlmsDataParser`,
used by :func:`decode`), but its ``to_bytes`` writes the length of a variable
length value in one octet (wrong past 127 octets, which an object list or a
long description reaches) and has no encoder for booleans or bit strings. The
server only needs to *write* a handful of types, so these few functions write
them, each tag and length as IEC 62056-6-2 gives them, on dlms-cosem's own
variable-length integer coding::

    >>> long_unsigned(4059).hex()
    '120fdb'
    >>> structure(integer(-3), enum(30)).hex()
    '02020ffd161e'
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from dlms_cosem import dlms_data
from dlms_cosem.dlms_data import encode_variable_integer
from dlms_cosem.time import datetime_to_bytes

from sts.meter.dlms.errors import DataError

NULL = b"\x00"


def _fixed(tag: int, value: int, size: int, signed: bool) -> bytes:
    try:
        return bytes([tag]) + value.to_bytes(size, "big", signed=signed)
    except OverflowError:
        raise DataError(f"value {value} does not fit a {size}-octet field") from None


def array(items: Iterable[bytes]) -> bytes:
    parts = list(items)
    return b"\x01" + encode_variable_integer(len(parts)) + b"".join(parts)


def structure(*items: bytes) -> bytes:
    return b"\x02" + encode_variable_integer(len(items)) + b"".join(items)


def boolean(value: bool) -> bytes:
    return b"\x03\xff" if value else b"\x03\x00"


def bit_string(bits: str) -> bytes:
    """A bit string from '0'/'1' characters, first character the leftmost bit."""
    if any(b not in "01" for b in bits):
        raise DataError(f"bit string {bits!r} holds characters other than 0 and 1")
    padded = bits + "0" * (-len(bits) % 8)
    octets = int(padded, 2).to_bytes(len(padded) // 8, "big") if padded else b""
    return b"\x04" + encode_variable_integer(len(bits)) + octets


def double_long(value: int) -> bytes:
    return _fixed(5, value, 4, True)


def double_long_unsigned(value: int) -> bytes:
    return _fixed(6, value, 4, False)


def octet_string(value: bytes) -> bytes:
    return b"\x09" + encode_variable_integer(len(value)) + value


def visible_string(value: str) -> bytes:
    raw = value.encode("ascii", "replace")
    return b"\x0a" + encode_variable_integer(len(raw)) + raw


def integer(value: int) -> bytes:
    return _fixed(15, value, 1, True)


def long(value: int) -> bytes:
    return _fixed(16, value, 2, True)


def unsigned(value: int) -> bytes:
    return _fixed(17, value, 1, False)


def long_unsigned(value: int) -> bytes:
    return _fixed(18, value, 2, False)


def long64(value: int) -> bytes:
    return _fixed(20, value, 8, True)


def enum(value: int) -> bytes:
    return _fixed(22, value, 1, False)


def date_time(when: datetime) -> bytes:
    """A date-time as the 12-octet octet-string COSEM clocks use (deviation in minutes)."""
    return octet_string(datetime_to_bytes(when))


def decode(raw: bytes) -> dlms_data.AbstractDlmsData:
    """Exactly one Data value from ``raw``; DataError for anything else."""
    parser = dlms_data.DlmsDataParser()
    try:
        values = parser.parse(bytes(raw), limit=1)
        rest = parser.get_buffer_tail()
    except Exception as exc:  # dlms-cosem raises ValueError, KeyError, NotImplementedError...
        raise DataError(f"the value is not A-XDR encoded data ({exc.__class__.__name__})") from None
    if len(values) != 1 or rest or parser.pointer > len(parser.buffer):
        raise DataError("the value is not exactly one A-XDR encoded data item")
    return values[0]
