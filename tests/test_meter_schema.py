"""The field specs of sts.meter.schema: what each accepts, and how a refusal reads."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from sts.errors import FormatError, RangeError
from sts.meter.schema import (
    Bool,
    Choice,
    Const,
    Day,
    Dec,
    Int,
    Invalid,
    List,
    Moment,
    Obj,
    Opt,
    Row,
    Text,
    validate,
)

FULLWIDTH_0123 = "\uff10\uff11\uff12\uff13"
MONEY = Dec(Decimal(0), Decimal(100), places=2)
WHEN = Moment(datetime(2000, 1, 1, tzinfo=UTC), datetime(2001, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("spec", "good", "bad"),
    [
        (Int(0, 9), [0, 9], [-1, 10, True, 1.0, "1", None, Decimal(1)]),
        (MONEY, ["0", "99.99", 5, Decimal("1.5"), "1E+1"], ["100.01", "-1", "1.001", 1.5,
                                                            "NaN", "Infinity", " 1", "1_0",
                                                            "\u0661", True, "1e999"]),
        (Text(3), ["", "abc"], ["abcd", 1, None]),
        (Text(4, r"[0-9]{4}", "four digits"), ["0123"], ["012", "01a3", FULLWIDTH_0123]),
        (Bool(), [True, False], [0, 1, "true", None]),
        (Choice(("a", 1)), ["a", 1], ["b", True, 1.0, "1"]),
        (Const(1), [1], [True, "1", 2]),
        (WHEN, ["2000-06-01T12:00:00+02:00"], ["2000-06-01T12:00:00", "1999-12-31T23:59:59Z",
                                                "2001-01-01T00:00:00+00:00", "junk", 5]),
        (Day(date(2000, 1, 1), date(2000, 12, 31)), ["2000-02-29"], ["2001-01-01", "2000-2-1",
                                                                      "2000-02-30", 20000229]),
        (Opt(Int(0, 1)), [None, 0], [2, "x"]),
        (List(Int(0, 9), 2), [[], [1, 1]], [[1, 2, 3], [10], "12", None]),
        (List(Int(0, 9), 3, unique=True), [[1, 2]], [[1, 1]]),
        (Row((Text(10), Int(0, 9)), "[name, n]"), [["a", 1]], [["a"], ["a", 1, 2], [1, "a"]]),
    ],
)  # fmt: skip
def test_each_spec_accepts_and_refuses(spec: Any, good: list[Any], bad: list[Any]):
    for value in good:
        validate(spec, value, "x")
    for value in bad:
        with pytest.raises(FormatError, match=r"^x(\[\d\])? is .*; expected "):
            validate(spec, value, "x")


def test_an_object_names_unknown_and_missing_keys_and_the_deep_path():
    spec = Obj({"a": Int(0, 1), "b": Obj({"c": List(Int(0, 1), 3)})}, frozenset({"a"}))
    validate(spec, {"b": {"c": [0, 1]}}, "doc")
    with pytest.raises(FormatError) as caught:
        validate(spec, {"b": {"c": [0, 1]}, "z": 1}, "doc")
    assert str(caught.value) == "doc has an unknown key 'z'; the keys allowed are a, b"
    with pytest.raises(FormatError) as caught:
        validate(spec, {"a": 1}, "doc")
    assert str(caught.value) == "doc.b is missing; expected an object with the keys c"
    with pytest.raises(FormatError) as caught:
        validate(spec, {"b": {"c": [0, 7]}}, "doc")
    assert str(caught.value) == "doc.b.c[1] is 7; expected a whole number from 0 to 1"


def test_a_cross_field_check_points_at_a_field_or_reports_a_project_error():
    def ordered(data: dict[str, Any]) -> None:
        if data["low"] > data["high"]:
            raise Invalid("low", data["low"], f"at most high ({data['high']})")
        if data["low"] == 5:
            raise RangeError("five is right out")

    spec = Obj({"low": Int(0, 9), "high": Int(0, 9)}, check_all=ordered)
    with pytest.raises(FormatError) as caught:
        validate(spec, {"low": 4, "high": 3}, "pair")
    assert str(caught.value) == "pair.low is 4; expected at most high (3)"
    with pytest.raises(FormatError) as caught:
        validate(spec, {"low": 5, "high": 6}, "pair")
    assert str(caught.value) == "pair: five is right out"


def test_a_refused_value_is_quoted_short():
    with pytest.raises(FormatError) as caught:
        validate(Int(0, 1), "x" * 10_000, "f")
    assert len(str(caught.value)) < 120
    with pytest.raises(FormatError, match=r"^f is a list of 3; expected"):
        validate(Int(0, 1), [1, 2, 3], "f")


def test_junk_nested_deep_is_refused_at_the_first_level_without_recursing():
    junk: Any = 0
    for _ in range(100_000):
        junk = [junk]
    with pytest.raises(FormatError, match=r"^f\.a is a list of 1; expected"):
        validate(Obj({"a": Obj({"b": Int(0, 1)})}), {"a": junk}, "f")
