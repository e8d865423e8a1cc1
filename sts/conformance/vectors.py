"""Vector files: JSON Lines in the ``sts/conformance/FORMAT.md`` form, in numbered lines.

A vector file holds one JSON object per line, each with ``id``, ``kind`` and
``source`` and then the fields of its kind. :func:`parse_vectors` turns the
text of such a file into :class:`VectorLine` objects, one per non-blank line,
numbered from 1 as an editor numbers them. A line that cannot be checked at
all (not JSON, no id, an unknown kind, an id used twice) is not an error
here: it comes back with ``problem`` set, so that a runner reports it as a
failure with its line number and a test suite can still parametrize over
every line::

    >>> lines = parse_vectors('{"id": "a", "kind": "luhn", "source": "x"}\\n\\nnot json\\n')
    >>> [(line.number, line.id, line.problem) for line in lines]
    [(1, 'a', None), (3, 'line 3', 'not JSON (Expecting value at column 1)')]

Nothing here reads files: callers hand in the text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: The kinds of line a vector file may hold.
KINDS = ("decoder_key", "token", "amount", "crc", "tid", "luhn", "cipher", "reject")


@dataclass(frozen=True)
class VectorLine:
    """One line of a vector file: where it is, what it claims, and why not if unusable."""

    number: int  # 1-based line number in the file
    id: str  # the line's id, or "line N" when it has none
    kind: str  # the line's kind, "" when it has none
    data: Mapping[str, Any] = field(compare=False, repr=False)
    problem: str | None = None  # why the line cannot be checked, None when it can

    def __str__(self) -> str:
        return self.id


def _lines_of(source: str | Iterable[str]) -> Iterable[str]:
    if isinstance(source, str):
        return source.removeprefix("\ufeff").splitlines()
    return (line.rstrip("\r\n") for line in source)


def _read_line(number: int, text: str) -> VectorLine:
    placeholder = f"line {number}"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return VectorLine(
            number, placeholder, "", {}, f"not JSON ({exc.msg} at column {exc.colno})"
        )
    if not isinstance(data, dict):
        return VectorLine(number, placeholder, "", {}, "is not a JSON object")
    line_id = data.get("id")
    kind = data.get("kind")
    kind_text = kind if isinstance(kind, str) else ""
    if not isinstance(line_id, str) or not line_id:
        problem = "missing field 'id'" if line_id is None else f"id {line_id!r} is not text"
        return VectorLine(number, placeholder, kind_text, data, problem)
    if kind is None:
        return VectorLine(number, line_id, "", data, "missing field 'kind'")
    if kind not in KINDS:
        problem = f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}"
        return VectorLine(number, line_id, kind_text, data, problem)
    if not isinstance(data.get("source"), str):
        return VectorLine(number, line_id, kind, data, "missing field 'source'")
    return VectorLine(number, line_id, kind, data)


def parse_vectors(source: str | Iterable[str]) -> tuple[VectorLine, ...]:
    """Every non-blank line of a vector file (its text, or its lines), numbered from 1."""
    result: list[VectorLine] = []
    first_use: dict[str, int] = {}
    for number, text in enumerate(_lines_of(source), start=1):
        if not text.strip():
            continue
        line = _read_line(number, text)
        if line.problem is None and line.id in first_use:
            line = VectorLine(
                number,
                line.id,
                line.kind,
                line.data,
                f"id {line.id!r} is already used on line {first_use[line.id]}",
            )
        first_use.setdefault(line.id, number)
        result.append(line)
    return tuple(result)
