"""The whole pipeline: token -> 20 digits -> token, with the reference worked examples."""

from __future__ import annotations

import pytest
from Crypto.Cipher import DES

import sts
from sts.codec import (
    EncryptionAlgorithm,
    WithdrawnAlgorithmWarning,
    algorithm_for,
    decode_full,
)
from sts.errors import CrcError, FormatError
from sts.tokens import (
    ClearCredit,
    CreditKind,
    CurrencyCredit,
    KeyChange1,
    KeyChange2,
    MeterTestToken,
    RawToken,
    SetPowerLimit,
    TokenClass,
    TransferCredit,
)

CTSA_DK = sts.DecoderKey.from_hex("E653341F9D5BF36F")  # DKGA02, PAN ...009, TI 01
OTHER_DK = sts.DecoderKey.from_hex("E94023262E9993C2")  # DKGA02, PAN ...082, TI 01
EA11_DK = sts.DecoderKey.from_hex("F94B6ED353C3BFDB113E2D3A7EA3C41D")  # DKGA04, EA11
SAMPLE_DK = sts.DecoderKey.from_hex("0ABC12DEF3456789")
KF_DK = sts.DecoderKey.from_hex("4530EDB79B5F083D")
CTSA03_LIMIT = SetPowerLimit(5, 5910301, 1000)


def test_sample_tables_worked_example() -> None:
    token = TransferCredit(CreditKind.ELECTRICITY, 0xB, 0x19EB23, 0x0100)
    assert sts.encode(token, SAMPLE_DK, tables="sample") == "51043465443420856213"
    assert sts.decode("51043465443420856213", SAMPLE_DK, tables="sample") == token


def test_sample_tables_decode_full_figures() -> None:
    decoded = decode_full("5104 3465 4434 2085 6213", SAMPLE_DK, tables="sample")
    assert decoded.token_class == 0
    assert decoded.block == 0x0B19EB230100C207
    assert decoded.encrypted == 0xC45ED1619406DF95
    assert decoded.number == 0x2C45ED1618406DF95
    assert decoded.digits == "51043465443420856213"


def test_production_tables_are_the_default() -> None:
    assert sts.encode(CTSA03_LIMIT, CTSA_DK) == "50901894209860263092"
    assert sts.encode(CTSA03_LIMIT, CTSA_DK, tables="production") == "50901894209860263092"
    with pytest.raises(CrcError):
        sts.decode("51043465443420856213", SAMPLE_DK)


def test_ctsa03_decode_full() -> None:
    decoded = decode_full("50901894209860263092", CTSA_DK)
    assert decoded.token == CTSA03_LIMIT
    assert decoded.token_class == 2
    assert decoded.block == 0x055A2F1D03E8F8F4
    assert decoded.encrypted == 0xC267DB18153BDCB4


def test_grouped_output() -> None:
    assert sts.encode(CTSA03_LIMIT, CTSA_DK, grouped=True) == "5090 1894 2098 6026 3092"


def test_ea11_worked_example() -> None:
    assert sts.encode(CTSA03_LIMIT, EA11_DK) == "26521936751055502278"
    decoded = decode_full("26521936751055502278", EA11_DK)
    assert decoded.token == CTSA03_LIMIT
    assert decoded.encrypted == 0x7010D8F4AA0A7BC6


def test_ea11_explicit_algorithm() -> None:
    assert sts.encode(CTSA03_LIMIT, EA11_DK, ea="11") == "26521936751055502278"
    assert sts.encode(CTSA03_LIMIT, EA11_DK, ea="EA11") == "26521936751055502278"


@pytest.mark.parametrize(
    ("token", "digits"),
    [
        # CTSA04 step 1: ClearCredit all registers.
        (ClearCredit(5, 5910315, 0xFFFF), "29511990995826640868"),
        # CTSA05 step 1: the two KCTs to TI 02.
        (KeyChange1(15, 1, 0, 0, 2, 0x060B8643), "51638423060042734509"),
        (KeyChange2(15, 2, 0xC59A27F1), "15361891762113502242"),
        # Nectar_1 step 1A: 1.0 m3 of water.
        (TransferCredit(CreditKind.WATER, 5, 5944921, 10), "26436017448909825227"),
    ],
)
def test_ctsa_tokens(token: sts.Token, digits: str) -> None:
    assert sts.encode(token, CTSA_DK) == digits
    assert sts.decode(digits, CTSA_DK) == token


def test_currency_token() -> None:
    token = CurrencyCredit(CreditKind.ELECTRICITY_CURRENCY, 0, 6680788, 0xDFF6)
    assert sts.encode(token, KF_DK) == "07420412750539184100"
    back = sts.decode("07420412750539184100", KF_DK)
    assert back == token
    assert isinstance(back, CurrencyCredit)
    assert str(back.value) == "100.00624"


