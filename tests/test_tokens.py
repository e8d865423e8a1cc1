"""Token layouts, key change sets, raw tokens and block parsing errors.

Blocks (plaintext, CRC included) are the published ones from
tests/vectors/sts-public.jsonl; each test names the vector it quotes.
"""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from sts.errors import CrcError, FormatError, FunctionError, RangeError, StsError
from sts.results import ResultCode
from sts.tokens import (
    ALL_TESTS,
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
    parse_block,
)

# (token, plaintext block as published, vector id)
PUBLISHED_BLOCKS: list[tuple[Token, int, str]] = [
    (
        TransferCredit(CreditKind.ELECTRICITY, 11, 1698595, 0x0100),
        0x0B19EB230100C207,
        "iec-sample:sta:sample-tables",
    ),
    (
        TransferCredit(CreditKind.WATER, 5, 5944921, 10),
        0x155AB659000A3794,
        "nectar:Nectar_1:step1ATest:0",
    ),
    (
        TransferCredit(CreditKind.GAS, 5, 13343489, 100),
        0x25CB9B010064C6EA,
        "nectar-service:token:08179929825337759496",
    ),
    (
        CurrencyCredit(CreditKind.ELECTRICITY_CURRENCY, 0, 6680788, 57334),
        0x4065F0D4DFF6C645,
        "kf:token:07420412750539184100",
    ),
    (
        CurrencyCredit(CreditKind.WATER_CURRENCY, 0, 6680788, 57334),
        0x5065F0D4DFF6D784,
        "kf:token:33146270756150045052",
    ),
    (MeterTestToken(0, 8, 0), 0x0000000008000C00, "nectar:STS_531_1_0_02_CTSA11:step4:0"),
    (
        MeterTestToken(1, ALL_TESTS[1], 0),
        0x1FFFFFFF00001D9F,
        "nectar:STS_531_1_0_02_CTSA02:step2Test:0",
    ),
    (MeterTestToken(1, 2, 0), 0x100000020000A890, "nectar:STS_531_1_0_02_CTSA11:step2:1"),
    (SetPowerLimit(5, 5910301, 1000), 0x055A2F1D03E8F8F4, "CTSA03 step 1"),
    (ClearCredit(5, 5910315, 0xFFFF), 0x155A2F2BFFFF1B64, "CTSA04 step 1"),
    (
        SetTariffRate(5, 13343489, 10),
        0x25CB9B01000A64C6,
        "nectar-service:token:00080474005256738803",
    ),
    (ClearTamper(5, 5910360, 0), 0x555A2F580000E5CF, "CTSA06 step 1"),
    (SetPhaseUnbalanceLimit(5, 5910380, 10), 0x655A2F6C000A21F6, "0-04 CTSA07 step 1"),
    (KeyChange1(15, 1, 0, 0, 2, 0x060B8643), 0x3F12060B8643D717, "0-02 CTSA05 step 1"),
    (KeyChange2(15, 2, 0xC59A27F1), 0x4F02C59A27F189A8, "0-02 CTSA05 step 1"),
    (KeyChange1(15, 5, 1, 0, 2, 0xB08205E0), 0x3F5AB08205E0E1F2, "0-02 CTSA26 step 1"),
    (KeyChange3(0x241, 0x72EF892E), 0x824172EF892ED7EC, "0-04 CTSA05 step 1"),
    (KeyChange4(0x01E, 0xF6E04C28), 0x901EF6E04C288B32, "0-04 CTSA05 step 1"),
    (
        RawToken(TokenClass.TEST, 11, 1099511628036),
        0xB100000001041072,
        "emeters:class1:12754194144864505970",
    ),
]

IDS = [vector_id for _, _, vector_id in PUBLISHED_BLOCKS]


@pytest.mark.parametrize(("token", "block", "vector_id"), PUBLISHED_BLOCKS, ids=IDS)
def test_to_block_matches_published(token: Token, block: int, vector_id: str) -> None:
    assert token.to_block() == block


