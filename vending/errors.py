"""Errors of the vending backend, inside the project's one hierarchy (sts.errors).

Each is a refused operation: the CLI reports it as one sentence and exits 1,
and nothing is written.
"""

from __future__ import annotations

from sts.errors import StsError


class VendingError(StsError):
    """A vending operation was refused."""


class NotFoundError(VendingError):
    """An unknown meter, tariff, key, customer or transaction."""


class DuplicateError(VendingError):
    """Something that must be unique already exists (a meter, a key, a tariff name)."""


class ConflictError(VendingError):
    """A client reference reused with different details, or a reversal after a later token."""


class PaymentError(VendingError, ValueError):
    """A payment that cannot buy anything: zero, negative, or below the charges due."""


class KeyStoreError(VendingError):
    """The master key is missing or wrong, or a stored key cannot be decrypted."""


class StorageError(VendingError):
    """The database cannot be reached or is not at the expected schema version."""


class KeyChangeNeeded(VendingError):
    """A meter whose base date or key expiry number has no TID left: it needs a key change."""
