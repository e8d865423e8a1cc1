"""Load profiles (surveys), shaped like DLMS/COSEM class 7 "profile generic".

A :class:`Survey` captures a row every ``period_min`` minutes (1-60): the
capture time and the value of each of its *capture objects*, the channels,
chosen from the meter's registers by OBIS code (:mod:`sts.meter.obis`; up to
60). Energy channels capture the register's reading at that instant (whole
Wh, varh, VAh); instantaneous channels the value of the load in force during
the interval that ends there. Captures fall on whole multiples of the period
counted from the Unix epoch (so a 15-minute survey captures at :00, :15, :30,
:45 in any whole-hour time zone); the daily survey captures at each local
midnight. The buffer is a ring of ``capacity`` rows (class 7 ``sort_method``
FIFO): when full, the oldest row falls off.

**Storage** (decision). A year of 15-minute rows of 8 channels is 35,040 rows,
280,320 values; three such surveys would make a JSON list of nearly a million
numbers that every command parses and writes again. Instead each survey
holds its rows in packed integer arrays (:mod:`array`, 8-byte signed), and
the state file keeps them as one zlib-compressed, base64-encoded string per
array: the state stays one atomic file, and loading or saving a full year is
a few milliseconds of C code (decode, decompress, ``frombytes``) instead of a
million Python objects, which keeps ``sts meter enter`` fast. Each packed
text is decompressed once per process however often it is checked, and rows
read from a file stay bytes until a command uses them (a capture, a read):
entering a token checks every survey but builds none of their arrays.

    >>> from sts.meter.obis import ObisCode
    >>> s = Survey(SurveyConfig((ObisCode.parse("1.0.1.8.0.255"),), 15, capacity=2))
    >>> for k in range(3):
    ...     s.capture(900 * (k + 1), [10 * k])
    >>> s.rows()
    [(1800, (10,)), (2700, (20,))]
"""

from __future__ import annotations

import base64
import sys
import zlib
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sts.errors import FormatError, RangeError
from sts.meter import strict
from sts.meter.obis import SPECS, ObisCode

MAX_SURVEYS = 3
MAX_CHANNELS = 60
MAX_VALUES = 2_000_000  # per survey: channels x rows (16 MB of packed values at most)
DAILY = 0  # period_min of the daily survey: one row per local midnight
DEFAULT_CAPACITY = 35_040  # a year of 15-minute rows
DAILY_CHANNELS = (
    "1.0.1.8.0.255",
    "1.0.2.8.0.255",
    *(f"1.0.{c}.8.{r}.255" for c in (1, 2) for r in range(1, 9)),
)


@dataclass(frozen=True)
class SurveyConfig:
    """Channels (OBIS codes), capture period in minutes (0: daily) and ring capacity in rows."""

    channels: tuple[ObisCode, ...]
    period_min: int = 15
    capacity: int = DEFAULT_CAPACITY

    def __post_init__(self) -> None:
        if not 1 <= len(self.channels) <= MAX_CHANNELS:
            raise RangeError(f"a survey has 1 to {MAX_CHANNELS} channels, not {len(self.channels)}")
        for code in self.channels:
            if code not in SPECS:
                raise RangeError(f"channel {code} is not one of the meter's registers")
        if len(set(self.channels)) != len(self.channels):
            raise RangeError("a survey lists a channel twice")
        if not isinstance(self.period_min, int) or not 0 <= self.period_min <= 60:
            raise RangeError(f"capture period {self.period_min!r} min is not 1-60 (0: daily)")
        if not isinstance(self.capacity, int) or self.capacity < 1:
            raise RangeError(f"survey capacity {self.capacity!r} rows must be at least 1")
        if self.capacity * len(self.channels) > MAX_VALUES:
            raise RangeError(
                f"{self.capacity} rows of {len(self.channels)} channels is more than "
                f"{MAX_VALUES:,} values a survey may hold"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "channels": [str(c) for c in self.channels],
            "period_min": self.period_min,
            "capacity": self.capacity,
        }

    @classmethod
    def from_dict(cls, data: Any, path: str) -> SurveyConfig:
        d = strict.obj(data, path, ("channels",), ("period_min", "capacity"))
        items = strict.as_list(d["channels"], f"{path}.channels", MAX_CHANNELS)
        codes = []
        for i, text in enumerate(items):
            try:
                codes.append(ObisCode.parse(text))
            except FormatError as exc:
                raise FormatError(f"{path}.channels[{i}]: {exc}") from None
        period = strict.as_int(d.get("period_min", 15), f"{path}.period_min", 0, 60)
        capacity = strict.as_int(d.get("capacity", DEFAULT_CAPACITY), f"{path}.capacity", 1)
        try:
            return cls(tuple(codes), period, capacity)
        except RangeError as exc:
            raise FormatError(f"{path}: {exc}") from None


def _pack(values: array) -> str:
    if sys.byteorder == "big":  # pragma: no cover - the file is little-endian everywhere
        values = array("q", values)
        values.byteswap()
    return base64.b64encode(zlib.compress(values.tobytes(), 1)).decode("ascii")