@pytest.mark.parametrize(("token", "block", "vector_id"), PUBLISHED_BLOCKS, ids=IDS)
def test_parse_block_gives_the_token_back(token: Token, block: int, vector_id: str) -> None:
    assert parse_block(token.token_class, block) == token


@pytest.mark.parametrize(("token", "block", "vector_id"), PUBLISHED_BLOCKS, ids=IDS)
def test_from_payload_inverts_payload(token: Token, block: int, vector_id: str) -> None:
    assert token.payload() == block >> 16 & (1 << 44) - 1
    assert token.subclass == block >> 60
    if not isinstance(token, RawToken):
        assert type(token).from_payload(token.subclass, token.payload()) == token


# Layouts without a published vector: the head (bits 63..16) worked by hand.


def test_time_credit_layout() -> None:
    token = TransferCredit(CreditKind.TIME, 0xA, 0x123456, 0x0064)
    assert token.to_block() >> 16 == 0x3A1234560064
    assert parse_block(0, token.to_block()) == token


def test_water_meter_factor_layout() -> None:
    token = SetWaterMeterFactor(7, 0x0ABCDE, 0x0102)
    assert token.to_block() >> 16 == 0x770ABCDE0102
    assert parse_block(2, token.to_block()) == token


def test_currency_gas_and_time_layout() -> None:
    gas = CurrencyCredit(CreditKind.GAS_CURRENCY, 0x9, 0x000001, 0xFFFF)
    time = CurrencyCredit(CreditKind.TIME_CURRENCY, 0x0, 0xFFFFFF, 0x0000)
    assert gas.to_block() >> 16 == 0x69000001FFFF
    assert time.to_block() >> 16 == 0x70FFFFFF0000
    assert parse_block(0, gas.to_block()) == gas
    assert parse_block(0, time.to_block()) == time


# fields() in the vector-file names.


def test_fields_names() -> None:
    assert TransferCredit(CreditKind.WATER, 5, 5944921, 10).fields() == {
        "rnd": 5,
        "tid": 5944921,
        "amount": 10,
    }
    assert CurrencyCredit(CreditKind.ELECTRICITY_CURRENCY, 0, 6680788, 57334).fields() == {
        "se": 0,
        "tid": 6680788,
        "amount": 57334,
    }
    assert MeterTestToken(0, 8, 0).fields() == {"control": 8, "mfr": 0}
    assert ClearTamper(5, 5910360, 0).fields() == {"rnd": 5, "tid": 5910360, "value": 0}
    assert KeyChange1(15, 1, 0, 0, 2, 0x060B8643).fields() == {
        "ken_ho": 15,
        "krn": 1,
        "ro": 0,
        "res": 0,
        "kt": 2,
        "nk_ho": "060B8643",
    }
    assert KeyChange2(15, 2, 0xC59A27F1).fields() == {"ken_lo": 15, "ti": 2, "nk_lo": "C59A27F1"}
    assert KeyChange3(577, 0x72EF892E).fields() == {"sgc_lo": 577, "nk_mo2": "72EF892E"}
    assert KeyChange4(30, 0xF6E04C28).fields() == {"sgc_ho": 30, "nk_mo1": "F6E04C28"}
    assert RawToken(TokenClass.TEST, 11, 1099511628036).fields() == {"payload": 1099511628036}


# Class and subclass of each type.


@pytest.mark.parametrize(
    ("token", "token_class", "subclass"),
    [
        (TransferCredit(CreditKind.TIME, 0, 0, 0), 0, 3),
        (CurrencyCredit(CreditKind.TIME_CURRENCY, 0, 0, 0), 0, 7),
        (MeterTestToken(1, 0, 0), 1, 1),
        (SetPowerLimit(0, 0, 0), 2, 0),
        (ClearCredit(0, 0, 0), 2, 1),
        (SetTariffRate(0, 0, 0), 2, 2),
        (KeyChange1(0, 0, 0, 0, 0, 0), 2, 3),
        (KeyChange2(0, 0, 0), 2, 4),
        (ClearTamper(0, 0, 0), 2, 5),
        (SetPhaseUnbalanceLimit(0, 0, 0), 2, 6),
        (SetWaterMeterFactor(0, 0, 0), 2, 7),
        (KeyChange3(0, 0), 2, 8),
        (KeyChange4(0, 0), 2, 9),
    ],
)
def test_class_and_subclass(token: Token, token_class: int, subclass: int) -> None:
    assert token.token_class == token_class
    assert token.subclass == subclass


