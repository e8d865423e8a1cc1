"""Tokens to 20 digits and back: the whole pipeline in one place.

Encoding: build the plaintext block (with CRC), encrypt it for classes 0 and 2
(EA07 STA, EA11 MISTY1, or the withdrawn EA09 DES), transpose the class bits
and write the 66-bit number as 20 digits. Decoding runs the steps backwards
and checks the CRC, which is the only authentication a token has: a wrong key
or a typo comes out as a :class:`CrcError`.

The encryption algorithm follows from the key size unless given: a 64-bit key
means EA07, a 128-bit key EA11.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Protocol

from sts.crypto.des import WITHDRAWN_WARNING, Des
from sts.crypto.keys import DecoderKey
from sts.crypto.misty1 import Misty1
from sts.crypto.sta import Sta
from sts.crypto.sta_tables import PRODUCTION
from sts.errors import FormatError, shown
from sts.tokens.base import Token, TokenClass
from sts.tokens.block import parse_block
from sts.tokens.digits import format_token, parse_token, transpose_class, untranspose_class


class EncryptionAlgorithm(StrEnum):
    """The STS encryption algorithm codes."""

    EA07 = "07"  # STA, 64-bit key
    EA09 = "09"  # DES, 64-bit key, withdrawn in Edition 3
    EA11 = "11"  # MISTY1, 128-bit key

    @classmethod
    def parse(cls, value: str | int | EncryptionAlgorithm) -> EncryptionAlgorithm:
        text = str(value).strip().upper().removeprefix("EA").zfill(2)
        try:
            return cls(text)
        except ValueError:
            raise FormatError(
                f"encryption algorithm {shown(value)} is not one of 07 (STA), 11 (MISTY1), 09 (DES)"
            ) from None

    @property
    def key_bits(self) -> int:
        return 128 if self is EncryptionAlgorithm.EA11 else 64


class WithdrawnAlgorithmWarning(UserWarning):
    """A token is made or read with EA09 (DES), withdrawn in Edition 3."""


class BlockCipher(Protocol):
    def encrypt_block(self, block: int) -> int: ...
    def decrypt_block(self, block: int) -> int: ...


def algorithm_for(key: DecoderKey, ea: str | EncryptionAlgorithm | None) -> EncryptionAlgorithm:
    """The algorithm to use with ``key``: as given, or implied by the key size."""
    if ea is None:
        return EncryptionAlgorithm.EA11 if key.bits == 128 else EncryptionAlgorithm.EA07
    algorithm = EncryptionAlgorithm.parse(ea)
    if algorithm.key_bits != key.bits:
        raise FormatError(
            f"EA{algorithm.value} needs a {algorithm.key_bits}-bit decoder key; "
            f"this one has {key.bits} bits"
        )
    return algorithm


def cipher_for(
    key: DecoderKey,
    ea: str | EncryptionAlgorithm | None = None,
    tables: str = PRODUCTION.name,
) -> BlockCipher:
    """The block cipher for a decoder key (cached per key)."""
    algorithm = algorithm_for(key, ea)
    if algorithm is EncryptionAlgorithm.EA09:
        warnings.warn(WITHDRAWN_WARNING, WithdrawnAlgorithmWarning, stacklevel=2)
    return _cipher(key.secret_bytes(), algorithm, tables)


@lru_cache(maxsize=1024)
def _cipher(key: bytes, algorithm: EncryptionAlgorithm, tables: str) -> BlockCipher:
    if algorithm is EncryptionAlgorithm.EA07:
        return Sta(key, tables)
    if algorithm is EncryptionAlgorithm.EA11:
        return Misty1(key)
    return Des(key)


def _needs_key(token_class: int) -> bool:
    return token_class in (TokenClass.CREDIT, TokenClass.MANAGEMENT)


def encrypt_token(token: Token, cipher: BlockCipher | None) -> tuple[int, int]:
    """(encrypted block, 66-bit token number). Class 1 blocks stay in the clear."""
    block = token.to_block()
    if _needs_key(token.token_class):
        if cipher is None:
            raise FormatError(f"a {token.name} token is encrypted; give the meter's decoder key")
        block = cipher.encrypt_block(block)
    return block, transpose_class(token.token_class, block)


def _open(number: int, cipher: BlockCipher | None) -> tuple[int, int, int]:
    """(class, block as carried, plaintext block) of a 66-bit token number."""
    token_class, carried = untranspose_class(number)
    if token_class == 3:
        raise FormatError(f"token {number:020d} is class 3, which is reserved")
    if not _needs_key(token_class):
        return token_class, carried, carried
    if cipher is None:
        raise FormatError(
            f"token {number:020d} is class {token_class}, which is encrypted; "
            "give the meter's decoder key"
        )
    return token_class, carried, cipher.decrypt_block(carried)


def decrypt_number(number: int, cipher: BlockCipher | None) -> tuple[int, int]:
    """(class, plaintext block) of a 66-bit token number."""
    token_class, _, block = _open(number, cipher)
    return token_class, block


@dataclass(frozen=True)
class DecodedToken:
    """A decoded token with the intermediate figures a conformance check wants."""

    token: Token
    token_class: int
    block: int  # plaintext, CRC included
    encrypted: int  # the block as carried (equal to ``block`` for class 1)
    number: int  # the 66-bit token number

    @property
    def digits(self) -> str:
        return format_token(self.number, grouped=False)


def encode(
    token: Token,
    key: DecoderKey | None = None,
    ea: str | EncryptionAlgorithm | None = None,
    tables: str = PRODUCTION.name,
    grouped: bool = False,
) -> str:
    """The 20-digit token (in groups of four if ``grouped``)."""
    cipher = cipher_for(key, ea, tables) if key is not None else None
    _, number = encrypt_token(token, cipher)
    return format_token(number, grouped)


def decode_full(
    digits: str,
    key: DecoderKey | None = None,
    ea: str | EncryptionAlgorithm | None = None,
    tables: str = PRODUCTION.name,
) -> DecodedToken:
    """Decode typed digits, keeping the intermediate blocks."""
    number = parse_token(digits)
    cipher = cipher_for(key, ea, tables) if key is not None else None
    token_class, encrypted, block = _open(number, cipher)
    return DecodedToken(parse_block(token_class, block), token_class, block, encrypted, number)


def decode(
    digits: str,
    key: DecoderKey | None = None,
    ea: str | EncryptionAlgorithm | None = None,
    tables: str = PRODUCTION.name,
) -> Token:
    """The token that typed digits stand for. Class 1 tokens need no key."""
    return decode_full(digits, key, ea, tables).token
