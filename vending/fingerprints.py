"""Fingerprints of the stored vending keys, to check a typed key against without showing it.

A fingerprint is the first 4 hex digits of SHA-256 over the key's bytes
(:attr:`sts.crypto.keys.VendingKey.fingerprint`): ``sts keys add`` shows the
fingerprint of the key just typed, ``sts keys list`` those of the stored keys,
and a user can work one out for a key on paper with, e.g.,
``printf ABABABABABABABAB | xxd -r -p | sha256sum | cut -c1-4``. Four hex
digits tell keys apart; they are far too few to recover a key.
"""

from __future__ import annotations

from sqlalchemy import select

from vending.backend import Backend
from vending.errors import KeyStoreError
from vending.models import VendingKeyRecord


def key_fingerprints(backend: Backend) -> dict[str, str | None]:
    """Label -> fingerprint of every stored vending key; None where the key cannot be opened.

    A key cannot be opened without the master key it was sealed under (none
    given, or another one).
    """
    prints: dict[str, str | None] = {}
    with backend.read_sessions() as session:
        records = session.execute(select(VendingKeyRecord)).scalars().all()
        for record in records:
            try:
                prints[record.label] = backend.vending_key(record).fingerprint
            except KeyStoreError:
                prints[record.label] = None
    return prints