@pytest.mark.parametrize(
    ("token", "digits"),
    [
        (MeterTestToken(0, 8, 0), "18446744073843772416"),  # Eskom: display KRN
        (MeterTestToken(0, (1 << 36) - 1, 0), "56493153725450313471"),
        (MeterTestToken(1, (1 << 28) - 1, 0), "02305843005052951967"),
        (MeterTestToken(0, 1, 0), "00000000000150997584"),  # CTSA11 step 1
    ],
)
def test_class_1_tokens_need_no_key(token: MeterTestToken, digits: str) -> None:
    assert sts.encode(token) == digits
    assert sts.decode(digits) == token


def test_class_1_token_ignores_a_given_key() -> None:
    token = MeterTestToken(0, 8, 0)
    assert sts.encode(token, CTSA_DK) == "18446744073843772416"
    assert sts.decode("18446744073843772416", CTSA_DK) == token


def test_proprietary_class_1_token_decodes_raw() -> None:
    token = sts.decode("12754194144864505970")
    assert token == RawToken(TokenClass.TEST, 11, 1099511628036)
    assert sts.encode(token) == "12754194144864505970"


def test_wrong_key_is_crc_error() -> None:
    with pytest.raises(CrcError) as info:
        sts.decode("50901894209860263092", OTHER_DK)
    assert "wrong key" in str(info.value)


def test_mistyped_digit_is_crc_error() -> None:
    with pytest.raises(CrcError):
        sts.decode("50901894209860263093", CTSA_DK)


def test_encode_class_0_without_key_is_format_error() -> None:
    token = TransferCredit(CreditKind.ELECTRICITY, 5, 5944921, 10)
    with pytest.raises(FormatError, match="decoder key"):
        sts.encode(token)


def test_decode_class_0_without_key_is_format_error() -> None:
    with pytest.raises(FormatError, match="class 0"):
        sts.decode("26436017448909825227")


def test_decode_class_2_without_key_is_format_error() -> None:
    with pytest.raises(FormatError, match="class 2"):
        sts.decode("50901894209860263092")


def test_class_3_token_is_format_error() -> None:
    # Number 3 << 27 carries class 3.
    with pytest.raises(FormatError, match="class 3"):
        sts.decode("00000000000402653184", CTSA_DK)


def test_bad_digits_are_format_errors() -> None:
    with pytest.raises(FormatError):
        sts.decode("5090 1894 2098 6026 309", CTSA_DK)
    with pytest.raises(FormatError):
        sts.decode("99999999999999999999", CTSA_DK)


def test_algorithm_must_fit_key_size() -> None:
    with pytest.raises(FormatError, match="EA11 needs a 128-bit"):
        sts.encode(CTSA03_LIMIT, CTSA_DK, ea="11")
    with pytest.raises(FormatError, match="EA07 needs a 64-bit"):
        sts.encode(CTSA03_LIMIT, EA11_DK, ea="07")


def test_unknown_algorithm() -> None:
    with pytest.raises(FormatError, match="'05'"):
        sts.encode(CTSA03_LIMIT, CTSA_DK, ea="05")


def test_unknown_tables() -> None:
    with pytest.raises(FormatError, match="'test'"):
        sts.encode(CTSA03_LIMIT, CTSA_DK, tables="test")


def test_algorithm_follows_key_size() -> None:
    assert algorithm_for(CTSA_DK, None) is EncryptionAlgorithm.EA07
    assert algorithm_for(EA11_DK, None) is EncryptionAlgorithm.EA11
    assert algorithm_for(CTSA_DK, 9) is EncryptionAlgorithm.EA09


def test_ea09_round_trip_warns_withdrawn() -> None:
    token = TransferCredit(CreditKind.ELECTRICITY, 5, 5910301, 100)
    with pytest.warns(WithdrawnAlgorithmWarning, match="withdrawn"):
        digits = sts.encode(token, CTSA_DK, ea="09")
    with pytest.warns(WithdrawnAlgorithmWarning):
        assert sts.decode(digits, CTSA_DK, ea="09") == token


def test_ea09_is_single_des_on_the_block() -> None:
    token = SetPowerLimit(5, 5910301, 1000)
    with pytest.warns(WithdrawnAlgorithmWarning):
        decoded = decode_full(sts.encode(token, CTSA_DK, ea="09"), CTSA_DK, ea="09")
    des = DES.new(bytes.fromhex("E653341F9D5BF36F"), DES.MODE_ECB)
    expected = des.encrypt(bytes.fromhex("055A2F1D03E8F8F4"))
    assert decoded.encrypted == int.from_bytes(expected, "big")
