"""The DLMS server's errors, inside the project's one hierarchy (:mod:`sts.errors`).

A handler of a COSEM attribute or method raises one of these; the server core
turns it into the data-access or action result the client sees, so a bad
request is always answered, never a crash.
"""

from __future__ import annotations

from enum import IntEnum

from sts.errors import StsError


class AccessResult(IntEnum):
    """Data-Access-Result (IEC 62056-5-3), shared by GET, SET and ACTION answers."""

    SUCCESS = 0
    HARDWARE_FAULT = 1
    TEMPORARY_FAILURE = 2
    READ_WRITE_DENIED = 3
    OBJECT_UNDEFINED = 4
    OBJECT_CLASS_INCONSISTENT = 9
    OBJECT_UNAVAILABLE = 11
    TYPE_UNMATCHED = 12
    SCOPE_OF_ACCESS_VIOLATED = 13
    DATA_BLOCK_UNAVAILABLE = 14
    LONG_GET_ABORTED = 15
    NO_LONG_GET_IN_PROGRESS = 16
    DATA_BLOCK_NUMBER_INVALID = 19
    OTHER_REASON = 250


class DlmsError(StsError):
    """A COSEM request the meter refuses; ``result`` is what the client is told."""

    result: AccessResult = AccessResult.OTHER_REASON

    def __init__(self, message: str, result: AccessResult | None = None) -> None:
        super().__init__(message)
        if result is not None:
            self.result = result


class TypeUnmatched(DlmsError):
    """A value of the wrong COSEM data type or out of the attribute's range."""

    result = AccessResult.TYPE_UNMATCHED


class AccessDenied(DlmsError):
    """The association's access level does not allow this attribute or method."""

    result = AccessResult.READ_WRITE_DENIED


class DataError(DlmsError):
    """Bytes that are not A-XDR encoded COSEM data."""

    result = AccessResult.TYPE_UNMATCHED


class ConfigError(StsError):
    """A DLMS server configuration (passwords, keys, system title) that cannot be used."""
