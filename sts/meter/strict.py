"""Strict reading of the JSON sections the metering modules keep in a state file.

Each new section of the meter's state (measurement, registers, calendar, ...)
reads itself with these helpers, so that a damaged or hand-edited file is
refused with the path of the bad field rather than half loaded::

    >>> read_int({"p": "5"}, "p", "metering.load")
    Traceback (most recent call last):
    ...
    sts.errors.FormatError: metering.load.p is '5'; expected a whole number

Every helper raises :class:`~sts.errors.FormatError` naming the path, the
value found and what was expected.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from sts.errors import FormatError
from sts.meter.schema import show


def obj(data: Any, path: str, required: Iterable[str], optional: Iterable[str] = ()) -> dict:
    """``data`` as a dict with every ``required`` key and no key outside both lists."""
    if not isinstance(data, dict):
        raise FormatError(f"{path} is {type(data).__name__}; expected an object")
    needed = list(required)
    allowed = [*needed, *(k for k in optional if k not in needed)]
    unknown_key(data, path, allowed)
    missing = [k for k in needed if k not in data]
    if missing:
        raise FormatError(f"{path}.{missing[0]} is missing")
    return data


def unknown_key(data: dict, path: str, allowed: Iterable[str]) -> None:
    """Refuse the first key of ``data`` not in ``allowed``, worded as
    :class:`sts.meter.schema.Obj` words it (the state file's other objects)."""
    names = [str(k) for k in allowed]
    for key in data:
        if key not in names:
            raise FormatError(
                f"{path} has an unknown key {show(key)}; the keys allowed are " + ", ".join(names)
            )


def as_int(value: Any, path: str, lo: int | None = None, hi: int | None = None) -> int:
    """A whole number (not a bool) within [lo, hi]."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise FormatError(f"{path} is {value!r}; expected a whole number")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        low = "" if lo is None else f"{lo}"
        high = "" if hi is None else f"{hi}"
        raise FormatError(f"{path} is {value}; expected {low}..{high}")
    return value


def read_int(data: dict, key: str, path: str, lo: int | None = None, hi: int | None = None) -> int:
    return as_int(data[key], f"{path}.{key}", lo, hi)


def as_bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise FormatError(f"{path} is {value!r}; expected true or false")
    return value


def as_str(value: Any, path: str, max_len: int = 200) -> str:
    if not isinstance(value, str) or len(value) > max_len:
        raise FormatError(f"{path} is {value!r}; expected text of at most {max_len} characters")
    return value


def as_decimal(
    value: Any, path: str, lo: Decimal | None = None, hi: Decimal | None = None
) -> Decimal:
    """A Decimal from an int or a decimal string (floats refused: figures stay exact)."""
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        raise FormatError(f"{path} is {value!r}; expected a whole number or a decimal string")
    try:
        result = Decimal(value)
    except (InvalidOperation, ValueError):
        raise FormatError(f"{path} is {value!r}; expected a decimal number") from None
    if not result.is_finite():
        raise FormatError(f"{path} is {value!r}; expected a finite number")
    if (lo is not None and result < lo) or (hi is not None and result > hi):
        raise FormatError(f"{path} is {result}; expected {lo}..{hi}")
    return result


def as_list(value: Any, path: str, max_len: int) -> list:
    if not isinstance(value, list):
        raise FormatError(f"{path} is {type(value).__name__}; expected a list")
    if len(value) > max_len:
        raise FormatError(f"{path} has {len(value)} entries; at most {max_len} are allowed")
    return value
