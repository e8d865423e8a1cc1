"""Reading a vector line's fields and recording what differs.

Two small tools the checks share:

- accessors (:func:`need`, :func:`need_int`, :func:`need_hex`, ...) that read a
  dotted path such as ``expect.token`` from a line and raise
  :class:`MalformedLine` naming the path when it is missing or of the wrong
  type. That exception never leaves the conformance package: the runner turns
  it into a failure of that line.
- :class:`Report`, which collects mismatches as sentences of the form
  ``"what: expected X, got Y"``, and turns an engine error raised inside a step
  into such a sentence instead of stopping the other checks of the line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sts.errors import StsError

_MISSING = object()


class MalformedLine(Exception):
    """A line lacks a field the format requires, or has one of the wrong type."""


def _named(path: str, prefix: str) -> str:
    return f"{prefix}.{path}" if prefix else path


def need(data: Mapping[str, Any], path: str, prefix: str = "") -> Any:
    """The value at a dotted ``path``; MalformedLine naming the path when absent.

    ``prefix`` is where ``data`` sits in the line (e.g. ``key.derive``), for messages.
    """
    value = get(data, path)
    if value is _MISSING:
        raise MalformedLine(f"missing field '{_named(path, prefix)}'")
    return value


def get(data: Mapping[str, Any], path: str, default: Any = _MISSING) -> Any:
    """The value at a dotted ``path``, or ``default`` when any part of it is absent."""
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return default
        value = value[part]
    return value


def has(data: Mapping[str, Any], path: str) -> bool:
    """True when the dotted path is present (even when its value is null)."""
    return get(data, path) is not _MISSING


def need_int(data: Mapping[str, Any], path: str, prefix: str = "") -> int:
    value = need(data, path, prefix)
    if not isinstance(value, int) or isinstance(value, bool):
        raise MalformedLine(f"field '{_named(path, prefix)}' is {value!r}; expected an integer")
    return value


def need_text(data: Mapping[str, Any], path: str, prefix: str = "") -> str:
    value = need(data, path, prefix)
    if not isinstance(value, str):
        raise MalformedLine(f"field '{_named(path, prefix)}' is {value!r}; expected a string")
    return value


def need_mapping(data: Mapping[str, Any], path: str, prefix: str = "") -> Mapping[str, Any]:
    value = need(data, path, prefix)
    if not isinstance(value, Mapping):
        raise MalformedLine(f"field '{_named(path, prefix)}' is {value!r}; expected an object")
    return value


def hex_value(value: Any, path: str) -> int:
    """An int from a hex string; MalformedLine naming the path otherwise."""
    if not isinstance(value, str) or not value:
        raise MalformedLine(f"field '{path}' is {value!r}; expected a hex string")
    try:
        return int(value, 16)
    except ValueError:
        raise MalformedLine(f"field '{path}' is {value!r}; expected a hex string") from None


def need_hex(data: Mapping[str, Any], path: str, prefix: str = "") -> int:
    return hex_value(need(data, path, prefix), _named(path, prefix))


def need_hex_bytes(data: Mapping[str, Any], path: str, prefix: str = "") -> bytes:
    text = need_text(data, path, prefix)
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise MalformedLine(
            f"field '{_named(path, prefix)}' is {text!r}; expected hex bytes"
        ) from None


def hex16(value: int) -> str:
    """A 64-bit block as 16 hex digits."""
    return f"{value:016X}"


def hex4(value: int) -> str:
    """A 16-bit field as 4 hex digits."""
    return f"{value:04X}"


class Report:
    """The mismatches found in one line, in the order they were found."""

    def __init__(self) -> None:
        self.mismatches: list[str] = []

    def add(self, sentence: str) -> None:
        self.mismatches.append(sentence)

    def compare(self, what: str, expected: Any, got: Any, show: Callable[[Any], str] = str) -> bool:
        """Record a mismatch unless ``got == expected``; True when they are equal."""
        if expected == got:
            return True
        self.add(f"{what}: expected {show(expected)}, got {show(got)}")
        return False

    @contextmanager
    def step(self, what: str, expected: str) -> Iterator[None]:
        """Run a step; an engine error inside it becomes one mismatch, and the line goes on."""
        try:
            yield
        except StsError as exc:
            self.add(f"{what}: expected {expected}, got {type(exc).__name__}: {exc}")
