"""STS token data: classes and subclasses, bit layouts, CRC, amounts, TIDs, the 20-digit codec."""

from sts.tokens.base import Token, TokenClass
from sts.tokens.block import parse_block
from sts.tokens.credit import CreditKind, CurrencyCredit, TransferCredit
from sts.tokens.digits import format_token, parse_token
from sts.tokens.keychange import (
    KeyChange1,
    KeyChange2,
    KeyChange3,
    KeyChange4,
    KeyChangeOrder,
    KeyChangeToken,
    combine_key_change_set,
)
from sts.tokens.management import (
    ClearCredit,
    ClearTamper,
    ManagementToken,
    Register,
    SetPhaseUnbalanceLimit,
    SetPowerLimit,
    SetTariffRate,
    SetWaterMeterFactor,
)
from sts.tokens.meter_test import ALL_TESTS, MeterTestToken, TestControl
from sts.tokens.raw import RawToken

__all__ = [
    "ALL_TESTS",
    "ClearCredit",
    "ClearTamper",
    "CreditKind",
    "CurrencyCredit",
    "KeyChange1",
    "KeyChange2",
    "KeyChange3",
    "KeyChange4",
    "KeyChangeOrder",
    "KeyChangeToken",
    "ManagementToken",
    "MeterTestToken",
    "RawToken",
    "Register",
    "SetPhaseUnbalanceLimit",
    "SetPowerLimit",
    "SetTariffRate",
    "SetWaterMeterFactor",
    "TestControl",
    "Token",
    "TokenClass",
    "TransferCredit",
    "combine_key_change_set",
    "format_token",
    "parse_block",
    "parse_token",
]
