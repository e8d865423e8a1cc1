"""STS (IEC 62055-41) token engine: the small top-level API.

    >>> import sts
    >>> key = sts.DecoderKey.from_hex("E653341F9D5BF36F")
    >>> token = sts.SetPowerLimit.for_watts(1000, tid=5910301, rnd=5)
    >>> sts.encode(token, key)
    '50901894209860263092'
    >>> sts.decode("5090 1894 2098 6026 3092", key).watts
    1000

Everything else lives in ``sts.tokens`` (token data), ``sts.crypto`` (ciphers
and key derivation) and ``sts.meter`` (the simulated meter).

The names below are imported on first use (PEP 562 module ``__getattr__``), so
that ``import sts.errors`` or ``import sts.tokens.tid``, which run this file
first, do not load the ciphers and every token class: start-up time of the
``sts`` command depends on it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sts.codec import DecodedToken, EncryptionAlgorithm, decode, decode_full, encode
    from sts.crypto import DecoderKey, KeyParameters, VendingKey, derive_decoder_key
    from sts.errors import (
        ChecksumError,
        CrcError,
        FormatError,
        FunctionError,
        KeyTypeError,
        RangeError,
        RegisterOverflowError,
        StsError,
    )
    from sts.results import ResultCode
    from sts.tokens import (
        ClearCredit,
        ClearTamper,
        CreditKind,
        CurrencyCredit,
        KeyChange1,
        KeyChange2,
        KeyChange3,
        KeyChange4,
        KeyChangeOrder,
        MeterTestToken,
        RawToken,
        Register,
        SetPhaseUnbalanceLimit,
        SetPowerLimit,
        SetTariffRate,
        SetWaterMeterFactor,
        TestControl,
        Token,
        TokenClass,
        TransferCredit,
        combine_key_change_set,
        format_token,
    )
    from sts.tokens.meter_number import meter_pan, validate_drn
    from sts.tokens.tid import BaseDate, datetime_from_tid, next_tid, tid_from_datetime, vending_tid

#: Each public name and the module it comes from.
_EXPORTS: dict[str, str] = {
    "BaseDate": "sts.tokens.tid",
    "ChecksumError": "sts.errors",
    "ClearCredit": "sts.tokens",
    "ClearTamper": "sts.tokens",
    "CrcError": "sts.errors",
    "CreditKind": "sts.tokens",
    "CurrencyCredit": "sts.tokens",
    "DecodedToken": "sts.codec",
    "DecoderKey": "sts.crypto",
    "EncryptionAlgorithm": "sts.codec",
    "FormatError": "sts.errors",
    "FunctionError": "sts.errors",
    "KeyChange1": "sts.tokens",
    "KeyChange2": "sts.tokens",
    "KeyChange3": "sts.tokens",
    "KeyChange4": "sts.tokens",
    "KeyChangeOrder": "sts.tokens",
    "KeyParameters": "sts.crypto",
    "KeyTypeError": "sts.errors",
    "MeterTestToken": "sts.tokens",
    "RangeError": "sts.errors",
    "RawToken": "sts.tokens",
    "Register": "sts.tokens",
    "RegisterOverflowError": "sts.errors",
    "ResultCode": "sts.results",
    "SetPhaseUnbalanceLimit": "sts.tokens",
    "SetPowerLimit": "sts.tokens",
    "SetTariffRate": "sts.tokens",
    "SetWaterMeterFactor": "sts.tokens",
    "StsError": "sts.errors",
    "TestControl": "sts.tokens",
    "Token": "sts.tokens",
    "TokenClass": "sts.tokens",
    "TransferCredit": "sts.tokens",
    "VendingKey": "sts.crypto",
    "combine_key_change_set": "sts.tokens",
    "datetime_from_tid": "sts.tokens.tid",
    "decode": "sts.codec",
    "decode_full": "sts.codec",
    "derive_decoder_key": "sts.crypto",
    "encode": "sts.codec",
    "format_token": "sts.tokens",
    "meter_pan": "sts.tokens.meter_number",
    "next_tid": "sts.tokens.tid",
    "tid_from_datetime": "sts.tokens.tid",
    "validate_drn": "sts.tokens.meter_number",
    "vending_tid": "sts.tokens.tid",
}

__all__ = [
    "BaseDate",
    "ChecksumError",
    "ClearCredit",
    "ClearTamper",
    "CrcError",
    "CreditKind",
    "CurrencyCredit",
    "DecodedToken",
    "DecoderKey",
    "EncryptionAlgorithm",
    "FormatError",
    "FunctionError",
    "KeyChange1",
    "KeyChange2",
    "KeyChange3",
    "KeyChange4",
    "KeyChangeOrder",
    "KeyParameters",
    "KeyTypeError",
    "MeterTestToken",
    "RangeError",
    "RawToken",
    "RegisterOverflowError",
    "Register",
    "ResultCode",
    "SetPhaseUnbalanceLimit",
    "SetPowerLimit",
    "SetTariffRate",
    "SetWaterMeterFactor",
    "StsError",
    "TestControl",
    "Token",
    "TokenClass",
    "TransferCredit",
    "VendingKey",
    "combine_key_change_set",
    "datetime_from_tid",
    "decode",
    "decode_full",
    "derive_decoder_key",
    "encode",
    "format_token",
    "meter_pan",
    "next_tid",
    "tid_from_datetime",
    "validate_drn",
    "vending_tid",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sts' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
