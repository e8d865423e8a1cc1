"""Meter state files: a simulated meter as a JSON document on disk.

A state file is one JSON object::

    {"format": "sts-meter-state", "version": 1, "meter": {...Meter.to_dict()...}}

It holds everything the meter knows, including its decoder key in hex (this
is a simulated meter; the file is created readable by its owner only, and no
command prints the key).

This module is the one place below ``cli.py`` in ``sts.meter`` that touches
the disk: :func:`save` and :func:`load`. Keeping the atomic write here, next
to the format it writes, lets it be tested on its own and keeps ``cli.py`` free
of logic. :func:`dumps` and :func:`loads` are the pure halves.

Writing is atomic: the document goes to a temporary file in the same
directory, which is flushed and fsynced and then renamed over the old file
with :func:`os.replace`. An interrupted or failed save leaves the previous
file as it was (and no temporary file behind).

Reading refuses, with a :class:`~sts.errors.FormatError` naming the file,
anything that is not a meter state the meter could be in. In order: a file
over :data:`MAX_STATE_BYTES` (not read past the cap), text that is not UTF-8
or not JSON (nesting deeper than the JSON reader goes is refused, never a
RecursionError), a document that is not a meter state of this version, and
then every field and every rule of :mod:`sts.meter.state_schema`, the message
naming the field's path (``meter.credit.state.energy_j is -1; expected a
whole number from 0 to ...``). Saving checks the same rules first, so no
file is written that could not be read back.

:func:`credit_config_from_json` reads the credit engine's set-up (tariff,
emergency credit, friendly time, ...) for a new meter: a JSON object in the
form of ``CreditConfig.to_dict()``, where any part left out keeps its default
(one level deep: ``{"emergency": {"limit_kwh": "5"}}`` is enough). A key it
does not know, at any level, is refused naming the key and the keys allowed.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

from sts.errors import FormatError, StsError
from sts.meter.config import CreditConfig
from sts.meter.meter import Meter
from sts.meter.schema import show, validate
from sts.meter.state_schema import CONFIG, METER

FORMAT_TAG = "sts-meter-state"
VERSION = 1

MAX_STATE_BYTES = 8 * 1024 * 1024
"""The largest state file read (a meter with 10,000 TIDs and events is about 2 MB)."""
MAX_CONFIG_BYTES = 1024 * 1024
"""The largest credit engine set-up read."""
STATE_DEPTH = 8
"""How deep a state document nests arrays and objects (for messages)."""


def to_document(meter: Meter) -> dict[str, Any]:
    """The JSON-ready document for ``meter``, checked as a load would check it.

    A meter whose state breaks a rule of :mod:`sts.meter.state_schema` (one
    built in Python with values no file may hold) is a FormatError here, so
    nothing is written that could not be read back.
    """
    body = meter.to_dict()
    validate(METER, body, "meter")
    return {"format": FORMAT_TAG, "version": VERSION, "meter": body}


def dumps(meter: Meter) -> str:
    """The state file text for ``meter``."""
    return json.dumps(to_document(meter), indent=2) + "\n"


def from_document(document: Any, source: str = "meter state") -> Meter:
    """The meter a parsed document describes; FormatError naming ``source`` otherwise.

    The ``"meter"`` object is checked whole against :data:`~sts.meter.state_schema.METER`
    before anything is built from it; a refusal names the field's path.
    """
    if not isinstance(document, dict) or document.get("format") != FORMAT_TAG:
        found = document.get("format") if isinstance(document, dict) else type(document).__name__
        raise FormatError(
            f"{source} is not a meter state file: format is {show(found)}, expected {FORMAT_TAG!r}"
        )
    version = document.get("version")
    if version != VERSION or type(version) is not int:
        raise FormatError(
            f"{source} is a meter state file of version {show(version)}; this toolkit reads "
            f"version {VERSION}"
        )
    unknown = sorted(set(document) - {"format", "version", "meter"})
    if unknown:
        raise FormatError(
            f"{source} has an unknown key {show(unknown[0])}; the keys allowed are "
            "format, version, meter"
        )
    body = document.get("meter")
    if not isinstance(body, dict):
        raise FormatError(f"{source} has no 'meter' object")
    try:
        validate(METER, body, "meter")
        return Meter.from_dict(body)
    except StsError as exc:
        raise FormatError(f"{source} is damaged: {exc}") from exc
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        what = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise FormatError(f"{source} is damaged: {what}") from exc


def loads(text: str, source: str = "meter state") -> Meter:
    """The meter in state file text."""
    return from_document(parse_json(text, source, MAX_STATE_BYTES), source)


def parse_json(text: str, source: str, max_chars: int) -> Any:
    """JSON text of at most ``max_chars`` characters, parsed; FormatError otherwise.

    The size is checked before parsing. Nesting deeper than the parser goes
    (it stops at Python's recursion limit, about 1,000 levels, with a
    RecursionError) is refused here; anything less deep is refused by the
    schema at the first field where an array or object does not belong,
    since the schema walks its own fields, not the data.

    Numbers keep their exact value: a fraction becomes a Decimal, and an
    integer too long for ``int`` a Decimal too, so the schema can name the
    field that holds it. NaN and Infinity pass as floats, which no field takes.
    """
    if len(text) > max_chars:
        raise FormatError(
            f"{source} holds {len(text):,} characters; expected at most {max_chars:,}"
        )
    try:
        return json.loads(text, parse_float=Decimal, parse_int=_parse_int)
    except json.JSONDecodeError as exc:
        raise FormatError(
            f"{source} is not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    except RecursionError:
        raise FormatError(
            f"{source} nests arrays and objects deeper than the JSON reader goes (about "
            f"{sys.getrecursionlimit():,} levels); a meter state nests {STATE_DEPTH}"
        ) from None


def _parse_int(text: str) -> int | Decimal:
    return int(text) if len(text) <= 4000 else Decimal(text)


def load(path: str | os.PathLike[str]) -> Meter:
    """The meter kept in the state file at ``path``."""
    file = Path(path)
    try:
        with file.open("rb") as handle:
            raw = handle.read(MAX_STATE_BYTES + 1)
    except FileNotFoundError:
        raise FormatError(f"meter state file {file} does not exist") from None
    except OSError as exc:
        raise FormatError(f"meter state file {file} cannot be read: {exc.strerror}") from exc
    if len(raw) > MAX_STATE_BYTES:
        raise FormatError(
            f"meter state file {file} is larger than {MAX_STATE_BYTES:,} bytes; "
            "no meter state is that large"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError(f"meter state file {file} is not UTF-8 text") from None
    return loads(text, f"meter state file {file}")


def save(meter: Meter, path: str | os.PathLike[str], *, overwrite: bool = True) -> None:
    """Write ``meter`` to ``path`` atomically (see the module docstring).

    With ``overwrite=False`` an existing file is refused with a FormatError.
    """
    file = Path(path)
    if not overwrite and file.exists():
        raise FormatError(f"meter state file {file} exists already; refusing to overwrite it")
    document = to_document(meter)
    directory = file.parent if str(file.parent) else Path(".")
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed below, kept on success)
        "w", encoding="utf-8", dir=directory, prefix=f".{file.name}.", suffix=".tmp", delete=False
    )
    temporary = Path(handle.name)
    try:
        with handle:
            json.dump(document, handle, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, file)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            temporary.unlink()
        if isinstance(exc, OSError):
            raise StsError(f"meter state file {file} cannot be written: {exc.strerror}") from exc
        raise
    _sync_directory(directory)


def _sync_directory(directory: Path) -> None:
    """Make the rename durable where the platform allows it (not on Windows)."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def credit_config_from_json(text: str, source: str = "credit configuration") -> CreditConfig:
    """A CreditConfig from JSON text; parts left out keep their defaults.

    Every key is checked against :data:`~sts.meter.state_schema.CONFIG`: an
    unknown key at any level is refused, naming it and the keys allowed.
    Numbers may be JSON numbers or decimal strings.
    """
    given = parse_json(text, source, MAX_CONFIG_BYTES)
    if not isinstance(given, dict):
        raise FormatError(f"{source} is not a JSON object of credit engine settings")
    merged = CreditConfig().to_dict()
    unknown = [name for name in given if name not in merged]
    if unknown:
        raise FormatError(
            f"{source} has an unknown setting {show(unknown[0])}; the settings allowed are "
            + ", ".join(merged)
        )
    for name, value in given.items():
        default = merged[name]
        both_objects = isinstance(default, dict) and isinstance(value, dict)
        merged[name] = default | value if both_objects else value
    try:
        validate(CONFIG, merged, "")
        return CreditConfig.from_dict(merged)
    except StsError as exc:
        raise FormatError(f"{source}: {exc}") from exc
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        what = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise FormatError(f"{source} is not valid: {what}") from exc