# Field widths.


@pytest.mark.parametrize(
    ("make", "field", "value"),
    [
        (lambda: TransferCredit(CreditKind.ELECTRICITY, 16, 0, 0), "RND", 16),
        (lambda: TransferCredit(CreditKind.ELECTRICITY, 0, 1 << 24, 0), "TID", 1 << 24),
        (lambda: TransferCredit(CreditKind.ELECTRICITY, 0, 0, 0x10000), "amount", 0x10000),
        (lambda: TransferCredit(CreditKind.ELECTRICITY, -1, 0, 0), "RND", -1),
        (lambda: CurrencyCredit(CreditKind.ELECTRICITY_CURRENCY, 16, 0, 0), "S&E", 16),
        (lambda: SetPowerLimit(0, 0, 0x10000), "value", 0x10000),
        (lambda: ClearCredit(0, -5, 0), "TID", -5),
        (lambda: MeterTestToken(0, 1 << 36, 0), "control", 1 << 36),
        (lambda: MeterTestToken(1, 1 << 28, 0), "control", 1 << 28),
        (lambda: MeterTestToken(0, 0, 256), "manufacturer code", 256),
        (lambda: MeterTestToken(1, 0, 1 << 16), "manufacturer code", 1 << 16),
        (lambda: KeyChange1(16, 0, 0, 0, 0, 0), "KENHO", 16),
        (lambda: KeyChange1(0, 16, 0, 0, 0, 0), "KRN", 16),
        (lambda: KeyChange1(0, 0, 2, 0, 0, 0), "RO", 2),
        (lambda: KeyChange1(0, 0, 0, 2, 0, 0), "RES/3KCT", 2),
        (lambda: KeyChange1(0, 0, 0, 0, 4, 0), "KT", 4),
        (lambda: KeyChange1(0, 0, 0, 0, 0, 1 << 32), "NKHO", 1 << 32),
        (lambda: KeyChange2(0, 256, 0), "TI", 256),
        (lambda: KeyChange3(1 << 12, 0), "SGCLO", 1 << 12),
        (lambda: KeyChange4(0, 1 << 32), "NKMO1", 1 << 32),
        (lambda: RawToken(TokenClass.TEST, 16, 0), "subclass", 16),
        (lambda: RawToken(TokenClass.TEST, 6, 1 << 44), "payload", 1 << 44),
    ],
)
def test_field_width_is_range_error_naming_field_and_value(
    make: object, field: str, value: int
) -> None:
    with pytest.raises(RangeError) as info:
        make()  # type: ignore[operator]
    message = str(info.value)
    assert field in message
    assert repr(value) in message


def test_bool_is_not_a_field_value() -> None:
    with pytest.raises(RangeError):
        TransferCredit(CreditKind.ELECTRICITY, True, 0, 0)  # type: ignore[arg-type]


def test_transfer_credit_refuses_currency_subclass() -> None:
    with pytest.raises(FormatError, match="0-3"):
        TransferCredit(CreditKind.ELECTRICITY_CURRENCY, 0, 0, 0)


def test_currency_credit_refuses_units_subclass() -> None:
    with pytest.raises(FormatError, match="4-7"):
        CurrencyCredit(CreditKind.ELECTRICITY, 0, 0, 0)


def test_credit_subclass_out_of_range() -> None:
    with pytest.raises(FormatError, match="9"):
        TransferCredit(9, 0, 0, 0)  # type: ignore[arg-type]


def test_meter_test_variant_must_be_0_or_1() -> None:
    with pytest.raises(FormatError, match="subclass 2"):
        MeterTestToken(2, 0, 0)


# Convenience constructors and readings.


