"""The API's error type comes from the error's class alone, never from its message.

Each case gives an error a message that reads like another type's (the old
phrase matching would have been fooled) and checks the type, status, field and
value the API answers with.
"""

from __future__ import annotations

import pytest

from sts.errors import FunctionError, RangeError, StsError
from vending.api.errors import ErrorType, Where, api_error
from vending.errors import (
    AmountTooHigh,
    AmountTooLow,
    ConcurrentVendError,
    ConflictError,
    DuplicateReference,
    KeyChangeNeeded,
    NoFreeUnitsDue,
    NotFoundError,
    PaymentError,
    ReversalRefused,
    ReversedReference,
    StorageError,
    UnknownMeter,
    UnknownRecord,
    WrongService,
)
from vending.vendors import InsufficientFloat

PURCHASE = Where("meter", "00000000000", "money", "5.00", id_value="till-1")
MISLEADING = "does not cover; buys less than; nothing was written, try again"


@pytest.mark.parametrize(
    ("error", "kind", "status", "at"),
    [
        (AmountTooLow(MISLEADING), ErrorType.AMOUNT_TOO_LOW, 400, ("money", "5.00")),
        (AmountTooHigh(MISLEADING), ErrorType.AMOUNT_TOO_HIGH, 400, ("money", "5.00")),
        (PaymentError(MISLEADING), ErrorType.INVALID_AMOUNT, 400, ("money", "5.00")),
        (InsufficientFloat(MISLEADING), ErrorType.INSUFFICIENT_FLOAT, 402, ("money", "5.00")),
        (DuplicateReference(MISLEADING), ErrorType.DUPLICATE_RECORD, 409, ("id", "till-1")),
        (ReversedReference(MISLEADING), ErrorType.DUPLICATE_RECORD, 409, ("id", "till-1")),
        (ReversalRefused(MISLEADING), ErrorType.REVERSAL_REFUSED, 409, ("id", "till-1")),
        (ConcurrentVendError("clashed"), ErrorType.UPSTREAM_UNAVAILABLE, 503, ("id", "till-1")),
        (ConflictError(MISLEADING), ErrorType.DUPLICATE_RECORD, 409, ("id", "till-1")),
        (NoFreeUnitsDue(MISLEADING), ErrorType.NO_FREE_UNITS_DUE, 409, ("meter", "00000000000")),
        (WrongService("x", "tariff", "Water"), ErrorType.WRONG_SERVICE, 409, ("tariff", "Water")),
        (UnknownMeter(MISLEADING), ErrorType.UNKNOWN_METER, 404, ("meter", "00000000000")),
        (UnknownRecord(MISLEADING), ErrorType.UNKNOWN_RECORD, 404, ("id", "till-1")),
        (NotFoundError(MISLEADING), ErrorType.UNKNOWN_METER, 404, ("meter", "00000000000")),
        (KeyChangeNeeded(MISLEADING), ErrorType.METER_KEY_INVALID, 409, ("meter", "00000000000")),
        (StorageError(MISLEADING), ErrorType.UPSTREAM_UNAVAILABLE, 503, (None, None)),
        (
            FunctionError(MISLEADING),
            ErrorType.FUNCTION_NOT_SUPPORTED,
            400,
            ("meter", "00000000000"),
        ),
        (RangeError(MISLEADING), ErrorType.AMOUNT_TOO_HIGH, 400, ("money", "5.00")),
        (StsError(MISLEADING), ErrorType.FORMAT_ERROR, 400, ("meter", "00000000000")),
    ],
)
def test_the_type_is_the_class(
    error: StsError, kind: ErrorType, status: int, at: tuple[str | None, str | None]
) -> None:
    answer = api_error(error, PURCHASE)
    assert (answer.type, answer.status, answer.field, answer.value) == (kind, status, *at)
    assert answer.message == str(error)


def test_no_message_phrases_are_left_in_the_mapping() -> None:
    import vending.api.errors as module

    assert not [name for name in vars(module) if "PHRASE" in name]
