"""The key store: vending keys sealed with AES-GCM under a master key kept outside the database.

The database holds each vending key only as a sealed blob::

    nonce (12 bytes) || ciphertext (8 or 20 bytes, as the key) || tag (16 bytes)

AES-256-GCM under the :class:`MasterKey`, with *associated data* that names
the record the key belongs to (see :func:`associated_data`): a blob copied onto
another record, or any changed byte, fails to open. A wrong master key fails
the same way, with :class:`~vending.errors.KeyStoreError`.

The master key (256 bits) comes from a key file that only its owner can read
(64 hex digits, or 32 raw bytes), or from an environment variable holding 64
hex digits (``STS_MASTER_KEY``); the caller passes the environment in. This
module is part of vending's storage layer, so it reads and writes that file.

No key's bytes appear in a repr, a message or a log: :class:`MasterKey` shows
only a 4-digit fingerprint, like :class:`~sts.crypto.keys.VendingKey`.

Other keys are derived from the master key, one per job, as HMAC-SHA256 of
the master key over a fixed label (:func:`derive`): the key that chains the
ledger (:func:`ledger_key`), the key that signs ledger checkpoints
(:func:`checkpoint_key`), and the *check value* the database keeps to tell
which master key its vending keys are sealed under (:func:`check_value`). None
of them reveals the master key, and none lives in the database but the check
value, which is a MAC of a public label and opens nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from collections.abc import Callable, Mapping
from pathlib import Path

from sts.crypto.keys import VendingKey
from sts.crypto.native import cipher as native_cipher
from vending.errors import KeyStoreError

MASTER_KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
ENV_VAR = "STS_MASTER_KEY"
_KEY_SIZES = (8, 20)  # VendingKey: DKGA02, DKGA04
_AAD_PREFIX = b"sts-vending-key/v1"
LEDGER_LABEL = b"sts-ledger-chain/v1"
CHECKPOINT_LABEL = b"sts-ledger-checkpoint/v1"
CHECK_LABEL = b"sts-master-key-check/v1"

RandomBytes = Callable[[int], bytes]


class MasterKey:
    """The 256-bit key that seals vending keys. Its bytes never show."""

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes) -> None:
        if not isinstance(secret, bytes | bytearray) or len(secret) != MASTER_KEY_BYTES:
            size = len(secret) if isinstance(secret, bytes | bytearray) else type(secret).__name__
            raise KeyStoreError(
                f"master key has {size} bytes; expected {MASTER_KEY_BYTES} bytes (256 bits)"
            )
        self._secret = bytes(secret)

    @classmethod
    def from_hex(cls, text: str, where: str = "master key") -> MasterKey:
        """A master key from 64 hex digits (spaces and a trailing newline ignored)."""
        cleaned = "".join(text.split())
        try:
            raw = bytes.fromhex(cleaned)
        except ValueError:
            raise KeyStoreError(
                f"{where} is not hexadecimal; expected {MASTER_KEY_BYTES * 2} hex digits"
            ) from None
        if len(raw) != MASTER_KEY_BYTES:
            raise KeyStoreError(
                f"{where} has {len(cleaned)} hex digits; expected {MASTER_KEY_BYTES * 2}"
            )
        return cls(raw)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> MasterKey:
        """Read a key file: 64 hex digits or 32 raw bytes, readable by its owner only."""
        path = Path(path)
        try:
            info = path.stat()
        except FileNotFoundError:
            raise KeyStoreError(f"master key file {path} does not exist") from None
        except OSError as exc:
            raise KeyStoreError(f"master key file {path} cannot be read: {exc.strerror}") from None
        if not stat.S_ISREG(info.st_mode):
            raise KeyStoreError(f"master key file {path} is not a regular file")
        mode = stat.S_IMODE(info.st_mode)
        if os.name == "posix" and mode & 0o077:
            raise KeyStoreError(
                f"master key file {path} has mode {mode:04o}, open to group or others; "
                f"expected owner-only access such as 0600 (chmod 600 {path})"
            )
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise KeyStoreError(f"master key file {path} cannot be read: {exc.strerror}") from None
        if len(data) == MASTER_KEY_BYTES:
            return cls(data)
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError:
            text = "?"
        return cls.from_hex(text, where=f"master key file {path} ({len(data)} bytes)")

    @classmethod
    def from_env(cls, environ: Mapping[str, str], name: str = ENV_VAR) -> MasterKey:
        """The key in environment variable ``name`` (64 hex digits) of the given mapping."""
        value = environ.get(name)
        if not value:
            raise KeyStoreError(f"environment variable {name} is not set; expected a master key")
        return cls.from_hex(value, where=f"environment variable {name}")

    @property
    def fingerprint(self) -> str:
        """4 hex digits of SHA-256 over the key: tells keys apart, reveals nothing."""
        return hashlib.sha256(self._secret).hexdigest()[:4].upper()

    def secret_bytes(self) -> bytes:
        """The key bytes, for the cipher only."""
        return self._secret

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MasterKey):
            return NotImplemented
        return hmac.compare_digest(self._secret, other._secret)

    def __hash__(self) -> int:
        return hash((MasterKey, self._secret))

    def __repr__(self) -> str:
        return f"MasterKey(<256-bit key, fingerprint {self.fingerprint}>)"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("MasterKey cannot be pickled")


def load_master_key(
    environ: Mapping[str, str], key_file: str | os.PathLike[str] | None, name: str = ENV_VAR
) -> MasterKey:
    """The master key from environment variable ``name`` if set, else from ``key_file``."""
    if environ.get(name):
        return MasterKey.from_env(environ, name)
    if key_file is None:
        raise KeyStoreError(f"no master key: set {name} or give a master key file")
    return MasterKey.from_file(key_file)


def create_key_file(
    path: str | os.PathLike[str], randbytes: RandomBytes = secrets.token_bytes
) -> MasterKey:
    """Write a new random master key as hex to ``path`` with mode 0600 and return it.

    Refuses to overwrite an existing file: every key sealed under the old
    master key would be lost. A missing parent folder is created with mode 0700.
    """
    path = Path(path)
    key = MasterKey(randbytes(MASTER_KEY_BYTES))
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyStoreError(
            f"master key file {path} already exists; refusing to replace it "
            "(keys sealed under it would be lost)"
        ) from None
    except OSError as exc:
        raise KeyStoreError(f"master key file {path} cannot be created: {exc.strerror}") from None
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        if hasattr(os, "fchmod"):
            os.fchmod(handle.fileno(), 0o600)  # whatever the umask
        handle.write(key.secret_bytes().hex().upper() + "\n")
    return key


def associated_data(*fields: str | int) -> bytes:
    """Bytes naming a key record, for :func:`seal` and :func:`open_sealed`.

    Each field is length-prefixed, so ``("ab", "c")`` and ``("a", "bc")``
    differ. Use what identifies the record, e.g. ``associated_data(label, sgc, krn)``.
    """
    parts = [_AAD_PREFIX]
    for item in fields:
        if isinstance(item, bool) or not isinstance(item, str | int):
            raise KeyStoreError(f"associated data field {item!r} is not text or a whole number")
        encoded = str(item).encode("utf-8")
        parts.append(len(encoded).to_bytes(4, "big") + encoded)
    return b"".join(parts)


def seal(
    master: MasterKey,
    key: VendingKey,
    associated: bytes,
    randbytes: RandomBytes = secrets.token_bytes,
) -> bytes:
    """``nonce || ciphertext || tag``: ``key`` encrypted and bound to ``associated``."""
    if not isinstance(key, VendingKey):
        raise KeyStoreError(f"{type(key).__name__} is not a VendingKey; only those are sealed")
    nonce = randbytes(NONCE_BYTES)
    if len(nonce) != NONCE_BYTES:
        raise KeyStoreError(f"nonce source gave {len(nonce)} bytes; expected {NONCE_BYTES}")
    AES = native_cipher("AES")  # the native library loads on first use
    cipher = AES.new(master.secret_bytes(), AES.MODE_GCM, nonce=nonce, mac_len=TAG_BYTES)
    cipher.update(associated)
    ciphertext, tag = cipher.encrypt_and_digest(key.secret_bytes())
    return nonce + ciphertext + tag


def open_sealed(master: MasterKey, blob: bytes, associated: bytes) -> VendingKey:
    """The vending key in ``blob``; :class:`KeyStoreError` if it does not open.

    A wrong master key, a changed byte and a blob moved to another record all
    fail the tag check and cannot be told apart (that is the point of the tag).
    """
    sizes = [NONCE_BYTES + size + TAG_BYTES for size in _KEY_SIZES]
    if not isinstance(blob, bytes | bytearray) or len(blob) not in sizes:
        size = len(blob) if isinstance(blob, bytes | bytearray) else type(blob).__name__
        raise KeyStoreError(f"sealed key has {size} bytes; expected {' or '.join(map(str, sizes))}")
    nonce, body = bytes(blob[:NONCE_BYTES]), bytes(blob[NONCE_BYTES:])
    AES = native_cipher("AES")  # the native library loads on first use
    cipher = AES.new(master.secret_bytes(), AES.MODE_GCM, nonce=nonce, mac_len=TAG_BYTES)
    cipher.update(associated)
    try:
        plain = cipher.decrypt_and_verify(body[:-TAG_BYTES], body[-TAG_BYTES:])
    except ValueError:
        raise KeyStoreError(
            f"sealed vending key does not open under master key {master.fingerprint}: "
            "the master key is wrong or the record was altered"
        ) from None
    return VendingKey(plain)


def derive(master: MasterKey, label: bytes) -> bytes:
    """A 256-bit key for one job: HMAC-SHA256 of the master key over ``label``."""
    return hmac.new(master.secret_bytes(), label, hashlib.sha256).digest()


def ledger_key(master: MasterKey) -> bytes:
    """The key that chains ledger entries (vending.ledger)."""
    return derive(master, LEDGER_LABEL)


def checkpoint_key(master: MasterKey) -> bytes:
    """The key that signs exported ledger checkpoints (vending.checkpoint)."""
    return derive(master, CHECKPOINT_LABEL)


def check_value(master: MasterKey) -> str:
    """64 hex digits the database keeps to recognise its master key (reveals nothing)."""
    return derive(master, CHECK_LABEL).hex()