def test_transfer_credit_for_units_rounds_up() -> None:
    token = TransferCredit.for_units(CreditKind.ELECTRICITY, 20000, tid=1, rnd=2)
    assert token.amount == 0x416A
    assert token.units == 20004
    assert token.quantity == Decimal("2000.4")


def test_transfer_credit_for_units_above_maximum() -> None:
    with pytest.raises(RangeError, match="18,201,624"):
        TransferCredit.for_units(CreditKind.ELECTRICITY, 18_201_625, tid=1, rnd=2)


def test_currency_credit_for_amount() -> None:
    token = CurrencyCredit.for_amount(CreditKind.ELECTRICITY_CURRENCY, 10_000_000, tid=6680788)
    assert (token.se, token.amount) == (0, 0xDFF6)
    assert token.units_1e5 == 10_000_624
    assert token.value == Decimal("100.00624")
    assert not token.negative
    assert token.to_block() == 0x4065F0D4DFF6C645  # kf:token:07420412750539184100


def test_currency_credit_negative() -> None:
    token = CurrencyCredit.for_amount(
        CreditKind.WATER_CURRENCY, 10_000_000, tid=6680788, negative=True
    )
    assert token.se == 8
    assert token.negative
    # a deduction rounds down (customer's favour): m = floor(8,181,376 / 1000) = 8181
    assert token.value == Decimal("-99.99624")


def test_power_limit_for_watts() -> None:
    token = SetPowerLimit.for_watts(1000, tid=5910301, rnd=5)
    assert token.value == 0x03E8
    assert token.watts == 1000
    assert token.to_block() == 0x055A2F1D03E8F8F4  # CTSA03 step 1


def test_phase_unbalance_for_watts_rounds_up() -> None:
    token = SetPhaseUnbalanceLimit.for_watts(20000, tid=1, rnd=0)
    assert token.value == 0x416A
    assert token.watts == 20004


def test_clear_credit_register() -> None:
    assert ClearCredit(5, 5910315, 0xFFFF).register is Register.ALL
    assert ClearCredit(0, 0, 1).register is Register.WATER
    assert ClearCredit(0, 0, 0x1234).register == 0x1234
    assert ClearCredit.for_register(Register.GAS, tid=9, rnd=3) == ClearCredit(3, 9, 2)


def test_meter_test_functions() -> None:
    krn = MeterTestToken(0, 8, 0)
    assert krn.functions == TestControl.KEY_REVISION
    assert not krn.runs_all
    everything = MeterTestToken(0, ALL_TESTS[0], 0)
    assert everything.runs_all
    assert TestControl.LOAD_SWITCH in everything.functions
    assert TestControl.TARIFF_RATE in everything.functions


def test_carries_tid() -> None:
    assert TransferCredit(CreditKind.ELECTRICITY, 0, 0, 0).carries_tid
    assert ClearTamper(0, 0, 0).carries_tid
    assert not KeyChange1(0, 0, 0, 0, 0, 0).carries_tid
    assert not MeterTestToken(0, 0, 0).carries_tid


def test_tokens_are_frozen() -> None:
    token = SetPowerLimit(5, 5910301, 1000)
    with pytest.raises(AttributeError):
        token.value = 2000  # type: ignore[misc]


# Key change sets.

CTSA05_NEW_KEY = bytes.fromhex("060B8643C59A27F1")
CTSA19_NEW_KEY = bytes.fromhex("B208834372EF892EF6E04C28593090D4")


def test_64_bit_order_gives_two_published_tokens() -> None:
    order = KeyChangeOrder(CTSA05_NEW_KEY, krn=1, kt=2, ti=2)
    tokens = order.tokens()
    assert [t.to_block() for t in tokens] == [0x3F12060B8643D717, 0x4F02C59A27F189A8]


def test_rollover_order_sets_ro_bit() -> None:
    # CTSA26 step 1: KRN 5, RO 1, KT 2 -> nibble A.
    order = KeyChangeOrder(bytes.fromhex("B08205E074AFC5D6"), krn=5, kt=2, ti=1, rollover=True)
    first, second = order.tokens()
    assert first.to_block() == 0x3F5AB08205E0E1F2
    assert second.to_block() == 0x4F0174AFC5D6F220


