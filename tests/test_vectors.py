"""The public STS vectors: every line through the conformance runner, and a sample by hand.

The first half feeds each line of ``tests/vectors/sts-public.jsonl`` (kept in its
published format, sts/conformance/FORMAT.md) to the runner, one test per vector id. The
second half checks a sample of the same figures straight against the engine,
without the runner, so a bug in the runner cannot hide a bug in the engine.
Every expected value below is copied from the vector file or the compliance
data it quotes.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

import sts
from sts.conformance import VectorLine, check_vector, parse_vectors
from sts.tokens import CreditKind, CurrencyCredit, KeyChange1, KeyChange2, MeterTestToken

VECTOR_FILE = Path(__file__).parent / "vectors" / "sts-public.jsonl"
VECTORS = parse_vectors(VECTOR_FILE.read_text(encoding="utf-8"))


def test_the_public_file_is_read_whole() -> None:
    # 269 lines: 240 token, 10 amount, 6 luhn, 5 decoder_key, 4 tid, 3 crc, 1 cipher.
    assert len(VECTORS) == 269
    kinds = [vector.kind for vector in VECTORS]
    assert {kind: kinds.count(kind) for kind in set(kinds)} == {
        "token": 240,
        "amount": 10,
        "luhn": 6,
        "decoder_key": 5,
        "tid": 4,
        "crc": 3,
        "cipher": 1,
    }
    assert all(vector.problem is None for vector in VECTORS)


@pytest.mark.parametrize("vector", VECTORS, ids=[vector.id for vector in VECTORS])
def test_public_vector(vector: VectorLine) -> None:
    result = check_vector(vector)
    assert result.mismatches == (), "\n".join(result.mismatches)
    assert result.ok


# --- the same figures, checked by hand ----------------------------------------------------

VK02 = sts.VendingKey.from_hex("ABABABABABABABAB")
VK04 = sts.VendingKey.from_hex("ABABABABABABABAB949494949494949401234567")
PAN = "600727000000000009"


@pytest.mark.parametrize(
    ("pan", "ti", "expected"),
    [
        (PAN, 1, "E653341F9D5BF36F"),
        (PAN, 2, "060B8643C59A27F1"),
        ("000001000000000082", 1, "E94023262E9993C2"),
        ("000001000000000082", 2, "6221992F403A5877"),
    ],
)
def test_dkga02_compliance_keys(pan: str, ti: int, expected: str) -> None:
    params = sts.KeyParameters(pan=pan, sgc=123456, kt=2, ti=ti, krn=1)
    assert sts.derive_decoder_key("02", VK02, params) == sts.DecoderKey.from_hex(expected)


@pytest.mark.parametrize(
    ("ea", "expected"),
    [("07", "AA4BAA8749C10D27"), ("11", "F94B6ED353C3BFDB113E2D3A7EA3C41D")],
)
def test_dkga04_compliance_keys(ea: str, expected: str) -> None:
    params = sts.KeyParameters(
        pan=PAN, sgc=123457, kt=2, ti=1, krn=1, base_date=sts.BaseDate.Y1993, ea=ea
    )
    assert sts.derive_decoder_key("04", VK04, params).reveal_hex() == expected


def test_ctsa03_power_limit_sta() -> None:
    key = sts.DecoderKey.from_hex("E653341F9D5BF36F")
    token = sts.SetPowerLimit.for_watts(1000, tid=5910301, rnd=5)
    assert token.to_block() == 0x055A2F1D03E8F8F4
    assert sts.encode(token, key) == "50901894209860263092"
    assert sts.decode("50901894209860263092", key) == token


def test_ctsa03_power_limit_misty1() -> None:
    key = sts.DecoderKey.from_hex("F94B6ED353C3BFDB113E2D3A7EA3C41D")
    decoded = sts.decode_full("26521936751055502278", key, ea="11")
    assert decoded.encrypted == 0x7010D8F4AA0A7BC6
    assert decoded.block == 0x055A2F1D03E8F8F4
    assert decoded.token == sts.SetPowerLimit(rnd=5, tid=5910301, value=1000)
    assert decoded.token.watts == 1000


def test_ctsa05_key_change_set_64_bit() -> None:
    # Current key TI 01, new key TI 02 (060B8643C59A27F1); KEN 255, KRN 1, RO 0, KT 2.
    current = sts.DecoderKey.from_hex("E653341F9D5BF36F")
    order = sts.KeyChangeOrder(bytes.fromhex("060B8643C59A27F1"), krn=1, kt=2, ti=2)
    first, second = order.tokens()
    assert first == KeyChange1(ken_ho=15, krn=1, ro=0, res=0, kt=2, nk_ho=0x060B8643)
    assert second == KeyChange2(ken_lo=15, ti=2, nk_lo=0xC59A27F1)
    assert first.to_block() == 0x3F12060B8643D717
    assert second.to_block() == 0x4F02C59A27F189A8
    assert sts.encode(first, current) == "51638423060042734509"
    assert sts.encode(second, current) == "15361891762113502242"


def test_ctsa05_key_change_set_128_bit_with_rollover() -> None:
    # Sections 3 and 4 of the new TI 02 key, and sections 1 and 2 of the KRN 4, 2014 key.
    current = sts.DecoderKey.from_hex("F94B6ED353C3BFDB113E2D3A7EA3C41D")
    ti2 = sts.KeyChangeOrder(
        bytes.fromhex("B208834372EF892EF6E04C28593090D4"), krn=1, kt=2, ti=2, sgc=123457
    ).tokens()
    assert [sts.encode(t, current) for t in ti2[2:]] == [
        "71464563847088610152",
        "67904239402617643990",
    ]
    krn4 = sts.KeyChangeOrder(
        bytes.fromhex("1D7B719AE4730402C3B45E18E23FF59D"),
        krn=4,
        kt=2,
        ti=2,
        rollover=True,
        sgc=123457,
    ).tokens()
    assert krn4[0].to_block() == 0x3F4A1D7B719A764F
    assert [sts.encode(t, current) for t in krn4[:2]] == [
        "56493341861242437581",
        "51757380361191578258",
    ]


def test_eskom_class1_krn_token_needs_no_key() -> None:
    token = sts.decode("18446744073843772416")
    assert token == MeterTestToken(variant=0, control=8, mfr=0)
    assert token.to_block() == 0x0000000008000C00
    assert sts.TestControl.KEY_REVISION in token.functions
    assert sts.encode(MeterTestToken(0, 8, 0)) == "18446744073843772416"


def test_currency_token() -> None:
    # 100.00000 currency units ask for 10,000,000 units of 0.00001; the field rounds up.
    key = sts.DecoderKey.from_hex("4530EDB79B5F083D")
    token = CurrencyCredit.for_amount(CreditKind.ELECTRICITY_CURRENCY, 10_000_000, tid=6680788)
    assert (token.se, token.amount) == (0, 57334)
    assert token.to_block() == 0x4065F0D4DFF6C645
    assert sts.encode(token, key) == "07420412750539184100"
    decoded = sts.decode("07420412750539184100", key)
    assert decoded == token
    # Exponent 3 (field bits 15-14 = 0b11), mantissa 57334 - 49152 = 8182:
    # 8182 * 1000 + 1818624 = 10,000,624 units, i.e. 100.00624.
    assert decoded.value == Decimal("100.00624")


def test_iec_sample_tables_token() -> None:
    key = sts.DecoderKey.from_hex("0ABC12DEF3456789")
    token = sts.TransferCredit(CreditKind.ELECTRICITY, rnd=11, tid=1698595, amount=256)
    assert token.to_block() == 0x0B19EB230100C207
    assert sts.encode(token, key, tables="sample") == "51043465443420856213"
