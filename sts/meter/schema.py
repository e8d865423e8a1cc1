"""Typed fields for the meter's JSON documents: one small schema language, one pass.

A schema is a tree of field specs shaped like the JSON it describes:

* :class:`Obj` for an object: every key is named, a key it does not name is
  refused (naming the key and the keys allowed), a missing key is refused
  unless listed as optional;
* :class:`List` (bounded length) and :class:`Row` (a fixed-length array of
  different fields) for arrays;
* the leaves, each with its bounds: :class:`Int`, :class:`Dec` (an exact
  decimal as a string or integer, never a float), :class:`Text`,
  :class:`Bool`, :class:`Choice`, :class:`Const`, :class:`Moment` (an ISO
  timestamp with its offset), :class:`Day` (an ISO date); :class:`Opt` lets
  any of them be null;
* :class:`Section` for a subtree that its own module reads strictly (the
  ``"metering"`` section, read by :meth:`sts.meter.metering.Metering.from_dict`):
  the schema hands the subtree and its path to that reader instead of
  describing it twice.

:func:`validate` walks the *spec*, not the data, so junk nested a hundred
thousand deep is refused at the first level where it does not fit (the JSON
parser's own depth is checked before parsing, in :mod:`sts.meter.state`).
Every refusal is a :class:`~sts.errors.FormatError` that names the path of
the field and what was expected::

    >>> validate(Obj({"n": Int(0, 9)}), {"n": 12}, "doc")
    Traceback (most recent call last):
    ...
    sts.errors.FormatError: doc.n is 12; expected a whole number from 0 to 9

Rules that tie several fields together go in an Obj's ``check_all``: a function
of the object (whose fields have all passed) that raises :class:`Invalid` to
point at one of its fields, or any :class:`~sts.errors.StsError` (such as
the checks of the frozen dataclass the object becomes), reported at the
object's path. Checks run after the fields, innermost first.

To describe a new part of a document, build its spec from these pieces and
add it to its parent's Obj (the meter state's tree is
:mod:`sts.meter.state_schema`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from sts.errors import FormatError, StsError

SHOWN_CHARS = 40
"""How much of a refused value a message quotes."""

_DECIMAL_TEXT = re.compile(r"-?[0-9]{1,30}(\.[0-9]{1,30})?([eE][+-]?[0-9]{1,3})?")


class Invalid(Exception):
    """Raised by an Obj's ``check_all`` to refuse one of the object's fields."""

    def __init__(self, name: str, value: Any, expected: str) -> None:
        super().__init__(name, value, expected)
        self.name = name
        self.value = value
        self.expected = expected


class Spec(Protocol):
    """A field: what it accepts, in words, and the check itself."""

    @property
    def expected(self) -> str: ...

    def check(self, value: Any, path: str) -> None: ...


def validate(spec: Spec, value: Any, path: str) -> None:
    """Check ``value`` against ``spec``; FormatError naming ``path`` and the expectation.

    ``path`` names ``value`` itself; an empty path names the fields from the top.
    """
    spec.check(value, path)


def show(value: Any) -> str:
    """A short quotation of a refused value (never more than :data:`SHOWN_CHARS`)."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 3] + "..."


def refuse(path: str, value: Any, expected: str) -> FormatError:
    return FormatError(f"{path} is {show(value)}; expected {expected}")


@dataclass(frozen=True)
class Int:
    """A JSON integer (not a boolean) from ``low`` to ``high``."""

    low: int
    high: int

    @property
    def expected(self) -> str:
        return f"a whole number from {self.low:,} to {self.high:,}"

    def check(self, value: Any, path: str) -> None:
        if type(value) is not int or not self.low <= value <= self.high:
            raise refuse(path, value, self.expected)


@dataclass(frozen=True)
class Dec:
    """An exact decimal from ``low`` to ``high`` with at most ``places`` decimals.

    Given as a decimal string (``"12.50"``), an integer, or a Decimal (what
    ``json.loads(..., parse_float=Decimal)`` makes of ``12.5``); a float is
    refused because it is not exact.
    """

    low: Decimal
    high: Decimal
    places: int = 5

    @property
    def expected(self) -> str:
        return f"a decimal from {self.low} to {self.high} with at most {self.places} decimal places"

    def check(self, value: Any, path: str) -> None:
        if type(value) is int:
            number = Decimal(value)
        elif isinstance(value, Decimal):
            number = value
        elif isinstance(value, str) and _DECIMAL_TEXT.fullmatch(value):
            try:
                number = Decimal(value)
            except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
                raise refuse(path, value, self.expected) from None
        else:
            raise refuse(path, value, self.expected)
        if not number.is_finite() or not self.low <= number <= self.high:
            raise refuse(path, value, self.expected)
        if -number.normalize().as_tuple().exponent > self.places:  # type: ignore[operator]
            raise refuse(path, value, self.expected)


@dataclass(frozen=True)
class Text:
    """A string of at most ``max_len`` characters, matching ``pattern`` if given."""

    max_len: int
    pattern: str | None = None
    meaning: str | None = None

    @property
    def expected(self) -> str:
        return self.meaning or f"a string of at most {self.max_len} characters"

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, str) or len(value) > self.max_len:
            raise refuse(path, value, self.expected)
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise refuse(path, value, self.expected)


@dataclass(frozen=True)
class Bool:
    """true or false."""

    @property
    def expected(self) -> str:
        return "true or false"

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, bool):
            raise refuse(path, value, self.expected)