def test_128_bit_order_gives_four_tokens_with_sgc_split() -> None:
    # 0-04 CTSA19 step 1: new SGC 123457 = 0x01E241 -> SGCHO 0x01E, SGCLO 0x241.
    order = KeyChangeOrder(CTSA19_NEW_KEY, krn=1, kt=2, ti=2, sgc=123457)
    tokens = order.tokens()
    assert len(tokens) == 4
    third, fourth = tokens[2], tokens[3]
    assert isinstance(third, KeyChange3)
    assert isinstance(fourth, KeyChange4)
    assert third.sgc_lo == 0x241
    assert fourth.sgc_ho == 0x01E
    assert [t.to_block() for t in tokens] == [
        0x3F12B208834303B7,
        0x4F02593090D431F3,
        0x824172EF892ED7EC,
        0x901EF6E04C288B32,
    ]


def test_ken_split_over_kct1_and_kct2() -> None:
    first, second = KeyChangeOrder(CTSA05_NEW_KEY, krn=7, kt=2, ti=1, ken=0xA5).tokens()
    assert isinstance(first, KeyChange1) and isinstance(second, KeyChange2)
    assert (first.ken_ho, second.ken_lo) == (0xA, 0x5)


@pytest.mark.parametrize(
    "blocks",
    list(itertools.permutations([0x3F12060B8643D717, 0x4F02C59A27F189A8])),
)
def test_combine_64_bit_set_in_any_order(blocks: tuple[int, ...]) -> None:
    tokens = [parse_block(2, block) for block in blocks]
    order = combine_key_change_set(tokens)  # type: ignore[arg-type]
    assert order == KeyChangeOrder(CTSA05_NEW_KEY, krn=1, kt=2, ti=2, ken=255, rollover=False)
    assert order.sgc is None


@pytest.mark.parametrize(
    "blocks",
    list(
        itertools.permutations(
            [0x3F12B208834303B7, 0x4F02593090D431F3, 0x824172EF892ED7EC, 0x901EF6E04C288B32]
        )
    ),
)
def test_combine_128_bit_set_in_any_order(blocks: tuple[int, ...]) -> None:
    tokens = [parse_block(2, block) for block in blocks]
    order = combine_key_change_set(tokens)  # type: ignore[arg-type]
    assert order.new_key == CTSA19_NEW_KEY
    assert order.sgc == 123457
    assert (order.krn, order.kt, order.ti, order.ken, order.rollover) == (1, 2, 2, 255, False)


def test_combine_rollover_flag() -> None:
    order = combine_key_change_set(
        [KeyChange1(15, 5, 1, 0, 2, 0xB08205E0), KeyChange2(15, 1, 0x74AFC5D6)]
    )
    assert order.rollover is True
    assert order.krn == 5


def test_3kct_bit_is_function_error() -> None:
    with pytest.raises(FunctionError, match="3KCT"):
        combine_key_change_set([KeyChange1(15, 1, 0, 1, 2, 0), KeyChange2(15, 1, 0)])


def test_3kct_function_error_has_function_result_code() -> None:
    assert FunctionError.result_code is ResultCode.FUNCTION


def test_combine_incomplete_set() -> None:
    with pytest.raises(FormatError, match=r"\[3\]"):
        combine_key_change_set([KeyChange1(15, 1, 0, 0, 2, 0)])
    with pytest.raises(FormatError, match=r"\[3, 4, 8\]"):
        combine_key_change_set(
            [KeyChange1(15, 1, 0, 0, 2, 0), KeyChange2(15, 1, 0), KeyChange3(0, 0)]
        )


def test_combine_duplicate_section() -> None:
    with pytest.raises(FormatError, match="twice"):
        combine_key_change_set([KeyChange2(15, 1, 0), KeyChange2(15, 1, 0)])


