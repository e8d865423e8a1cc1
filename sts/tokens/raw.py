"""Tokens whose class and subclass have no layout in this toolkit.

Proprietary class 1 subclasses (6-15), reserved class 2 subclasses and the
like decode to a :class:`RawToken` holding the 44 payload bits as they are, so
decoding never fails just because a layout is unknown. Only the CRC of such a
token can be checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from sts.errors import FormatError
from sts.tokens.base import Token, TokenClass, check_width


@dataclass(frozen=True)
class RawToken(Token):
    """A token of a class/subclass without a known layout: its payload as it is."""

    raw_class: TokenClass
    raw_subclass: int
    raw_payload: int

    def __post_init__(self) -> None:
        check_width("class", self.raw_class, 2)
        if self.raw_class not in tuple(TokenClass):
            raise FormatError(f"token class {self.raw_class} is reserved; expected class 0, 1 or 2")
        check_width("subclass", self.raw_subclass, 4)
        check_width("payload", self.raw_payload, 44)
        object.__setattr__(self, "raw_class", TokenClass(self.raw_class))

    @property
    def token_class(self) -> TokenClass:  # type: ignore[override]
        return self.raw_class

    @property
    def subclass(self) -> int:  # type: ignore[override]
        return self.raw_subclass

    def payload(self) -> int:
        return self.raw_payload

    @classmethod
    def from_payload(cls, subclass: int, payload: int) -> Self:
        raise TypeError("a RawToken needs its class: use RawToken(class, subclass, payload)")

    def fields(self) -> dict[str, int | str]:
        return {"payload": self.raw_payload}
