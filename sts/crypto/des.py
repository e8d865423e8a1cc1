"""EA09: single DES in ECB mode on the 64-bit block (withdrawn in Edition 3).

Kept for old meters. The mechanics follow the standard (DES keyed with the
64-bit decoder key, then the usual CRC and class-bit transposition); no public
vectors exist for it, so its tokens are only as certain as DES itself.
"""

from __future__ import annotations

from sts.errors import FormatError

WITHDRAWN_WARNING = (
    "EA09 (DES) was withdrawn in STS Edition 3 (2018); move this meter to EA07 or EA11"
)


class Des:
    """DES keyed with a 64-bit decoder key, on 64-bit int blocks."""

    __slots__ = ("_cipher",)

    def __init__(self, key: bytes) -> None:
        if len(key) != 8:
            raise FormatError(f"DES key has {len(key)} bytes; expected 8 (64 bits)")
        # pycryptodome loads its native library on import (tens of ms): only when used.
        from sts.crypto.native import cipher

        DES = cipher("DES")

        self._cipher = DES.new(key, DES.MODE_ECB)

    def __repr__(self) -> str:
        return "Des(<64-bit key>)"

    def encrypt_block(self, block: int) -> int:
        return int.from_bytes(self._cipher.encrypt(block.to_bytes(8, "big")), "big")

    def decrypt_block(self, block: int) -> int:
        return int.from_bytes(self._cipher.decrypt(block.to_bytes(8, "big")), "big")
