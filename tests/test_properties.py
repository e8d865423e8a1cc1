"""Property tests (hypothesis) for the token engine.

- encode then decode is the identity for every token type, under EA07 with
  the production and the sample tables, EA11 and EA09;
- amount coding rounds up, never below the request, and to the smallest
  representable value that covers it;
- no text of 20 characters makes ``sts.decode`` fail with anything but an
  ``StsError``;
- TIDs round-trip through datetimes.
"""

from __future__ import annotations

import itertools
import warnings
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sts
from sts.codec import WithdrawnAlgorithmWarning, decode_full
from sts.errors import StsError
from sts.tokens import (
    ClearCredit,
    ClearTamper,
    CreditKind,
    CurrencyCredit,
    KeyChange1,
    KeyChange2,
    KeyChange3,
    KeyChange4,
    MeterTestToken,
    RawToken,
    SetPhaseUnbalanceLimit,
    SetPowerLimit,
    SetTariffRate,
    SetWaterMeterFactor,
    Token,
    TokenClass,
    TransferCredit,
)
from sts.tokens.amount import (
    MAX_AMOUNT,
    MAX_CURRENCY_AMOUNT,
    decode_amount,
    decode_currency,
    encode_amount,
    encode_currency,
)
from sts.tokens.tid import MAX_TID, BaseDate, datetime_from_tid, tid_from_datetime


def bits(n: int) -> st.SearchStrategy[int]:
    return st.integers(0, (1 << n) - 1)


RND, TID, FIELD16 = bits(4), bits(24), bits(16)

TOKEN_TYPES: dict[str, st.SearchStrategy[Token]] = {
    "TransferCredit": st.builds(
        TransferCredit, st.sampled_from(list(CreditKind)[:4]), RND, TID, FIELD16
    ),
    "CurrencyCredit": st.builds(
        CurrencyCredit, st.sampled_from(list(CreditKind)[4:]), bits(4), TID, FIELD16
    ),
    "CurrencyCredit negative": st.builds(
        CurrencyCredit, st.sampled_from(list(CreditKind)[4:]), st.integers(8, 15), TID, FIELD16
    ),
    "MeterTestToken 2-digit mfr": st.builds(MeterTestToken, st.just(0), bits(36), bits(8)),
    "MeterTestToken 4-digit mfr": st.builds(MeterTestToken, st.just(1), bits(28), bits(16)),
    **{
        cls.__name__: st.builds(cls, RND, TID, FIELD16)
        for cls in (
            SetPowerLimit,
            ClearCredit,
            SetTariffRate,
            ClearTamper,
            SetPhaseUnbalanceLimit,
            SetWaterMeterFactor,
        )
    },
    "KeyChange1": st.builds(KeyChange1, bits(4), bits(4), bits(1), bits(1), bits(2), bits(32)),
    "KeyChange2": st.builds(KeyChange2, bits(4), bits(8), bits(32)),
    "KeyChange3": st.builds(KeyChange3, bits(12), bits(32)),
    "KeyChange4": st.builds(KeyChange4, bits(12), bits(32)),
    "RawToken class 1 proprietary": st.builds(
        RawToken, st.just(TokenClass.TEST), st.integers(6, 15), bits(44)
    ),
    "RawToken class 1 reserved": st.builds(
        RawToken, st.just(TokenClass.TEST), st.integers(2, 5), bits(44)
    ),
    "RawToken class 2 reserved": st.builds(
        RawToken, st.just(TokenClass.MANAGEMENT), st.integers(10, 15), bits(44)
    ),
    "RawToken class 0 reserved": st.builds(
        RawToken, st.just(TokenClass.CREDIT), st.integers(8, 15), bits(44)
    ),
}

# (ea, tables, key size in bytes)
ALGORITHMS = {
    "EA07 production": ("07", "production", 8),
    "EA07 sample": ("07", "sample", 8),
    "EA11": ("11", "production", 16),
    "EA09": ("09", "production", 8),
}


@pytest.mark.filterwarnings("ignore::sts.codec.WithdrawnAlgorithmWarning")
@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
@pytest.mark.parametrize("token_type", list(TOKEN_TYPES))
@settings(deadline=None)  # no time limits in tests
@given(data=st.data())
def test_encode_then_decode_is_identity(
    token_type: str, algorithm: str, data: st.DataObject
) -> None:
    ea, tables, size = ALGORITHMS[algorithm]
    token = data.draw(TOKEN_TYPES[token_type], label="token")
    key = sts.DecoderKey(data.draw(st.binary(min_size=size, max_size=size), label="key"))
    digits = sts.encode(token, key, ea=ea, tables=tables)
    assert len(digits) == 20 and digits.isdigit()
    decoded = decode_full(digits, key, ea=ea, tables=tables)
    assert decoded.token == token
    assert decoded.token_class == token.token_class
    assert decoded.block == token.to_block()
    if token.token_class == TokenClass.TEST:
        assert decoded.encrypted == decoded.block  # class 1 travels in the clear


@settings(deadline=None)  # no time limits in tests
@given(token=st.one_of(*TOKEN_TYPES.values()), key=st.binary(min_size=8, max_size=8))
def test_grouped_digits_decode_too(token: Token, key: bytes) -> None:
    dk = sts.DecoderKey(key)
    grouped = sts.encode(token, dk, grouped=True)
    assert [len(group) for group in grouped.split(" ")] == [4, 4, 4, 4, 4]
    assert sts.decode(grouped.replace(" ", "-"), dk) == token


# Amount coding.


@settings(deadline=None)  # no time limits in tests
@given(units=st.integers(0, MAX_AMOUNT))
def test_amount_rounds_up_to_the_smallest_covering_value(units: int) -> None:
    field = encode_amount(units)
    assert 0 <= field <= 0xFFFF
    credited = decode_amount(field)
    assert credited >= units
    if field > 0:
        assert decode_amount(field - 1) < units  # the value just below would short the customer


