"""Errors of the vending backend, inside the project's one hierarchy (sts.errors).

Each is a refused operation: the CLI reports it as one sentence and exits 1,
and nothing is written. Every error may name the request ``field`` and the
``value`` at fault (``None`` when the raiser does not know them); the HTTP API
(vending.api.errors) sends them with its error type, which it chooses by the
error's class alone, never by its message:

=============================  =======================================  ===================
error                          raised when                              API type
=============================  =======================================  ===================
:class:`AmountTooLow`          money does not cover the charges due,    amount_too_low
                               or buys less than one token unit
:class:`AmountTooHigh`         above a tariff's or vending's limit      amount_too_high
:class:`PaymentError`          not an amount: zero, negative, decimals  invalid_amount
:class:`DuplicateReference`    a client reference reused for another    duplicate_record
                               request
:class:`ReversedReference`     a client reference whose sale was        duplicate_record
                               reversed or cancelled
:class:`ReversalRefused`       the meter has had a later token, or the  reversal_refused
                               sale was confirmed
:class:`ConcurrentVendError`   two tries clashed with concurrent vends  upstream_unavailable
                               (nothing written; retry the same id)
:class:`NoFreeUnitsDue`        the month's free basic units were given  no_free_units_due
:class:`WrongService`          a tariff for another service or a token  wrong_service
                               kind the meter does not take
:class:`UnknownMeter`          no meter has that number                 unknown_meter
:class:`UnknownRecord`         no transaction has that reference        unknown_record
=============================  =======================================  ===================
"""

from __future__ import annotations

from typing import Any

from sts.errors import StsError


class VendingError(StsError):
    """A vending operation was refused."""

    def __init__(self, message: str = "", field: str | None = None, value: Any = None) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


class NotFoundError(VendingError):
    """An unknown meter, tariff, key, customer or transaction."""


class UnknownMeter(NotFoundError):
    """No registered meter has this number."""


class UnknownRecord(NotFoundError):
    """No transaction has this client reference (or not for this vendor)."""


class DuplicateError(VendingError):
    """Something that must be unique already exists (a meter, a key, a tariff name)."""


class ConflictError(VendingError):
    """A client reference reused with different details, or a reversal after a later token."""


class DuplicateReference(ConflictError):
    """A client reference (client id) already used for another request."""


class ReversedReference(ConflictError):
    """A client reference whose sale was reversed or cancelled: it cannot be used again."""


class ReversalRefused(ConflictError):
    """A reversal refused: the meter has had a later token, or the sale was confirmed."""


class ConcurrentVendError(ConflictError):
    """A vend clashed twice with concurrent vends and wrote nothing: try the same id again."""


class PaymentError(VendingError, ValueError):
    """A payment that cannot buy anything: zero, negative, or below the charges due."""


class AmountTooLow(PaymentError):
    """Money that does not cover the charges due, or buys less than one token unit."""


class AmountTooHigh(PaymentError):
    """An amount above a tariff's per-vend limit or vending's absolute ceiling."""


class NoFreeUnitsDue(VendingError):
    """The meter's free basic units for this month were given already (or it has none)."""


class WrongService(VendingError):
    """A tariff for another service than the meter's, or a vend the meter's kind cannot take."""


class KeyStoreError(VendingError):
    """The master key is missing or wrong, or a stored key cannot be decrypted."""


class StorageError(VendingError):
    """The database cannot be reached or is not at the expected schema version."""


class KeyChangeNeeded(VendingError):
    """A meter whose base date or key expiry number has no TID left: it needs a key change."""
