"""What every token type shares: its class, subclass, 44-bit payload and block.

A plaintext block is 64 bits::

    bits 63..60  subclass
    bits 59..16  payload (44 bits, laid out per token type)
    bits 15..0   CRC over class | subclass | payload

Every token type is a frozen dataclass with the same verbs: ``payload()``
gives the 44 payload bits, ``from_payload()`` rebuilds the token from them,
``to_block()`` gives the plaintext block with its CRC, and ``fields()`` names
the payload's parts as the vector files (``sts/conformance/FORMAT.md``) do.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, Self

from sts.errors import RangeError, shown
from sts.tokens.crc import block_crc

PAYLOAD_BITS = 44
PAYLOAD_MASK = (1 << PAYLOAD_BITS) - 1


class TokenClass(IntEnum):
    """The 2-bit token class."""

    CREDIT = 0
    TEST = 1
    MANAGEMENT = 2


def check_width(name: str, value: int, bits: int) -> None:
    """Raise RangeError unless ``value`` is an int that fits ``bits`` bits."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1 << bits:
        raise RangeError(
            f"{name} {shown(value)} does not fit its {bits}-bit field (0..{(1 << bits) - 1})"
        )


@dataclass(frozen=True)
class Token:
    """Base of all token types. Subclasses set ``token_class`` and ``subclass``."""

    token_class: ClassVar[TokenClass]
    subclass: ClassVar[int]
    #: True when the token carries a TID that the meter checks against its memory.
    carries_tid: ClassVar[bool] = False
    #: True for currency tokens, whose CRC includes an extra 0x01 byte (CRC_C).
    uses_crc_c: ClassVar[bool] = False

    def payload(self) -> int:
        """The 44 payload bits (block bits 59..16)."""
        raise NotImplementedError

    @classmethod
    def from_payload(cls, subclass: int, payload: int) -> Self:
        """Rebuild the token from its subclass and 44 payload bits."""
        raise NotImplementedError

    def fields(self) -> dict[str, int | str]:
        """The payload's parts, named as in the vector file format."""
        raise NotImplementedError

    def to_block(self) -> int:
        """The 64-bit plaintext block, CRC included."""
        head = self.subclass << PAYLOAD_BITS | self.payload()
        return head << 16 | block_crc(self.token_class, head, self.uses_crc_c)

    @property
    def name(self) -> str:
        """A short human name of the token type."""
        return type(self).__name__
