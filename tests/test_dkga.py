"""Decoder key generation: DKGA02 and DKGA04 worked examples (sts-reference.md section 9)."""

from __future__ import annotations

import pytest
from Crypto.Cipher import DES

from sts.crypto import DecoderKey, KeyParameters, VendingKey, derive_decoder_key
from sts.crypto.dkga import dkga02_data_block, dkga04_message
from sts.errors import ChecksumError, FormatError, FunctionError, KeyTypeError, RangeError
from sts.tokens.tid import BaseDate

VK02 = VendingKey.from_hex("ABABABABABABABAB")
VK04 = VendingKey.from_hex("ABABABABABABABAB949494949494949401234567")
PAN = "600727000000000009"
PAN_4_DIGIT = "000001000000000082"


def params02(pan: str = PAN, ti: int = 1, kt: int = 2) -> KeyParameters:
    return KeyParameters(pan=pan, sgc=123456, kt=kt, ti=ti, krn=1)


def params04(ea: str, ti: int = 1, base: BaseDate = BaseDate.Y1993) -> KeyParameters:
    return KeyParameters(pan=PAN, sgc=123457, kt=2, ti=ti, krn=1, base_date=base, ea=ea)


# DKGA02


def test_dkga02_data_block_of_worked_example() -> None:
    # PANBlock 0072700000000000 XOR CONTROLBlock 2123456011FFFFFF.
    assert dkga02_data_block(params02()) == 0x2151356011FFFFFF


def test_dkga02_worked_example_steps() -> None:
    # The reference's intermediate figures, with DES from pycryptodome.
    d = bytes.fromhex("2151356011FFFFFF")
    encrypted = DES.new(bytes.fromhex("ABABABABABABABAB"), DES.MODE_ECB).encrypt(d)
    assert encrypted.hex().upper() == "6CA9AAD4270FA73B"
    assert int.from_bytes(encrypted, "big") ^ int.from_bytes(d, "big") == 0x4DF89FB436F058C4
    assert 0x4DF89FB436F058C4 ^ 0xABABABABABABABAB == 0xE653341F9D5BF36F


def test_dkga02_worked_example_key() -> None:
    key = derive_decoder_key("02", VK02, params02())
    assert key == DecoderKey.from_hex("E653341F9D5BF36F")
    assert key.bits == 64


@pytest.mark.parametrize(
    ("pan", "ti", "dk"),
    [
        (PAN, 2, "060B8643C59A27F1"),
        (PAN_4_DIGIT, 1, "E94023262E9993C2"),
        (PAN_4_DIGIT, 2, "6221992F403A5877"),
    ],
)
def test_dkga02_other_published_keys(pan: str, ti: int, dk: str) -> None:
    assert derive_decoder_key("02", VK02, params02(pan, ti)).reveal_hex() == dk


def test_dkga02_nectar_service_key() -> None:
    # NectarAPI TokensServiceTest: VK 0ABC12DEF3456789 (no odd parity), KT 0, SGC 000046.
    params = KeyParameters(pan="600727475001502312", sgc=46, kt=0, ti=1, krn=1)
    key = derive_decoder_key("02", VendingKey.from_hex("0ABC12DEF3456789"), params)
    assert key.reveal_hex() == "EB4AD6D9E42E59F7"


def test_dkga02_common_key_zeroes_the_iain() -> None:
    # KT 3: PANBlock keeps the IIN digits 00727 (600727) or 000 (0000), then zeros.
    assert dkga02_data_block(params02(kt=3)) == 0x0072700000000000 ^ 0x3123456011FFFFFF
    other = params02(pan="600727111111111153", kt=3)
    assert dkga02_data_block(other) == 0x0072700000000000 ^ 0x3123456011FFFFFF
    four = params02(pan=PAN_4_DIGIT, kt=3)
    assert dkga02_data_block(four) == 0x0000000000000000 ^ 0x3123456011FFFFFF


def test_dkga02_needs_64_bit_vending_key() -> None:
    with pytest.raises(FormatError, match="DKGA02 needs a 64-bit vending key; this one has 160"):
        derive_decoder_key("02", VK04, params02())


# DKGA04

DKGA04_MESSAGE_128 = bytes.fromhex(
    "0402303402393302313102303100040631323334353701320131123630303732373030303030303030"
    "3030303900000080"
)