@lru_cache(maxsize=2 * (MAX_SURVEYS + 1))
def _inflate(text: str) -> bytes | None:
    """The bytes packed in ``text`` (None: not base64 zlib data).

    Memoised: a command reads each survey's text more than once (the state schema
    checks the metering section by building it, the meter builds it, and a save
    checks what it writes, which keeps the text of an unchanged survey), and
    decompressing a year of rows is the bulk of loading a state file. A string
    caches its hash, so a repeated lookup costs nothing.
    """
    try:
        return zlib.decompress(base64.b64decode(text, validate=True), bufsize=65536)
    except (ValueError, zlib.error):
        return None


def _unpack(text: Any, path: str, limit: int) -> bytes:
    """The checked bytes of packed values (made into an array only when rows are used)."""
    if not isinstance(text, str):
        raise FormatError(f"{path} is not packed text")
    raw = _inflate(text)
    if raw is None:
        raise FormatError(f"{path} is not base64 zlib data")
    if len(raw) % 8 or len(raw) // 8 > limit:
        raise FormatError(f"{path} holds {len(raw)} bytes; expected at most {limit} 8-byte values")
    return raw


def _array(raw: bytes) -> array:
    values = array("q")
    values.frombytes(raw)
    if sys.byteorder == "big":  # pragma: no cover
        values.byteswap()
    return values


class Survey:
    """A bounded ring of captured rows (see the module docstring)."""

    def __init__(
        self,
        config: SurveyConfig,
        times: array | None = None,
        values: array | None = None,
        head: int = 0,
        next_at: int | None = None,
    ) -> None:
        self.config = config
        self.width = len(config.channels)
        self._times = times if times is not None else array("q")
        self._values = values if values is not None else array("q")
        self.head = head  # where the next row goes once the ring is full
        self.next_at = next_at  # epoch second of the next capture (None: not started)
        # the packed text the arrays were read from, kept until a capture changes them, so
        # that a command which adds no row (a token entered) does not compress them again
        self._packed: tuple[str, str] | None = None
        # rows read from a file stay bytes until something uses them (a token entered
        # never does): (row count, times bytes, values bytes)
        self._raw: tuple[int, bytes, bytes] | None = None

    @classmethod
    def _lazy(cls, config: SurveyConfig, raw: tuple[bytes, bytes], head: int, next_at: int | None):
        survey = cls(config, None, None, head, next_at)
        survey._raw = (len(raw[0]) // 8, *raw)
        return survey

    def _materialise(self) -> None:
        if self._raw is not None:
            _, times, values = self._raw
            self._times, self._values, self._raw = _array(times), _array(values), None

    @property
    def times(self) -> array:
        """Capture times (epoch seconds) in ring order."""
        self._materialise()
        return self._times

    @property
    def values(self) -> array:
        """Captured values, ``width`` per row, in ring order."""
        self._materialise()
        return self._values

    @property
    def daily(self) -> bool:
        return self.config.period_min == DAILY

    def __len__(self) -> int:
        return self._raw[0] if self._raw is not None else len(self._times)

    def capture(self, t: int, row: Sequence[int]) -> None:
        """Store one row captured at ``t``."""
        self._packed = None
        if self._raw is not None:
            self._materialise()
        if len(self._times) < self.config.capacity:
            self._times.append(t)
            self._values.extend(row)
            return
        h = self.head
        self._times[h] = t
        w = self.width
        self._values[h * w : h * w + w] = array("q", row)
        self.head = (h + 1) % self.config.capacity

    def rows(self, start: int | None = None, end: int | None = None) -> list[tuple[int, tuple]]:
        """Rows oldest first, as (capture time, values), within [start, end] when given."""
        times, values = self.times, self.values
        n = len(times)
        order = range(n) if n < self.config.capacity else ((self.head + k) % n for k in range(n))
        w = self.width
        out = []
        for i in order:
            t = times[i]
            if (start is None or t >= start) and (end is None or t <= end):
                out.append((t, tuple(values[i * w : i * w + w])))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(),
            "head": self.head,
            "next_at": self.next_at,
            **dict(zip(("times", "values"), self._pack_arrays(), strict=True)),
        }

    def _pack_arrays(self) -> tuple[str, str]:
        if self._packed is None:
            self._packed = (_pack(self.times), _pack(self.values))
        return self._packed

    @classmethod
    def from_dict(cls, data: Any, path: str) -> Survey:
        d = strict.obj(data, path, ("config", "head", "next_at", "times", "values"))
        config = SurveyConfig.from_dict(d["config"], f"{path}.config")
        times = _unpack(d["times"], f"{path}.times", config.capacity)
        values = _unpack(d["values"], f"{path}.values", config.capacity * len(config.channels))
        rows, count = len(times) // 8, len(values) // 8
        if count != rows * len(config.channels):
            raise FormatError(f"{path}: {count} values do not fill {rows} rows")
        full = rows == config.capacity
        head = strict.read_int(d, "head", path, 0, config.capacity - 1 if full else 0)
        next_at = d["next_at"]
        if next_at is not None:
            strict.as_int(next_at, f"{path}.next_at", 0)
        survey = cls._lazy(config, (times, values), head, next_at)
        survey._packed = (d["times"], d["values"])
        return survey
