"""Decoder key generation: DKGA02 (DES based, 64-bit) and DKGA04 (HMAC-SHA-256).

DKGA02::

    PANBlock     the MeterPAN without its first digit and its check digit, as 16 nibbles
    CONTROLBlock KT | SGC (6 digits) | TI (2 digits) | KRN | FFFFFF
    D            PANBlock XOR CONTROLBlock
    DK           DES(key=VK, D) XOR D XOR VK

For KT 3 (a common key) the IAIN part of the PANBlock is zeros.

DKGA04 takes a 160-bit vending key and returns the first 8 (EA07) or 16
(EA11) bytes of HMAC-SHA-256 over a message of length-prefixed ASCII items::

    04 | 02 "04" | 02 BD | 02 EA | 02 TI | 00 | 04 | 06 SGC | 01 KT | 01 KRN | 12 PAN | L (4 bytes)

DKGA01 and DKGA03 have no public vectors; asking for them is a
:class:`FunctionError` that names them.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from sts.crypto.keys import DecoderKey, VendingKey
from sts.errors import FormatError, FunctionError, KeyTypeError, RangeError
from sts.tokens.meter_number import validate_pan
from sts.tokens.tid import BaseDate

if TYPE_CHECKING:
    from Crypto.Cipher._mode_ecb import EcbMode

SUPPORTED_DKGA = ("02", "04")


@dataclass(frozen=True)
class KeyParameters:
    """The meter parameters a decoder key is derived from.

    ``pan`` is the 18-digit MeterPAN; ``sgc`` the 6-digit supply group code;
    ``base_date`` and ``ea`` matter to DKGA04 only.
    """

    pan: str
    sgc: int
    kt: int
    ti: int
    krn: int
    base_date: BaseDate = BaseDate.Y1993
    ea: str = "07"

    def __post_init__(self) -> None:
        object.__setattr__(self, "pan", validate_pan(self.pan))
        if not isinstance(self.sgc, int) or not 0 <= self.sgc <= 999_999:
            raise RangeError(f"SGC {self.sgc!r} is not a 6-digit supply group code")
        if isinstance(self.kt, bool) or self.kt not in (0, 1, 2, 3):
            raise KeyTypeError(f"key type {self.kt!r} is not one of 0, 1, 2, 3")
        if not isinstance(self.ti, int) or not 0 <= self.ti <= 99:
            raise RangeError(f"tariff index {self.ti!r} is not in 0..99")
        if not isinstance(self.krn, int) or not 1 <= self.krn <= 9:
            raise RangeError(f"key revision number {self.krn!r} is not in 1..9")
        if self.ea not in ("07", "09", "11"):
            raise FormatError(f"encryption algorithm {self.ea!r} is not one of 07, 09, 11")
        if not isinstance(self.base_date, BaseDate):
            object.__setattr__(self, "base_date", BaseDate.parse(self.base_date))


def dkga02_data_block(params: KeyParameters) -> int:
    """D, the block DKGA02 encrypts: PANBlock XOR CONTROLBlock (64 bits)."""
    pan_digits = params.pan[1:17]
    if params.kt == 3:
        # A common key keeps only the IIN digits that fall in the block.
        iin_len = 5 if params.pan.startswith("600727") else 3
        pan_digits = pan_digits[:iin_len] + "0" * (16 - iin_len)
    pan_block = int(pan_digits, 16)
    control = int(f"{params.kt:X}{params.sgc:06d}{params.ti:02d}{params.krn:X}FFFFFF", 16)
    return pan_block ^ control


@lru_cache(maxsize=16)
def _des(vk_bytes: bytes) -> EcbMode:
    """A DES cipher keyed with a vending key. Vending systems use a handful of
    vending keys for many meters; keying DES once per vending key saves a third
    of a derivation."""
    from sts.crypto.native import cipher  # a native library, loaded on first use

    DES = cipher("DES")

    return DES.new(vk_bytes, DES.MODE_ECB)


def dkga02(vk: VendingKey, params: KeyParameters) -> DecoderKey:
    """The 64-bit decoder key by DKGA02."""
    vk_bytes = vk.secret_bytes()
    if len(vk_bytes) != 8:
        raise FormatError(f"DKGA02 needs a 64-bit vending key; this one has {vk.bits} bits")
    d = dkga02_data_block(params)
    encrypted = _des(vk_bytes).encrypt(d.to_bytes(8, "big"))
    dk = int.from_bytes(encrypted, "big") ^ d ^ int.from_bytes(vk_bytes, "big")
    return DecoderKey(dk.to_bytes(8, "big"))


def _item(text: str) -> bytes:
    raw = text.encode("ascii")
    return bytes([len(raw)]) + raw


def dkga04_message(params: KeyParameters, bits: int) -> bytes:
    """The HMAC message of DKGA04 for an output of ``bits`` bits."""
    return (
        b"\x04"
        + _item("04")
        + _item(params.base_date.code)
        + _item(params.ea)
        + _item(f"{params.ti:02d}")
        + b"\x00\x04"
        + _item(f"{params.sgc:06d}")
        + _item(f"{params.kt:X}")
        + _item(f"{params.krn:X}")
        + _item(params.pan)
        + bits.to_bytes(4, "big")
    )


def dkga04(vk: VendingKey, params: KeyParameters) -> DecoderKey:
    """The decoder key by DKGA04: 64 bits for EA07, 128 bits for EA11."""
    if vk.bits != 160:
        raise FormatError(f"DKGA04 needs a 160-bit vending key; this one has {vk.bits} bits")
    if params.ea == "09":
        raise FormatError("DKGA04 derives keys for EA07 or EA11, not EA09")
    bits = 128 if params.ea == "11" else 64
    digest = hmac.new(vk.secret_bytes(), dkga04_message(params, bits), hashlib.sha256).digest()
    return DecoderKey(digest[: bits // 8])


def derive_decoder_key(dkga: str, vk: VendingKey, params: KeyParameters) -> DecoderKey:
    """The decoder key by the named algorithm ("02" or "04")."""
    code = str(dkga).strip().zfill(2)
    if code == "02":
        return dkga02(vk, params)
    if code == "04":
        return dkga04(vk, params)
    if code in ("01", "03"):
        raise FunctionError(
            f"DKGA{code} is not supported (no public test vectors exist); use DKGA02 or DKGA04"
        )
    raise FormatError(f"decoder key generation algorithm {dkga!r} is unknown; expected 02 or 04")
