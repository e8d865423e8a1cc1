"""The COSEM object model the server serves: OBIS code -> (class, attributes, methods).

An object is a set of attribute getters/setters and method handlers over a
:class:`Context` (the meter, its clock and what the server remembers beside
it). Mapping a new register onto the server is one line in a table (see
:mod:`sts.meter.dlms.objects`)::

    register((1, 0, 1, 8, 0, 255), lambda c: total_wh(c.meter), scaler=0, unit=WH)

Each attribute and method carries the lowest :class:`Level` that may use it.
Attribute 1 (logical_name) is added to every object and readable by all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from sts.meter.dlms import axdr
from sts.meter.dlms.errors import DlmsError

if TYPE_CHECKING:
    from datetime import datetime

    from dlms_cosem.dlms_data import AbstractDlmsData

    from sts.meter.meter import Meter

Obis = tuple[int, int, int, int, int, int]


class Level(IntEnum):
    """Access levels, lowest first. An association has one; each right names the least."""

    PUBLIC = 0  # client SAP 16, no security
    READER = 1  # management client, LLS, reader password
    OPERATOR = 2  # management client, LLS, operator password
    ADMIN = 3  # management client, LLS admin password or HLS GMAC


@dataclass
class Context:
    """What attribute and method handlers work on.

    ``now`` is the time of the request, chosen by the server core (the meter's
    clock, or the wall clock when the server runs the meter in real time);
    ``notes`` is the server's own memory beside the meter (the token gateway's
    last outcome); ``association`` describes the current association for the
    association LN object; ``changed`` is set by a handler that changed the
    meter, so the transport knows to save it.
    """

    meter: Meter
    now: datetime
    notes: dict[str, Any] = field(default_factory=dict)
    association: Mapping[str, Any] = field(default_factory=dict)
    changed: bool = False


Getter = Callable[[Context], bytes]
Setter = Callable[[Context, "AbstractDlmsData"], None]
Handler = Callable[[Context, "AbstractDlmsData | None"], bytes | None]


Selective = Callable[[Context, int, "AbstractDlmsData"], bytes]


@dataclass(frozen=True)
class Attribute:
    """An attribute's getter (and setter), the least levels to read and write it.

    ``selective`` reads it with selective access (access selector, parameters);
    an attribute without one refuses selective access.
    """

    get: Getter
    read: Level = Level.READER
    set: Setter | None = None
    write: Level = Level.ADMIN
    selective: Selective | None = None


@dataclass(frozen=True)
class Method:
    call: Handler
    level: Level = Level.ADMIN


@dataclass(frozen=True)
class CosemObject:
    obis: Obis
    class_id: int
    version: int
    attributes: Mapping[int, Attribute]
    methods: Mapping[int, Method] = field(default_factory=dict)

    @property
    def logical_name(self) -> bytes:
        return bytes(self.obis)


def cosem_object(
    obis: Obis,
    class_id: int,
    version: int,
    attributes: Mapping[int, Attribute],
    methods: Mapping[int, Method] | None = None,
    *,
    read: Level = Level.READER,
) -> CosemObject:
    """An object with attribute 1 (logical_name) added, readable at ``read``."""
    if len(obis) != 6 or any(not 0 <= part <= 255 for part in obis):
        raise DlmsError(f"OBIS code {obis} is not six values 0-255")
    name = axdr.octet_string(bytes(obis))
    with_name = {1: Attribute(lambda _c: name, read=min(read, Level.PUBLIC)), **attributes}
    return CosemObject(obis, class_id, version, with_name, methods or {})


class ObjectTable:
    """The objects of one logical device, looked up by (class id, OBIS)."""

    def __init__(self, objects: Iterable[CosemObject]) -> None:
        self._by_obis: dict[Obis, CosemObject] = {}
        for obj in objects:
            if obj.obis in self._by_obis:
                raise DlmsError(f"OBIS code {obis_text(obj.obis)} is mapped twice")
            self._by_obis[obj.obis] = obj

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._by_obis.values())

    def __len__(self) -> int:
        return len(self._by_obis)

    def find(self, obis: Obis) -> CosemObject | None:
        return self._by_obis.get(obis)


def obis_text(obis: Obis) -> str:
    a, b, c, d, e, f = obis
    return f"{a}.{b}.{c}.{d}.{e}.{f}"


def parse_obis(text: str) -> Obis:
    """'0.0.1.0.0.255' or '0-0:1.0.0.255' (five parts mean F=255) as a tuple."""
    parts = text.replace("-", ".").replace(":", ".").split(".")
    if len(parts) == 5:
        parts.append("255")
    if len(parts) != 6 or not all(p.isdigit() and int(p) <= 255 for p in parts):
        raise DlmsError(f"OBIS code {text!r} is not six numbers 0-255 like 0.0.1.0.0.255")
    a, b, c, d, e, f = (int(p) for p in parts)
    return (a, b, c, d, e, f)


def access_rights(obj: CosemObject, level: Level) -> bytes:
    """The access_rights element of an object-list entry, as ``level`` sees the object.

    Attribute access mode: 0 no access, 1 read, 2 write, 3 read and write;
    method access: 0 no access, 1 access (IC 15 version 1 enums).
    """
    attrs = []
    for index in range(1, max(obj.attributes, default=1) + 1):
        spec = obj.attributes.get(index)
        mode = 0
        if spec is not None:
            mode |= 1 if level >= spec.read else 0
            mode |= 2 if spec.set is not None and level >= spec.write else 0
        attrs.append(axdr.structure(axdr.integer(index), axdr.enum(mode), axdr.NULL))
    methods = [
        axdr.structure(axdr.integer(index), axdr.enum(1 if level >= spec.level else 0))
        for index, spec in sorted(obj.methods.items())
    ]
    return axdr.structure(axdr.array(attrs), axdr.array(methods))


def object_list(table: ObjectTable, level: Level) -> bytes:
    """IC 15 attribute 2: every object with its class, version, name and rights."""
    return axdr.array(
        axdr.structure(
            axdr.long_unsigned(obj.class_id),
            axdr.unsigned(obj.version),
            axdr.octet_string(obj.logical_name),
            access_rights(obj, level),
        )
        for obj in table
    )
