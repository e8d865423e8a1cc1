"""Key objects that never show their bytes.

:class:`DecoderKey` (64 or 128 bits) and :class:`VendingKey` (64 bits for
DKGA02, 160 bits for DKGA04) hold secret bytes. Their ``repr`` and ``str``
give only the size and a short fingerprint (the first 4 hex digits of a
SHA-256 of the key, enough to tell two keys apart in a log, useless for
recovering them). The bytes come out only through the explicitly named
``secret_bytes()`` and ``reveal_hex()``.
"""

from __future__ import annotations

import hashlib
import hmac

from sts.errors import FormatError


def parse_hex(text: str, what: str, sizes: tuple[int, ...]) -> bytes:
    """Bytes from hex text of one of the allowed sizes (in bytes)."""
    cleaned = text.strip().replace(" ", "")
    digits = "0123456789abcdefABCDEF"
    if all(c in digits for c in cleaned) and len(cleaned) % 2:  # hex, but half a byte short
        raise FormatError(f"{what} has {len(cleaned)} hex digits; expected {_sizes_text(sizes)}")
    try:
        raw = bytes.fromhex(cleaned)
    except ValueError:
        raise FormatError(f"{what} is not hexadecimal; expected {_sizes_text(sizes)}") from None
    if len(raw) not in sizes:
        raise FormatError(f"{what} has {len(raw)} bytes; expected {_sizes_text(sizes)}")
    return raw


def _sizes_text(sizes: tuple[int, ...]) -> str:
    return " or ".join(f"{n * 2} hex digits ({n * 8} bits)" for n in sizes)


class _SecretKey:
    """Secret bytes with a redacted repr; compared in constant time."""

    __slots__ = ("_secret",)
    _kind = "key"
    _sizes: tuple[int, ...] = ()

    def __init__(self, secret: bytes) -> None:
        if not isinstance(secret, bytes | bytearray):
            raise FormatError(f"{self._kind} must be bytes; use {type(self).__name__}.from_hex")
        if len(secret) not in self._sizes:
            raise FormatError(
                f"{self._kind} has {len(secret)} bytes; expected {_sizes_text(self._sizes)}"
            )
        self._secret = bytes(secret)

    @classmethod
    def from_hex(cls, text: str) -> _SecretKey:
        return cls(parse_hex(text, cls._kind, cls._sizes))

    @property
    def bits(self) -> int:
        return len(self._secret) * 8

    @property
    def fingerprint(self) -> str:
        """4 hex digits of SHA-256 over the key: tells keys apart, reveals nothing."""
        return hashlib.sha256(self._secret).hexdigest()[:4].upper()

    def secret_bytes(self) -> bytes:
        """The key bytes. Only for code that must use them (ciphers, key stores)."""
        return self._secret

    def reveal_hex(self) -> str:
        """The key as upper-case hex, for a user who explicitly asked to see it."""
        return self._secret.hex().upper()

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return hmac.compare_digest(self._secret, other._secret)  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._secret))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(<{self.bits}-bit key, fingerprint {self.fingerprint}>)"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError(f"{type(self).__name__} cannot be pickled")


class DecoderKey(_SecretKey):
    """A meter's decoder key: 64 bits (EA07, EA09) or 128 bits (EA11)."""

    __slots__ = ()
    _kind = "decoder key"
    _sizes = (8, 16)

    @classmethod
    def from_hex(cls, text: str) -> DecoderKey:
        return cls(parse_hex(text, cls._kind, cls._sizes))


class VendingKey(_SecretKey):
    """A vending key: 64 bits for DKGA02, 160 bits for DKGA04."""

    __slots__ = ()
    _kind = "vending key"
    _sizes = (8, 20)

    @classmethod
    def from_hex(cls, text: str) -> VendingKey:
        return cls(parse_hex(text, cls._kind, cls._sizes))
