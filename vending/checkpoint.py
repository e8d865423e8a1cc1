"""Signed checkpoints of the ledger head, kept by the operator outside the database.

A checkpoint names the ledger's last entry at a moment (its number and hash) and how
many entries before schema 0003 are unkeyed, signed with HMAC-SHA256 under a key
derived from the master key (vending.keystore.checkpoint_key). The file is JSON::

    {"format": "sts-ledger-checkpoint/1", "seq": 1234, "hash": "…64 hex…",
     "legacy_seq": 0, "created_at": "2026-12-01T02:00:00+00:00", "mac": "…64 hex…"}

Checked against a checkpoint, vending.ledger_check proves that entry ``seq`` still has
that hash (so, the chain being keyed, no entry up to it was removed, changed or
reordered) and that the ledger still reaches it (no truncation below it, no wipe back
to genesis). Someone who can write to the database cannot make one: they lack the
master key. Keep checkpoints where that writer cannot delete them.
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vending.errors import KeyStoreError, VendingError
from vending.keystore import MasterKey, checkpoint_key

FORMAT = "sts-ledger-checkpoint/1"
#: A checkpoint file is a few hundred bytes; anything longer is not one.
MAX_BYTES = 4096
_FIELDS = ("format", "seq", "hash", "legacy_seq", "created_at", "mac")


def _canonical(data: dict[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True)
class Checkpoint:
    """The ledger head at a moment: entry ``seq`` had ``hash``."""

    seq: int
    hash: str
    legacy_seq: int
    created_at: datetime

    def _payload(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "seq": self.seq,
            "hash": self.hash,
            "legacy_seq": self.legacy_seq,
            "created_at": self.created_at.isoformat(),
        }

    def _mac(self, master: MasterKey) -> str:
        return hmac.digest(checkpoint_key(master), _canonical(self._payload()), "sha256").hex()

    def to_text(self, master: MasterKey) -> str:
        """The signed checkpoint as the text of its file (one JSON object and a newline)."""
        return json.dumps({**self._payload(), "mac": self._mac(master)}, indent=1) + "\n"

    def to_dict(self) -> dict[str, Any]:
        return self._payload()

    @classmethod
    def from_text(cls, text: str, master: MasterKey, where: str = "checkpoint") -> Checkpoint:
        """A checkpoint read back; VendingError if it is not one, KeyStoreError if its
        signature does not hold under ``master`` (altered, or another master key's)."""
        if len(text) > MAX_BYTES:
            raise VendingError(
                f"{where} has {len(text)} characters; a checkpoint has at most {MAX_BYTES}"
            )
        try:
            data = json.loads(text)
        except ValueError:
            raise VendingError(f"{where} is not JSON; expected a ledger checkpoint") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise VendingError(f"{where} is not a ledger checkpoint (format {FORMAT!r})")
        if sorted(data) != sorted(_FIELDS):
            raise VendingError(
                f"{where} has fields {', '.join(sorted(data))}; expected {', '.join(_FIELDS)}"
            )
        seq, digest, legacy = data["seq"], data["hash"], data["legacy_seq"]
        for name, value in (("seq", seq), ("legacy_seq", legacy)):
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
                raise VendingError(f"{where}: {name} {value!r} is not an entry number")
        for name, value in (("hash", digest), ("mac", data["mac"])):
            if not isinstance(value, str) or len(value) != 64 or value.strip("0123456789abcdef"):
                raise VendingError(f"{where}: {name} is not 64 lower-case hex digits")
        try:
            created = datetime.fromisoformat(data["created_at"])
        except (TypeError, ValueError):
            raise VendingError(f"{where}: created_at is not an ISO 8601 time") from None
        checkpoint = cls(seq, digest, legacy, created)
        if not hmac.compare_digest(checkpoint._mac(master), data["mac"]):
            raise KeyStoreError(
                f"{where} is not signed under master key {master.fingerprint}: it was altered "
                "or made with another master key"
            )
        return checkpoint
