"""Key change tokens (KCTs): class 2 subclasses 3, 4, 8 and 9, and the sets they form.

A meter changes its decoder key when it holds a complete set, in any order:
two tokens for a 64-bit key (EA07), four for a 128-bit key (EA11). KCTs carry
no RND and no TID and are encrypted under the meter's *current* key.

::

    KCT 1 (sub 3): KENHO[59:56] KRN[55:52] RO[51] RES/3KCT[50] KT[49:48] NKHO[47:16]
    KCT 2 (sub 4): KENLO[59:56] TI[55:48] (binary)            NKLO[47:16]
    KCT 3 (sub 8): SGCLO[59:48]                               NKMO2[47:16]
    KCT 4 (sub 9): SGCHO[59:48]                               NKMO1[47:16]

The new key is ``NKHO || NKLO`` (64 bits) or ``NKHO || NKMO2 || NKMO1 || NKLO``
(128 bits); KEN is ``KENHO || KENLO``; the new SGC travels as a 24-bit binary
number ``SGCHO || SGCLO`` (128-bit sets only). RO = 1 tells the meter to clear
its TID memory (the base-date rollover). Three-token 64-bit sets (the 3KCT
bit) are not supported by this toolkit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from sts.errors import FormatError, FunctionError, RangeError
from sts.tokens.base import Token, TokenClass, check_width

MAX_SGC = 999_999
KEN_NEVER_EXPIRES = 255


@dataclass(frozen=True)
class KeyChangeToken(Token):
    """Base of the four key change token types."""

    token_class: ClassVar[TokenClass] = TokenClass.MANAGEMENT


@dataclass(frozen=True)
class KeyChange1(KeyChangeToken):
    """Set1stSectionDecoderKey (class 2, subclass 3)."""

    ken_ho: int
    krn: int
    ro: int
    res: int
    kt: int
    nk_ho: int

    subclass: ClassVar[int] = 3

    def __post_init__(self) -> None:
        check_width("KENHO", self.ken_ho, 4)
        check_width("KRN", self.krn, 4)
        check_width("RO", self.ro, 1)
        check_width("RES/3KCT", self.res, 1)
        check_width("KT", self.kt, 2)
        check_width("NKHO", self.nk_ho, 32)

    def payload(self) -> int:
        nibble = self.ro << 3 | self.res << 2 | self.kt
        return self.ken_ho << 40 | self.krn << 36 | nibble << 32 | self.nk_ho

    @classmethod
    def from_payload(cls, subclass: int, payload: int) -> Self:
        nibble = payload >> 32 & 0xF
        return cls(
            payload >> 40,
            payload >> 36 & 0xF,
            nibble >> 3,
            nibble >> 2 & 1,
            nibble & 3,
            payload & 0xFFFFFFFF,
        )

    def fields(self) -> dict[str, int | str]:
        return {
            "ken_ho": self.ken_ho,
            "krn": self.krn,
            "ro": self.ro,
            "res": self.res,
            "kt": self.kt,
            "nk_ho": f"{self.nk_ho:08X}",
        }


@dataclass(frozen=True)
class KeyChange2(KeyChangeToken):
    """Set2ndSectionDecoderKey (class 2, subclass 4)."""

    ken_lo: int
    ti: int
    nk_lo: int

    subclass: ClassVar[int] = 4

    def __post_init__(self) -> None:
        check_width("KENLO", self.ken_lo, 4)
        check_width("TI", self.ti, 8)
        check_width("NKLO", self.nk_lo, 32)

    def payload(self) -> int:
        return self.ken_lo << 40 | self.ti << 32 | self.nk_lo

    @classmethod
    def from_payload(cls, subclass: int, payload: int) -> Self:
        return cls(payload >> 40, payload >> 32 & 0xFF, payload & 0xFFFFFFFF)

    def fields(self) -> dict[str, int | str]:
        return {"ken_lo": self.ken_lo, "ti": self.ti, "nk_lo": f"{self.nk_lo:08X}"}


@dataclass(frozen=True)
class KeyChange3(KeyChangeToken):
    """Set3rdSectionDecoderKey (class 2, subclass 8): key bits 95..64 and SGC low bits."""

    sgc_lo: int
    nk_mo2: int

    subclass: ClassVar[int] = 8

    def __post_init__(self) -> None:
        check_width("SGCLO", self.sgc_lo, 12)
        check_width("NKMO2", self.nk_mo2, 32)

    def payload(self) -> int:
        return self.sgc_lo << 32 | self.nk_mo2

    @classmethod
    def from_payload(cls, subclass: int, payload: int) -> Self:
        return cls(payload >> 32, payload & 0xFFFFFFFF)

    def fields(self) -> dict[str, int | str]:
        return {"sgc_lo": self.sgc_lo, "nk_mo2": f"{self.nk_mo2:08X}"}


@dataclass(frozen=True)
class KeyChange4(KeyChangeToken):
    """Set4thSectionDecoderKey (class 2, subclass 9): key bits 63..32 and SGC high bits."""

    sgc_ho: int
    nk_mo1: int

    subclass: ClassVar[int] = 9

    def __post_init__(self) -> None:
        check_width("SGCHO", self.sgc_ho, 12)
        check_width("NKMO1", self.nk_mo1, 32)

    def payload(self) -> int:
        return self.sgc_ho << 32 | self.nk_mo1

    @classmethod
    def from_payload(cls, subclass: int, payload: int) -> Self:
        return cls(payload >> 32, payload & 0xFFFFFFFF)

    def fields(self) -> dict[str, int | str]:
        return {"sgc_ho": self.sgc_ho, "nk_mo1": f"{self.nk_mo1:08X}"}


KEY_CHANGE_TOKENS: tuple[type[KeyChangeToken], ...] = (
    KeyChange1,
    KeyChange2,
    KeyChange3,
    KeyChange4,
)


@dataclass(frozen=True)
class KeyChangeOrder:
    """What a complete KCT set tells a meter: its new key and key registers.

    ``new_key`` is the raw key (8 or 16 bytes). ``sgc`` is only carried by
    128-bit sets; for 64-bit sets it is None (the meter keeps its SGC).
    """

    new_key: bytes
    krn: int
    kt: int
    ti: int
    ken: int = KEN_NEVER_EXPIRES
    rollover: bool = False
    sgc: int | None = None

    def __post_init__(self) -> None:
        if len(self.new_key) not in (8, 16):
            raise FormatError(f"new key has {len(self.new_key)} bytes; expected 8 or 16")
        check_width("KRN", self.krn, 4)
        check_width("KT", self.kt, 2)
        check_width("TI", self.ti, 8)
        check_width("KEN", self.ken, 8)
        if self.sgc is not None and not 0 <= self.sgc <= MAX_SGC:
            raise RangeError(f"SGC {self.sgc} is not a 6-digit supply group code")
        if len(self.new_key) == 16 and self.sgc is None:
            raise FormatError("a 128-bit key change set carries the SGC; give the new SGC")
        if len(self.new_key) == 8 and self.sgc is not None:
            raise FormatError(
                f"a 64-bit key change set cannot carry SGC {self.sgc}; the meter keeps its SGC"
            )

    def __repr__(self) -> str:
        return (
            f"KeyChangeOrder(<{len(self.new_key) * 8}-bit key>, krn={self.krn}, kt={self.kt}, "
            f"ti={self.ti}, ken={self.ken}, rollover={self.rollover}, sgc={self.sgc})"
        )

    def tokens(self) -> tuple[KeyChangeToken, ...]:
        """The KCT set, in order: 2 tokens for a 64-bit key, 4 for a 128-bit key."""
        key = int.from_bytes(self.new_key, "big")
        ro = int(self.rollover)
        if len(self.new_key) == 8:
            return (
                KeyChange1(self.ken >> 4, self.krn, ro, 0, self.kt, key >> 32),
                KeyChange2(self.ken & 0xF, self.ti, key & 0xFFFFFFFF),
            )
        sgc = self.sgc or 0
        return (
            KeyChange1(self.ken >> 4, self.krn, ro, 0, self.kt, key >> 96),
            KeyChange2(self.ken & 0xF, self.ti, key & 0xFFFFFFFF),
            KeyChange3(sgc & 0xFFF, key >> 64 & 0xFFFFFFFF),
            KeyChange4(sgc >> 12, key >> 32 & 0xFFFFFFFF),
        )


def combine_key_change_set(
    tokens: list[KeyChangeToken] | tuple[KeyChangeToken, ...],
) -> KeyChangeOrder:
    """The order a complete set stands for; tokens may come in any order.

    A set is two tokens (subclasses 3 and 4) or four (3, 4, 8 and 9). A set
    with the 3KCT bit set is refused: three-token sets are not supported.
    """
    by_subclass = {token.subclass: token for token in tokens}
    if len(by_subclass) != len(tokens):
        raise FormatError("key change set holds the same section twice")
    if set(by_subclass) not in ({3, 4}, {3, 4, 8, 9}):
        raise FormatError(
            f"key change set has sections {sorted(by_subclass)}; expected subclasses 3 and 4, "
            "or 3, 4, 8 and 9"
        )
    first = by_subclass[3]
    second = by_subclass[4]
    assert isinstance(first, KeyChange1) and isinstance(second, KeyChange2)
    if first.res:
        raise FunctionError("3-token key change sets (3KCT bit set) are not supported")
    ken = first.ken_ho << 4 | second.ken_lo
    if len(by_subclass) == 2:
        key = (first.nk_ho << 32 | second.nk_lo).to_bytes(8, "big")
        sgc = None
    else:
        third, fourth = by_subclass[8], by_subclass[9]
        assert isinstance(third, KeyChange3) and isinstance(fourth, KeyChange4)
        key = (
            first.nk_ho << 96 | third.nk_mo2 << 64 | fourth.nk_mo1 << 32 | second.nk_lo
        ).to_bytes(16, "big")
        sgc = fourth.sgc_ho << 12 | third.sgc_lo
        if sgc > MAX_SGC:
            raise RangeError(f"key change set carries SGC {sgc}, more than 6 digits")
    return KeyChangeOrder(key, first.krn, first.kt, second.ti, ken, bool(first.ro), sgc)