def test_dkga04_message_bytes() -> None:
    message = dkga04_message(params04("11"), 128)
    assert message == DKGA04_MESSAGE_128
    assert len(message) == 49


def test_dkga04_message_for_64_bits_ends_in_l() -> None:
    message = dkga04_message(params04("07"), 64)
    assert message[:7] == bytes.fromhex("04023034023933")
    assert message[7:10] == b"\x0207"
    assert message[-4:] == bytes.fromhex("00000040")


def test_dkga04_message_base_date_code() -> None:
    message = dkga04_message(params04("11", base=BaseDate.Y2014), 128)
    assert message[4:7] == b"\x0214"


def test_dkga04_ea11_key() -> None:
    key = derive_decoder_key("04", VK04, params04("11"))
    assert key.reveal_hex() == "F94B6ED353C3BFDB113E2D3A7EA3C41D"
    assert key.bits == 128


def test_dkga04_ea11_key_ti_02() -> None:
    key = derive_decoder_key("04", VK04, params04("11", ti=2))
    assert key.reveal_hex() == "B208834372EF892EF6E04C28593090D4"


def test_dkga04_ea07_key() -> None:
    key = derive_decoder_key("04", VK04, params04("07"))
    assert key.reveal_hex() == "AA4BAA8749C10D27"
    assert key.bits == 64


def test_dkga04_2014_base_key() -> None:
    # 0-02 CTSA26: KRN 4 on the 2014 base, EA07, gives DK 9DC0722C29A6CC0C.
    params = KeyParameters(
        pan=PAN, sgc=123457, kt=2, ti=1, krn=4, base_date=BaseDate.Y2014, ea="07"
    )
    assert derive_decoder_key("04", VK04, params).reveal_hex() == "9DC0722C29A6CC0C"


def test_dkga04_needs_160_bit_vending_key() -> None:
    with pytest.raises(FormatError, match="160-bit"):
        derive_decoder_key("04", VK02, params04("11"))


def test_dkga04_refuses_ea09() -> None:
    with pytest.raises(FormatError, match="EA09"):
        derive_decoder_key("04", VK04, params04("09"))


# Algorithm choice and parameters


@pytest.mark.parametrize("dkga", ["01", "03", "1", 3])
def test_dkga01_and_03_are_function_errors_naming_them(dkga: str | int) -> None:
    with pytest.raises(FunctionError) as info:
        derive_decoder_key(dkga, VK02, params02())  # type: ignore[arg-type]
    assert f"DKGA{int(dkga):02d}" in str(info.value)
    assert "DKGA02 or DKGA04" in str(info.value)


def test_unknown_dkga_is_format_error() -> None:
    with pytest.raises(FormatError, match="'05'"):
        derive_decoder_key("05", VK02, params02())


def test_dkga_number_without_leading_zero() -> None:
    assert derive_decoder_key("2", VK02, params02()).reveal_hex() == "E653341F9D5BF36F"


def test_parameters_check_pan() -> None:
    with pytest.raises(ChecksumError):
        KeyParameters(pan="600727000000000008", sgc=123456, kt=2, ti=1, krn=1)


@pytest.mark.parametrize(
    ("changes", "error", "named"),
    [
        ({"sgc": 1_000_000}, RangeError, "1000000"),
        ({"kt": 4}, KeyTypeError, "4"),
        ({"ti": 100}, RangeError, "100"),
        ({"krn": 0}, RangeError, "0"),
        ({"krn": 10}, RangeError, "10"),
        ({"ea": "05"}, FormatError, "05"),
        ({"base_date": 2000}, FormatError, "2000"),
    ],
)
def test_parameters_reject_out_of_range(
    changes: dict[str, object], error: type[Exception], named: str
) -> None:
    fields: dict[str, object] = {"pan": PAN, "sgc": 123456, "kt": 2, "ti": 1, "krn": 1}
    fields.update(changes)
    with pytest.raises(error, match=named):
        KeyParameters(**fields)  # type: ignore[arg-type]


def test_parameters_accept_base_date_as_year() -> None:
    params = KeyParameters(pan=PAN, sgc=1, kt=2, ti=1, krn=1, base_date=2014)  # type: ignore[arg-type]
    assert params.base_date is BaseDate.Y2014
