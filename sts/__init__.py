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
"""

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