def test_combine_sgc_beyond_six_digits() -> None:
    # SGCHO 0xFFF, SGCLO 0xFFF = 16,777,215: not a 6-digit SGC.
    tokens = [
        KeyChange1(15, 1, 0, 0, 2, 0),
        KeyChange2(15, 1, 0),
        KeyChange3(0xFFF, 0),
        KeyChange4(0xFFF, 0),
    ]
    with pytest.raises(RangeError, match="16777215"):
        combine_key_change_set(tokens)


def test_order_needs_8_or_16_byte_key() -> None:
    with pytest.raises(FormatError, match="10 bytes"):
        KeyChangeOrder(bytes(10), krn=1, kt=2, ti=1)


def test_128_bit_order_needs_sgc() -> None:
    with pytest.raises(FormatError, match="SGC"):
        KeyChangeOrder(CTSA19_NEW_KEY, krn=1, kt=2, ti=1)


def test_order_sgc_must_have_six_digits() -> None:
    with pytest.raises(RangeError, match="1000000"):
        KeyChangeOrder(CTSA19_NEW_KEY, krn=1, kt=2, ti=1, sgc=1_000_000)


def test_order_repr_hides_the_key() -> None:
    text = repr(KeyChangeOrder(CTSA05_NEW_KEY, krn=1, kt=2, ti=2))
    assert "060B8643" not in text.upper()
    assert "C59A27F1" not in text.upper()
    assert "64-bit key" in text


# Raw tokens and parse errors.


def test_proprietary_class_1_token_is_raw() -> None:
    token = parse_block(1, 0xB100000001041072)
    assert token == RawToken(TokenClass.TEST, 11, 0x10000000104)
    assert token.token_class is TokenClass.TEST
    assert token.subclass == 11


def test_reserved_class_2_subclass_is_raw() -> None:
    token = RawToken(TokenClass.MANAGEMENT, 10, 0x123456789AB)
    assert parse_block(2, token.to_block()) == token


def test_raw_token_of_class_3_is_format_error() -> None:
    with pytest.raises(FormatError, match="class 3 is reserved"):
        RawToken(3, 0, 0)  # type: ignore[arg-type]


def test_raw_token_has_no_from_payload() -> None:
    with pytest.raises(TypeError, match="class"):
        RawToken.from_payload(11, 0)


def test_crc_mismatch_is_crc_error() -> None:
    with pytest.raises(CrcError) as info:
        parse_block(2, 0x055A2F1D03E8F8F5)
    message = str(info.value)
    assert "F8F5" in message
    assert "F8F4" in message
    assert info.value.result_code is ResultCode.CRC


def test_crc_of_other_class_does_not_match() -> None:
    # The CTSA03 block is class 2; read as class 0 its CRC is wrong.
    with pytest.raises(CrcError):
        parse_block(0, 0x055A2F1D03E8F8F4)


def test_currency_block_needs_crc_c() -> None:
    # kf vector 4065F0D4DFF6C645 with the plain CRC instead of CRC_C is refused.
    from sts.tokens.crc import block_crc

    plain = block_crc(0, 0x4065F0D4DFF6)
    assert plain != 0xC645
    with pytest.raises(CrcError):
        parse_block(0, 0x4065F0D4DFF6 << 16 | plain)


def test_class_3_is_format_error() -> None:
    with pytest.raises(FormatError, match="class 3"):
        parse_block(3, 0)


@pytest.mark.parametrize("block", [-1, 1 << 64])
def test_block_must_be_64_bits(block: int) -> None:
    with pytest.raises(FormatError, match="64-bit"):
        parse_block(0, block)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (FormatError, ResultCode.FORMAT),
        (CrcError, ResultCode.CRC),
        (RangeError, ResultCode.RANGE),
        (FunctionError, ResultCode.FUNCTION),
    ],
)
def test_errors_carry_result_codes(error: type[StsError], code: ResultCode) -> None:
    assert issubclass(error, StsError)
    assert error.result_code is code


def test_64_bit_order_refuses_an_sgc_it_cannot_carry() -> None:
    # A 2-token set has no SGC sections (sts-reference 10.3), so an SGC would be lost silently.
    with pytest.raises(FormatError, match="SGC 123457"):
        KeyChangeOrder(bytes(8), krn=1, kt=2, ti=1, sgc=123457)
