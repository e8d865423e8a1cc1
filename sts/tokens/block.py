"""Plaintext blocks to token objects: CRC check and dispatch on class and subclass.

``parse_block(token_class, block)`` is the inverse of ``Token.to_block()``. It
checks the CRC first (CRC_C for currency subclasses), then builds the token
type that the class and subclass name. Subclasses without a layout give a
:class:`RawToken`, never an error.
"""

from __future__ import annotations

from sts.errors import CrcError, FormatError, shown
from sts.tokens.base import PAYLOAD_BITS, PAYLOAD_MASK, Token, TokenClass
from sts.tokens.crc import block_crc
from sts.tokens.credit import CurrencyCredit, TransferCredit
from sts.tokens.keychange import KEY_CHANGE_TOKENS
from sts.tokens.management import MANAGEMENT_TOKENS
from sts.tokens.meter_test import MeterTestToken
from sts.tokens.raw import RawToken

_LAYOUTS: dict[tuple[int, int], type[Token]] = {}
for _sub in range(4):
    _LAYOUTS[TokenClass.CREDIT, _sub] = TransferCredit
    _LAYOUTS[TokenClass.CREDIT, _sub + 4] = CurrencyCredit
for _sub in (0, 1):
    _LAYOUTS[TokenClass.TEST, _sub] = MeterTestToken
for _type in (*MANAGEMENT_TOKENS, *KEY_CHANGE_TOKENS):
    _LAYOUTS[TokenClass.MANAGEMENT, _type.subclass] = _type


def layout_for(token_class: int, subclass: int) -> type[Token] | None:
    """The token type laid out for this class and subclass, or None."""
    return _LAYOUTS.get((token_class, subclass))


def uses_crc_c(token_class: int, subclass: int) -> bool:
    """True when the block's CRC is CRC_C (class 0 currency subclasses)."""
    return token_class == TokenClass.CREDIT and 4 <= subclass <= 7


def parse_block(token_class: int, block: int) -> Token:
    """The token a plaintext block holds; CrcError when its CRC does not match."""
    if token_class not in (0, 1, 2):
        raise FormatError(f"token class {token_class} is reserved; expected class 0, 1 or 2")
    if not 0 <= block < 1 << 64:
        raise FormatError(f"block {shown(block)} is not a 64-bit value")
    head = block >> 16
    subclass = head >> PAYLOAD_BITS
    stored = block & 0xFFFF
    expected = block_crc(token_class, head, uses_crc_c(token_class, subclass))
    if stored != expected:
        raise CrcError(
            f"CRC {stored:04X} of block {block:016X} does not match {expected:04X}: "
            "a wrong key or a mistyped token"
        )
    layout = _LAYOUTS.get((token_class, subclass))
    payload = head & PAYLOAD_MASK
    if layout is None:
        return RawToken(TokenClass(token_class), subclass, payload)
    return layout.from_payload(subclass, payload)
