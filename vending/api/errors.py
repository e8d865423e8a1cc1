"""The API's one error shape and the one place the project's errors become HTTP answers.

Every refusal is a JSON object ``{"type", "field", "value", "message"}``: ``type``
from the fixed vocabulary :class:`ErrorType`, the request ``field`` and ``value``
at fault (or null), and one sentence. The HTTP status follows the type; the
vending rule for tills is that a 4xx is a definite refusal (nothing was sold)
while a 5xx or a timeout is an *unknown outcome*: send the same request with the
same id again, which either returns the sale that was made or makes it.

:func:`api_error` maps the project's error hierarchy (sts.errors, vending.errors,
vending.vendors) onto the vocabulary; a route says only which field and value it
was working on, and which type "not found" and "conflict" mean there.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from sts.errors import FunctionError, KeyTypeError, RangeError, StsError
from vending.errors import (
    AmountTooHigh,
    AmountTooLow,
    ConcurrentVendError,
    ConflictError,
    DuplicateError,
    DuplicateReference,
    KeyChangeNeeded,
    KeyStoreError,
    NoFreeUnitsDue,
    NotFoundError,
    PaymentError,
    ReversalRefused,
    ReversedReference,
    StorageError,
    UnknownMeter,
    UnknownRecord,
    VendingError,
    WrongService,
)
from vending.vendors import AuthenticationError, InsufficientFloat, PermissionDenied

VALUE_MAX = 100


class ErrorType(StrEnum):
    """The error vocabulary (in the spirit of Electrum's prepaid-utility interface)."""

    FORMAT_ERROR = "format_error"  # 400: a field is missing or malformed
    INVALID_AMOUNT = "invalid_amount"  # 400: zero, negative, too many decimals
    AMOUNT_TOO_LOW = "amount_too_low"  # 400: below the charges due or the minimum
    AMOUNT_TOO_HIGH = "amount_too_high"  # 400: above the maximum of one purchase
    FUNCTION_NOT_SUPPORTED = "function_not_supported"  # 400/404/405
    UNAUTHORIZED = "unauthorized"  # 401: no key, or an unknown or revoked one
    INSUFFICIENT_FLOAT = "insufficient_float"  # 402: the vendor's float cannot pay
    FORBIDDEN = "forbidden"  # 403: the operator's role does not allow it
    UNKNOWN_METER = "unknown_meter"  # 404
    UNKNOWN_RECORD = "unknown_record"  # 404: no transaction with that id
    DUPLICATE_RECORD = "duplicate_record"  # 409: the id was used for other details
    REVERSAL_REFUSED = "reversal_refused"  # 409: confirmed, or the meter had a later token
    METER_KEY_INVALID = "meter_key_invalid"  # 409: the meter needs a key change first
    NO_FREE_UNITS_DUE = "no_free_units_due"  # 409: this month's free basic units were given
    WRONG_SERVICE = "wrong_service"  # 409: a tariff or token kind for another service
    UPSTREAM_UNAVAILABLE = "upstream_unavailable"  # 503: database or key store unreachable
    SYSTEM_ERROR = "system_error"  # 500: outcome unknown, retry the same id


STATUS: dict[ErrorType, int] = {
    ErrorType.FORMAT_ERROR: 400,
    ErrorType.INVALID_AMOUNT: 400,
    ErrorType.AMOUNT_TOO_LOW: 400,
    ErrorType.AMOUNT_TOO_HIGH: 400,
    ErrorType.FUNCTION_NOT_SUPPORTED: 400,
    ErrorType.UNAUTHORIZED: 401,
    ErrorType.INSUFFICIENT_FLOAT: 402,
    ErrorType.FORBIDDEN: 403,
    ErrorType.UNKNOWN_METER: 404,
    ErrorType.UNKNOWN_RECORD: 404,
    ErrorType.DUPLICATE_RECORD: 409,
    ErrorType.REVERSAL_REFUSED: 409,
    ErrorType.METER_KEY_INVALID: 409,
    ErrorType.NO_FREE_UNITS_DUE: 409,
    ErrorType.WRONG_SERVICE: 409,
    ErrorType.UPSTREAM_UNAVAILABLE: 503,
    ErrorType.SYSTEM_ERROR: 500,
}


class ErrorBody(BaseModel):
    """The body of every error response."""

    type: ErrorType
    field: str | None
    value: str | None
    message: str


class ApiError(Exception):
    """A refusal ready to send."""

    def __init__(
        self, type: ErrorType, message: str, field: str | None = None, value: Any = None
    ) -> None:
        super().__init__(message)
        self.type = type
        self.message = message
        self.field = field
        self.value = value

    @property
    def status(self) -> int:
        return STATUS[self.type]

    def body(self) -> dict[str, Any]:
        value = None if self.value is None else str(self.value)[:VALUE_MAX]
        return {
            "type": self.type.value,
            "field": self.field,
            "value": value,
            "message": self.message,
        }


@dataclass(frozen=True)
class Where:
    """What a route was working on, for naming the field at fault."""

    field: str | None = None
    value: Any = None
    amount_field: str | None = None
    amount: Any = None
    not_found: ErrorType = ErrorType.UNKNOWN_METER
    conflict: ErrorType = ErrorType.DUPLICATE_RECORD
    id_field: str | None = "id"
    id_value: Any = None


#: The API type of each of the project's error classes; the most specific class wins
#: (the first entry the error is an instance of). Nothing here reads a message.
_BY_TYPE: tuple[tuple[type[StsError], ErrorType], ...] = (
    (AuthenticationError, ErrorType.UNAUTHORIZED),
    (PermissionDenied, ErrorType.FORBIDDEN),
    (InsufficientFloat, ErrorType.INSUFFICIENT_FLOAT),
    (AmountTooLow, ErrorType.AMOUNT_TOO_LOW),
    (AmountTooHigh, ErrorType.AMOUNT_TOO_HIGH),
    (PaymentError, ErrorType.INVALID_AMOUNT),
    (NoFreeUnitsDue, ErrorType.NO_FREE_UNITS_DUE),
    (WrongService, ErrorType.WRONG_SERVICE),
    (KeyChangeNeeded, ErrorType.METER_KEY_INVALID),
    (StorageError, ErrorType.UPSTREAM_UNAVAILABLE),
    (KeyStoreError, ErrorType.UPSTREAM_UNAVAILABLE),
    (UnknownMeter, ErrorType.UNKNOWN_METER),
    (UnknownRecord, ErrorType.UNKNOWN_RECORD),
    (ConcurrentVendError, ErrorType.UPSTREAM_UNAVAILABLE),
    (DuplicateReference, ErrorType.DUPLICATE_RECORD),
    (ReversedReference, ErrorType.DUPLICATE_RECORD),
    (ReversalRefused, ErrorType.REVERSAL_REFUSED),
    (DuplicateError, ErrorType.DUPLICATE_RECORD),
    (FunctionError, ErrorType.FUNCTION_NOT_SUPPORTED),
    (KeyTypeError, ErrorType.FUNCTION_NOT_SUPPORTED),
)

#: Which request field an error of a type is about, when the error does not say itself.
_AT: dict[ErrorType, str] = {
    ErrorType.UNAUTHORIZED: "auth",
    ErrorType.FORBIDDEN: "none",
    ErrorType.INSUFFICIENT_FLOAT: "amount",
    ErrorType.AMOUNT_TOO_LOW: "amount",
    ErrorType.AMOUNT_TOO_HIGH: "amount",
    ErrorType.INVALID_AMOUNT: "amount",
    ErrorType.UPSTREAM_UNAVAILABLE: "none",
    ErrorType.UNKNOWN_RECORD: "id",
    ErrorType.DUPLICATE_RECORD: "id",
    ErrorType.REVERSAL_REFUSED: "id",
}


def error_type(exc: StsError, where: Where) -> ErrorType:
    """The API type of one of the project's errors: by its class only.

    A plain :class:`NotFoundError` or :class:`ConflictError` (one not yet given a
    class of its own) takes the route's ``where.not_found`` / ``where.conflict``; a
    RangeError is "amount too high" on a route that takes an amount.
    """
    for kind, answer in _BY_TYPE:
        if isinstance(exc, kind):
            return answer
    if isinstance(exc, NotFoundError):
        return where.not_found
    if isinstance(exc, ConflictError):
        return where.conflict
    if isinstance(exc, RangeError) and where.amount_field:
        return ErrorType.AMOUNT_TOO_HIGH
    return ErrorType.FORMAT_ERROR


def api_error(exc: StsError, where: Where) -> ApiError:
    """The API answer for one of the project's errors, raised while doing ``where``.

    The field and value are the error's own (vending.errors.VendingError carries
    them) when it names them, else those of the route's ``where`` for the type.
    """
    kind = error_type(exc, where)
    places = {
        "auth": ("X-API-Key", None),
        "none": (None, None),
        "amount": (where.amount_field, where.amount),
        "id": (where.id_field, where.id_value),
    }
    at = places.get(_AT.get(kind, ""), (where.field, where.value))
    if kind is ErrorType.FORMAT_ERROR and isinstance(exc, RangeError) and where.amount_field:
        at = (where.amount_field, where.amount)
    if isinstance(exc, ConcurrentVendError):  # the request to send again is the id's
        at = (where.id_field, where.id_value)
    if isinstance(exc, VendingError) and exc.field is not None:
        at = (exc.field, exc.value)
    return ApiError(kind, str(exc), at[0], at[1])


def responses(*types: ErrorType) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` entry for a route that may answer with these types."""
    out: dict[int | str, dict[str, Any]] = {}
    for kind in (
        *types,
        ErrorType.FORMAT_ERROR,
        ErrorType.UNAUTHORIZED,
        ErrorType.SYSTEM_ERROR,
        ErrorType.UPSTREAM_UNAVAILABLE,
    ):
        status = STATUS[kind]
        entry = out.setdefault(status, {"model": ErrorBody, "description": ""})
        names = [n for n in entry["description"].split(", ") if n]
        if kind.value not in names:
            names.append(kind.value)
        entry["description"] = ", ".join(names)
    # Any other status (e.g. 404 or 405 for a path or method that is not an operation) has
    # the same body; saying so also stops FastAPI from documenting its own 422.
    out["default"] = {"model": ErrorBody, "description": "Any other refusal."}
    return out
