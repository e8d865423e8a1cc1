"""CRC-16 of token blocks and CRC_C of currency tokens (sts-reference.md section 4)."""

from __future__ import annotations

import pytest

from sts.tokens.crc import block_crc, crc16_register, crc_field

# (data bytes as hex, CRC field as stored in the block)
PUBLISHED = [
    ("000B19EB230100", 0xC207),  # IEC worked example, block 0B19EB230100C207
    ("0005C02A552710", 0x1970),  # STSA TID web page
    ("00004A2D900FF2", 0x0FFA),  # Kelin StsAlgo
    ("00004A2D900FF201", 0x7BC4),  # the same with the CRC_C byte 01
]


@pytest.mark.parametrize(("data", "field"), PUBLISHED)
def test_crc_field_matches_published(data: str, field: int) -> None:
    assert crc_field(bytes.fromhex(data)) == field


def test_register_is_the_field_byte_swapped() -> None:
    # The register low byte goes into the field's high byte: C207 <- 0x07C2.
    assert crc16_register(bytes.fromhex("000B19EB230100")) == 0x07C2


def test_modbus_check_value() -> None:
    # The CRC-16/MODBUS catalogue check: "123456789" gives register 0x4B37.
    assert crc16_register(b"123456789") == 0x4B37


def test_block_crc_of_iec_example() -> None:
    # class 0; block bits 63..16 = 0B19EB230100.
    assert block_crc(0, 0x0B19EB230100) == 0xC207


def test_block_crc_of_stsa_example() -> None:
    assert block_crc(0, 0x05C02A552710) == 0x1970


def test_block_crc_includes_the_class() -> None:
    # The CTSA03 power-limit block 055A2F1D03E8F8F4 is class 2.
    assert block_crc(2, 0x055A2F1D03E8) == 0xF8F4
    assert block_crc(0, 0x055A2F1D03E8) != 0xF8F4


def test_block_crc_currency_appends_one() -> None:
    assert block_crc(0, 0x4A2D900FF2) == 0x0FFA
    assert block_crc(0, 0x4A2D900FF2, currency=True) == 0x7BC4


def test_block_crc_of_currency_vector() -> None:
    # kf_sts_token.py: currency token block 4065F0D4DFF6C645 (class 0, subclass 4).
    assert block_crc(0, 0x4065F0D4DFF6, currency=True) == 0xC645


def test_block_crc_of_class_1_token() -> None:
    # Eskom's "display KRN" token: block 0000000008000C00, class 1.
    assert block_crc(1, 0x000000000800) == 0x0C00