@settings(deadline=None)  # no time limits in tests
@given(units=st.integers(0, MAX_AMOUNT))
def test_amount_decoded_value_encodes_to_itself(units: int) -> None:
    field = encode_amount(units)
    assert encode_amount(decode_amount(field)) == field


def test_amount_fields_are_strictly_increasing() -> None:
    values = [decode_amount(field) for field in range(0x10000)]
    assert all(a < b for a, b in itertools.pairwise(values))
    assert values[0] == 0 and values[-1] == MAX_AMOUNT


@settings(deadline=None)  # no time limits in tests
@given(units=st.integers(MAX_AMOUNT + 1, MAX_AMOUNT * 10))
def test_amount_above_maximum_refused(units: int) -> None:
    with pytest.raises(sts.RangeError):
        encode_amount(units)


def _currency_code(nibble: int, field: int) -> int:
    """Exponent and mantissa as one 19-bit number, in the order of the values they stand for."""
    return (nibble & 7) << 16 | field


def _currency_from_code(code: int) -> tuple[int, int]:
    return code >> 16, code & 0xFFFF


@settings(deadline=None)  # no time limits in tests
@given(units=st.integers(0, MAX_CURRENCY_AMOUNT), negative=st.booleans())
def test_currency_rounds_in_the_customers_favour(units: int, negative: bool) -> None:
    """A credit gets the smallest magnitude covering it, a deduction the largest not above it."""
    nibble, field = encode_currency(units, negative)
    sign, magnitude = decode_currency(nibble, field)
    assert sign is negative
    code = _currency_code(nibble, field)
    if negative:
        assert magnitude <= units
        if code < _currency_code(*encode_currency(MAX_CURRENCY_AMOUNT)):
            assert decode_currency(*_currency_from_code(code + 1))[1] > units
    else:
        assert magnitude >= units
        if code > 0:
            assert decode_currency(*_currency_from_code(code - 1))[1] < units


# Decoding never fails with anything but the project's own errors.

KEYS = st.one_of(
    st.none(),
    st.binary(min_size=8, max_size=8).map(sts.DecoderKey),
    st.binary(min_size=16, max_size=16).map(sts.DecoderKey),
)
TWENTY_DIGITS = st.from_regex(r"[0-9]{20}", fullmatch=True)
TOKEN_LIKE = st.one_of(
    st.text(min_size=20, max_size=20),
    st.text(alphabet="0123456789 -", min_size=20, max_size=20),
    TWENTY_DIGITS,
    st.integers(0, 10**20 - 1).map(lambda n: f"{n:020d}"),
    st.integers(1 << 66, 10**20 - 1).map(str),  # 20 digits, above the largest token
)


def _decode_outcome(text: str, key: sts.DecoderKey | None, **options: str) -> None:
    try:
        result = sts.decode(text, key, **options)
    except StsError:
        return
    assert isinstance(result, Token)


@settings(deadline=None)  # no time limits in tests
@given(text=TOKEN_LIKE, key=KEYS)
def test_decode_returns_token_or_raises_sts_error(text: str, key: sts.DecoderKey | None) -> None:
    _decode_outcome(text, key)


@settings(deadline=None)  # no time limits in tests
@given(text=TWENTY_DIGITS, key=st.binary(min_size=8, max_size=8).map(sts.DecoderKey))
def test_decode_with_sample_tables_and_ea09_same_contract(text: str, key: sts.DecoderKey) -> None:
    _decode_outcome(text, key, tables="sample")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WithdrawnAlgorithmWarning)
        _decode_outcome(text, key, ea="09")


@settings(deadline=None)  # no time limits in tests
@given(text=st.text(max_size=40), key=KEYS)
def test_decode_any_length_text_same_contract(text: str, key: sts.DecoderKey | None) -> None:
    _decode_outcome(text, key)


# TIDs.

OFFSETS = st.sampled_from(
    [
        UTC,
        timezone(timedelta(hours=2)),
        timezone(timedelta(hours=-5, minutes=-30)),
        timezone(timedelta(hours=14)),
        timezone(timedelta(hours=-12)),
    ]
)


@settings(deadline=None)  # no time limits in tests
@given(
    base=st.sampled_from(list(BaseDate)),
    minutes=st.integers(0, MAX_TID),
    seconds=st.integers(0, 59),
    micro=st.integers(0, 999_999),
    zone=OFFSETS,
)
def test_datetime_to_tid_to_datetime(
    base: BaseDate, minutes: int, seconds: int, micro: int, zone: timezone
) -> None:
    instant = base.start + timedelta(minutes=minutes, seconds=seconds, microseconds=micro)
    local = instant.astimezone(zone)
    tid = tid_from_datetime(local, base)
    assert tid == minutes
    assert datetime_from_tid(tid, base) == instant.replace(second=0, microsecond=0)


@settings(deadline=None)  # no time limits in tests
@given(base=st.sampled_from(list(BaseDate)), tid=st.integers(0, MAX_TID))
def test_tid_to_datetime_to_tid(base: BaseDate, tid: int) -> None:
    when = datetime_from_tid(tid, base)
    assert when.tzinfo is not None
    assert tid_from_datetime(when, base) == tid


@settings(deadline=None)  # no time limits in tests
@given(
    naive=st.datetimes(min_value=datetime(1993, 1, 2), max_value=datetime(2066, 11, 23)),
    base=st.sampled_from(list(BaseDate)),
)
def test_naive_datetimes_always_refused(naive: datetime, base: BaseDate) -> None:
    with pytest.raises(sts.FormatError):
        tid_from_datetime(naive, base)
