"""TIDs, base dates and the vending rule for the next TID (sts-reference.md section 5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from sts.errors import FormatError, RangeError
from sts.tokens.tid import (
    MAX_TID,
    BaseDate,
    datetime_from_tid,
    next_tid,
    tid_from_datetime,
    vending_tid,
)

SAST = timezone(timedelta(hours=2), "SAST")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("when", "base", "tid"),
    [
        (utc(2016, 12, 11, 15, 49), BaseDate.Y1993, 12_593_749),  # 0xC02A55, STSA web page
        (utc(2020, 1, 1, 8, 0), BaseDate.Y1993, 14_200_320),
        (utc(2020, 1, 1, 8, 0), BaseDate.Y2014, 3_155_520),
        (utc(2004, 3, 28, 9, 1), BaseDate.Y1993, 5_910_301),  # CTSA03
        (utc(1993, 1, 1, 0, 0), BaseDate.Y1993, 0),
        (utc(2024, 11, 24, 20, 15), BaseDate.Y1993, 16_777_215),
    ],
)
def test_published_tids(when: datetime, base: BaseDate, tid: int) -> None:
    assert tid_from_datetime(when, base) == tid


def test_seconds_are_truncated() -> None:
    assert tid_from_datetime(utc(2016, 12, 11, 15, 49, 59), BaseDate.Y1993) == 12_593_749


def test_max_tid_is_24_bits() -> None:
    assert MAX_TID == 0xFFFFFF


@pytest.mark.parametrize(
    ("base", "last"),
    [
        (BaseDate.Y1993, utc(2024, 11, 24, 20, 15)),
        (BaseDate.Y2014, utc(2045, 11, 24, 20, 15)),
        (BaseDate.Y2035, utc(2066, 11, 24, 20, 15)),
    ],
)
def test_last_valid_minute_and_rollover(base: BaseDate, last: datetime) -> None:
    assert base.last_valid_minute == last
    assert base.rollover_instant == last + timedelta(minutes=1)
    assert tid_from_datetime(last, base) == MAX_TID


def test_rollover_instant_is_range_error_asking_for_key_change() -> None:
    with pytest.raises(RangeError) as info:
        tid_from_datetime(utc(2024, 11, 24, 20, 16), BaseDate.Y1993)
    message = str(info.value)
    assert "2024-11-24 20:15" in message
    assert "key change" in message
    assert "later base date" in message


def test_before_base_date_is_range_error() -> None:
    with pytest.raises(RangeError, match="before the base date 2014"):
        tid_from_datetime(utc(2013, 12, 31, 23, 59), BaseDate.Y2014)


def test_naive_datetime_is_format_error() -> None:
    with pytest.raises(FormatError, match="timezone"):
        tid_from_datetime(datetime(2016, 12, 11, 15, 49), BaseDate.Y1993)


def test_local_time_is_converted_to_utc() -> None:
    # 17:49 at UTC+2 is 15:49 UTC.
    local = datetime(2016, 12, 11, 17, 49, tzinfo=SAST)
    assert tid_from_datetime(local, BaseDate.Y1993) == 12_593_749


def test_datetime_from_tid_is_utc() -> None:
    assert datetime_from_tid(12_593_749, BaseDate.Y1993) == utc(2016, 12, 11, 15, 49)
    assert datetime_from_tid(3_155_520, BaseDate.Y2014) == utc(2020, 1, 1, 8, 0)
    assert datetime_from_tid(0, BaseDate.Y2035) == utc(2035, 1, 1)


@pytest.mark.parametrize("tid", [-1, MAX_TID + 1])
def test_datetime_from_tid_rejects_out_of_range(tid: int) -> None:
    with pytest.raises(RangeError, match=str(tid)):
        datetime_from_tid(tid, BaseDate.Y1993)


@pytest.mark.parametrize(
    ("text", "base"),
    [("1993", BaseDate.Y1993), (2014, BaseDate.Y2014), ("35", BaseDate.Y2035), ("93", 1993)],
)
def test_base_date_parse(text: str | int, base: BaseDate) -> None:
    assert BaseDate.parse(text) == base


def test_base_date_parse_rejects_unknown() -> None:
    with pytest.raises(FormatError, match="2000"):
        BaseDate.parse(2000)


def test_base_date_codes() -> None:
    assert [b.code for b in BaseDate] == ["93", "14", "35"]


# next_tid: the vending rule.

# 2020-01-01 08:00 on the 1993 base; midnight that day is 14,199,840 (9861 days).
EIGHT_AM = 14_200_320
MIDNIGHT = 14_199_840


def test_first_token_gets_clock_time() -> None:
    assert next_tid(EIGHT_AM) == EIGHT_AM
    assert next_tid(EIGHT_AM, last_tid=EIGHT_AM - 60) == EIGHT_AM


def test_burst_in_one_minute_gets_consecutive_tids() -> None:
    first = next_tid(EIGHT_AM, None)
    second = next_tid(EIGHT_AM, first)
    third = next_tid(EIGHT_AM, second)
    assert (first, second, third) == (EIGHT_AM, EIGHT_AM + 1, EIGHT_AM + 2)


def test_back_to_clock_time_after_burst() -> None:
    assert next_tid(EIGHT_AM + 10, last_tid=EIGHT_AM + 2) == EIGHT_AM + 10


def test_last_tid_in_future_is_followed() -> None:
    assert next_tid(EIGHT_AM, last_tid=EIGHT_AM + 5) == EIGHT_AM + 6


def test_minute_0001_is_skipped() -> None:
    assert MIDNIGHT % 1440 == 0
    assert next_tid(MIDNIGHT + 1) == MIDNIGHT + 2
    # A burst across midnight also steps over 00:01.
    assert next_tid(MIDNIGHT, last_tid=MIDNIGHT) == MIDNIGHT + 2
    assert next_tid(MIDNIGHT) == MIDNIGHT


def test_past_max_tid_is_range_error_asking_for_later_base() -> None:
    with pytest.raises(RangeError) as info:
        next_tid(MAX_TID, last_tid=MAX_TID, base=BaseDate.Y1993)
    message = str(info.value)
    assert str(MAX_TID) in message
    assert "1993" in message
    assert "key change to a later base date" in message


def test_max_tid_itself_is_issued() -> None:
    assert next_tid(MAX_TID, last_tid=MAX_TID - 1) == MAX_TID


def test_vending_tid_from_local_time() -> None:
    now = datetime(2020, 1, 1, 10, 0, tzinfo=SAST)  # 08:00 UTC
    assert vending_tid(now, BaseDate.Y1993) == EIGHT_AM
    assert vending_tid(now, BaseDate.Y1993, last_tid=EIGHT_AM) == EIGHT_AM + 1


def test_vending_tid_skips_0001_utc() -> None:
    # CTSA09 step 2: stated as issued at 2004-03-29 00:01, its TID 5911202 is 00:02.
    assert vending_tid(utc(2004, 3, 29, 0, 1), BaseDate.Y1993) == 5_911_202
    assert vending_tid(utc(2020, 1, 1, 0, 1), BaseDate.Y1993) == MIDNIGHT + 2


def test_vending_tid_naive_is_format_error() -> None:
    with pytest.raises(FormatError):
        vending_tid(datetime(2020, 1, 1, 8, 0), BaseDate.Y1993)


def test_vending_tid_past_rollover_names_key_change() -> None:
    with pytest.raises(RangeError, match="key change to a later base date"):
        vending_tid(utc(2025, 1, 1), BaseDate.Y1993)