@dataclass(frozen=True)
class Choice:
    """One of a fixed set of values (strings or integers, compared by type too)."""

    values: tuple[Any, ...]

    @property
    def expected(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)

    def check(self, value: Any, path: str) -> None:
        if not any(type(value) is type(v) and value == v for v in self.values):
            raise refuse(path, value, self.expected)


@dataclass(frozen=True)
class Const:
    """Exactly this value."""

    value: Any

    @property
    def expected(self) -> str:
        return repr(self.value)

    def check(self, value: Any, path: str) -> None:
        if type(value) is not type(self.value) or value != self.value:
            raise refuse(path, value, self.expected)


@dataclass(frozen=True)
class Moment:
    """An ISO 8601 timestamp with its UTC offset, from ``first`` to before ``end``."""

    first: datetime
    end: datetime

    @property
    def expected(self) -> str:
        return (
            f"a time with its offset (YYYY-MM-DDTHH:MM:SS+HH:MM) from "
            f"{self.first:%Y-%m-%d} to before {self.end:%Y-%m-%d %H:%M} UTC"
        )

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, str) or len(value) > 40:
            raise refuse(path, value, self.expected)
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            raise refuse(path, value, self.expected) from None
        if when.tzinfo is None or when.utcoffset() is None:
            raise refuse(path, value, self.expected)
        if not self.first <= when < self.end:
            raise refuse(path, value, self.expected)


@dataclass(frozen=True)
class Day:
    """An ISO date (YYYY-MM-DD) from ``first`` to ``last``."""

    first: date
    last: date

    @property
    def expected(self) -> str:
        return f"a date (YYYY-MM-DD) from {self.first} to {self.last}"

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, str) or len(value) != 10:
            raise refuse(path, value, self.expected)
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise refuse(path, value, self.expected) from None
        if not self.first <= day <= self.last:
            raise refuse(path, value, self.expected)


@dataclass(frozen=True)
class Opt:
    """null, or what ``spec`` accepts."""

    spec: Spec

    @property
    def expected(self) -> str:
        return f"null or {self.spec.expected}"

    def check(self, value: Any, path: str) -> None:
        if value is not None:
            self.spec.check(value, path)


@dataclass(frozen=True)
class List:
    """A JSON array of ``min_len`` to ``max_len`` items, each what ``item`` accepts."""

    item: Spec
    max_len: int
    min_len: int = 0
    unique: bool = False

    @property
    def expected(self) -> str:
        distinct = "distinct " if self.unique else ""
        return f"a list of {self.min_len} to {self.max_len} {distinct}items"

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, list) or not self.min_len <= len(value) <= self.max_len:
            raise refuse(path, value, self.expected)
        for index, item in enumerate(value):
            self.item.check(item, f"{path}[{index}]")
        if self.unique and len({repr(item) for item in value}) != len(value):
            raise refuse(path, value, self.expected)


@dataclass(frozen=True)
class Row:
    """A JSON array of exactly these fields, in order (e.g. ``["2025-01-31", 7200000]``)."""

    items: tuple[Spec, ...]
    meaning: str

    @property
    def expected(self) -> str:
        return self.meaning

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, list) or len(value) != len(self.items):
            raise refuse(path, value, self.expected)
        for index, (spec, item) in enumerate(zip(self.items, value, strict=True)):
            spec.check(item, f"{path}[{index}]")


@dataclass(frozen=True)
class Section:
    """A subtree read by its owner's strict reader, ``read(value, path)``.

    The reader checks every field and names its path in a FormatError (as the
    specs here do); it is the one validator of that subtree. Any other
    project error it raises is reported at ``path``, and so is a Python
    exception, so a reader's oversight is still a one-line FormatError.
    """

    read: Callable[[Any, str], Any] = field(compare=False)
    meaning: str

    @property
    def expected(self) -> str:
        return self.meaning

    def check(self, value: Any, path: str) -> None:
        try:
            self.read(value, path)
        except FormatError:
            raise
        except StsError as exc:
            raise FormatError(f"{path}: {exc}") from None
        except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
            raise FormatError(f"{path} is not {self.meaning} ({type(exc).__name__})") from None


Check = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Obj:
    """A JSON object with exactly these keys (those in ``optional`` may be left out).

    ``check_all`` ties the fields together once each has passed; see the module
    docstring.
    """

    fields: Mapping[str, Spec]
    optional: frozenset[str] = frozenset()
    check_all: Check | None = field(default=None, compare=False)

    @property
    def expected(self) -> str:
        return "an object with the keys " + ", ".join(self.fields)

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise refuse(path, value, self.expected)
        unknown = [key for key in value if key not in self.fields]
        if unknown:
            raise FormatError(
                f"{path or 'the document'} has an unknown key {show(unknown[0])}; the keys "
                "allowed are " + ", ".join(self.fields)
            )
        for name, spec in self.fields.items():
            if name in value:
                spec.check(value[name], _join(path, name))
            elif name not in self.optional:
                raise FormatError(f"{_join(path, name)} is missing; expected {spec.expected}")
        if self.check_all is None:
            return
        try:
            self.check_all(value)
        except Invalid as bad:
            raise refuse(_join(path, bad.name), bad.value, bad.expected) from None
        except StsError as exc:
            raise FormatError(f"{path}: {exc}" if path else str(exc)) from None


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
