"""Profile generic (IC 7) over rows the meter keeps, with selective access.

A profile is a table: its columns are capture objects (class, OBIS,
attribute, data index), its rows come from a function of the
:class:`~sts.meter.dlms.model.Context`, oldest first. :func:`profile_generic`
makes the COSEM object; mapping another of the meter's logs or surveys is one
call with its columns and its rows::

    profile_generic((1, 0, 99, 2, 0, 255), [CLOCK_COLUMN, Column(3, DELTA, 2)], daily_rows,
                    capture_period=86400, capacity=31)

The buffer (attribute 2) can be read whole or by selective access
(IEC 62056-6-2, IC 7):

* **by range** (access selector 1): ``{restricting_object, from_value,
  to_value, selected_values}``: the rows whose time (the restricting object
  must be the clock column) lies from ``from_value`` to ``to_value``
  inclusive, and of them the ``selected_values`` columns (all when empty);
* **by entry** (access selector 2): ``{from_entry, to_entry,
  from_selected_value, to_selected_value}``: rows and columns counted from 1,
  0 meaning "to the last".

Times compare as the meter keeps them: an aware time as UTC, a time without
a deviation as it is. A selection that names an unknown column or a
restricting object other than the clock is refused (scope of access
violated); a range or entry outside the buffer gives an empty array.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dlms_cosem.dlms_data import AbstractDlmsData, DataArray, DataStructure
from dlms_cosem.time import datetime_from_bytes

from sts.meter.dlms import axdr
from sts.meter.dlms.errors import AccessResult, DlmsError
from sts.meter.dlms.model import Attribute, Context, CosemObject, Level, Obis, cosem_object

BY_RANGE = 1
BY_ENTRY = 2
FIFO = 1


@dataclass(frozen=True)
class Column:
    """A capture object: which attribute (and element of it) a column holds."""

    class_id: int
    obis: Obis
    attribute: int
    data_index: int = 0

    def encode(self) -> bytes:
        return axdr.structure(
            axdr.long_unsigned(self.class_id),
            axdr.octet_string(bytes(self.obis)),
            axdr.integer(self.attribute),
            axdr.long_unsigned(self.data_index),
        )


CLOCK_COLUMN = Column(8, (0, 0, 1, 0, 0, 255), 2)


@dataclass(frozen=True)
class Row:
    """One buffer entry: its time (for range selection) and one encoded value per column."""

    time: datetime | None
    values: tuple[bytes, ...]


class LazyRow:
    """A buffer entry whose values are encoded only when a selection picks it (a year of
    15-minute survey rows is 35,040 entries; a range or entry read wants a few)."""

    __slots__ = ("_encode", "_raw", "_values", "time")

    def __init__(
        self, time: datetime | None, raw: Any, encode: Callable[[Any], tuple[bytes, ...]]
    ) -> None:
        self.time = time
        self._raw = raw
        self._encode = encode
        self._values: tuple[bytes, ...] | None = None

    @property
    def values(self) -> tuple[bytes, ...]:
        if self._values is None:
            self._values = self._encode(self._raw)
        return self._values


def _scope(message: str) -> DlmsError:
    return DlmsError(message, AccessResult.SCOPE_OF_ACCESS_VIOLATED)


def _comparable(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when


def _column(value: AbstractDlmsData) -> tuple[int, Obis, int, int]:
    items = value.value if isinstance(value, DataStructure) else None
    if not items or len(items) != 4:
        raise _scope("a capture object is a structure of 4")
    class_id, name, attribute, index = (item.to_python() for item in items)
    if not isinstance(name, bytes | bytearray) or len(name) != 6:
        raise _scope("a capture object's logical name is 6 octets")
    a, b, c, d, e, f = bytes(name)
    return int(class_id), (a, b, c, d, e, f), int(attribute), int(index)


def _time(value: AbstractDlmsData) -> datetime:
    raw = value.to_python()
    if not isinstance(raw, bytes | bytearray) or len(raw) != 12:
        raise _scope("a range bound is a 12-octet date-time")
    try:
        when, _status = datetime_from_bytes(bytes(raw))
    except Exception:
        raise _scope("a range bound is not a date-time") from None
    return _comparable(when)


def _integers(value: AbstractDlmsData, count: int) -> list[int]:
    items = value.value if isinstance(value, DataStructure) else None
    if not items or len(items) != count:
        raise _scope(f"the selection is a structure of {count}")
    numbers = [item.to_python() for item in items]
    if not all(isinstance(n, int) and n >= 0 for n in numbers):
        raise _scope("the selection's numbers are whole and not negative")
    return numbers


def select(
    columns: Sequence[Column],
    rows: Sequence[Row | LazyRow],
    selector: int | None,
    parameters: Any,
) -> bytes:
    """The buffer (array of structures) the selection gives."""
    picked = list(range(len(columns)))
    chosen = list(rows)
    if selector == BY_RANGE:
        items = parameters.value if isinstance(parameters, DataStructure) else None
        if not items or len(items) != 4:
            raise _scope("a range descriptor is a structure of 4")
        restricting = _column(items[0])
        if restricting[:3] != (CLOCK_COLUMN.class_id, CLOCK_COLUMN.obis, CLOCK_COLUMN.attribute):
            raise _scope("only the clock restricts a range")
        low, high = _time(items[1]), _time(items[2])
        chosen = [r for r in chosen if r.time is not None and low <= _comparable(r.time) <= high]
        wanted = items[3].value if isinstance(items[3], DataArray) else None
        if wanted is None:
            raise _scope("selected_values is an array of capture objects")
        if wanted:
            known = {
                (c.class_id, c.obis, c.attribute, c.data_index): i for i, c in enumerate(columns)
            }
            picked = []
            for item in wanted:
                key = _column(item)
                if key not in known:
                    raise _scope("a selected value is not one of the profile's columns")
                picked.append(known[key])
    elif selector == BY_ENTRY:
        first, last, first_column, last_column = _integers(parameters, 4)
        if first == 0 or first_column == 0:
            raise _scope("entries and values are counted from 1")
        chosen = chosen[first - 1 : last or None]
        picked = picked[first_column - 1 : last_column or None]
    elif selector is not None:
        raise _scope(f"access selector {selector} is not 1 (range) or 2 (entry)")
    return axdr.array(axdr.structure(*(row.values[i] for i in picked)) for row in chosen)


def profile_generic(
    obis: Obis,
    columns: Sequence[Column],
    rows: Callable[[Context], Sequence[Row]],
    *,
    capture_period: int,
    capacity: int | Callable[[Context], int],
    read: Level = Level.READER,
) -> CosemObject:
    """IC 7 (version 1): buffer, capture objects, period, FIFO, entries in use and capacity."""
    captures = axdr.array(column.encode() for column in columns)
    unsorted = Column(0, (0, 0, 0, 0, 0, 0), 0).encode()

    def buffer(ctx: Context, selector: int | None = None, parameters: Any = None) -> bytes:
        return select(columns, rows(ctx), selector, parameters)

    return cosem_object(
        obis,
        7,
        1,
        {
            2: Attribute(buffer, read, selective=buffer),
            3: Attribute(lambda _c: captures, read),
            4: Attribute(lambda _c: axdr.double_long_unsigned(capture_period), read),
            5: Attribute(lambda _c: axdr.enum(FIFO), read),
            6: Attribute(lambda _c: unsorted, read),
            7: Attribute(lambda c: axdr.double_long_unsigned(len(rows(c))), read),
            8: Attribute(
                lambda c: axdr.double_long_unsigned(
                    capacity(c) if callable(capacity) else capacity
                ),
                read,
            ),
        },
        read=read,
    )
