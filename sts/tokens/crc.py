"""CRC-16 of STS token blocks (and CRC_C of currency tokens).

The CRC is CRC-16/MODBUS: polynomial x^16+x^15+x^2+1 processed LSB first
(reflected 0xA001), initial value 0xFFFF, no final XOR. It runs over the 50
bits ``class(2) | subclass(4) | payload(44)`` left-padded to 7 bytes, most
significant byte first; currency tokens (class 0 subclasses 4-7) add one byte
0x01 (CRC_C). The register's low byte is stored in the upper half of the
block's CRC field::

    >>> hex(crc_field(bytes.fromhex("000B19EB230100")))
    '0xc207'
"""

from __future__ import annotations


def _byte_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        register = byte
        for _ in range(8):
            register = (register >> 1) ^ 0xA001 if register & 1 else register >> 1
        table.append(register)
    return tuple(table)


_TABLE = _byte_table()


def crc16_register(data: bytes) -> int:
    """The final CRC-16/MODBUS register over ``data``."""
    register = 0xFFFF
    table = _TABLE
    for byte in data:
        register = (register >> 8) ^ table[(register ^ byte) & 0xFF]
    return register


def crc_field(data: bytes) -> int:
    """The 16-bit CRC field as stored in a block: the register, bytes swapped."""
    register = crc16_register(data)
    return (register & 0xFF) << 8 | register >> 8


def block_crc(token_class: int, head: int, currency: bool = False) -> int:
    """The CRC field for a block whose bits 63..16 are ``head`` (48 bits)."""
    value = token_class << 48 | head
    register = 0xFFFF
    table = _TABLE
    for shift in (48, 40, 32, 24, 16, 8, 0):
        register = (register >> 8) ^ table[(register ^ (value >> shift)) & 0xFF]
    if currency:
        register = (register >> 8) ^ table[(register ^ 1) & 0xFF]
    return (register & 0xFF) << 8 | register >> 8
