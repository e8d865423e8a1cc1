"""Billing records per TOU rate with net consumption: 31 days and 13 months.

Beside the credit engine's consumption records (:mod:`sts.meter.billing`),
the metering side closes, at each local midnight, the day's active energy
imported and exported, in total and per rate (1-8), and at each month's end
the month's. *Net consumption* is import minus export: negative when the
premises exported more than they drew. Counts are exact joules; readings are
whole Wh (each rounded down; net is taken from the joules, then rounded
towards minus infinity)::

    >>> b = RateBilling()
    >>> b.start(date(2026, 5, 4), [0] * 9, [0] * 9)
    >>> imp = [7_200_000, 3_600_000, 3_600_000] + [0] * 6   # 2 kWh: 1 at rate 1, 1 at rate 2
    >>> exp = [10_800_000, 10_800_000] + [0] * 7             # 3 kWh exported at rate 1
    >>> b.close_day(date(2026, 5, 5), imp, exp)
    >>> r = b.daily[-1]
    >>> r.import_wh, r.export_wh, r.net_wh, r.rate_import_wh(2)
    (2000, 3000, -1000, 1000)
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import date
from typing import Any

from sts.errors import FormatError
from sts.meter import strict
from sts.meter.obis import MAX_RATES

DAILY_RECORDS = 31
MONTHLY_RECORDS = 13
_WIDTH = MAX_RATES + 1


@dataclass(frozen=True)
class RateRecord:
    """One closed day (``label`` 'YYYY-MM-DD') or month ('YYYY-MM'): joules per rate
    (index 0 the total)."""

    label: str
    imported: tuple[int, ...]
    exported: tuple[int, ...]

    @property
    def import_wh(self) -> int:
        return self.imported[0] // 3600

    @property
    def export_wh(self) -> int:
        return self.exported[0] // 3600

    @property
    def net_wh(self) -> int:
        """Import minus export, Wh (negative: net export)."""
        return (self.imported[0] - self.exported[0]) // 3600

    def rate_import_wh(self, rate: int) -> int:
        return self.imported[rate] // 3600

    def rate_export_wh(self, rate: int) -> int:
        return self.exported[rate] // 3600

    def to_dict(self) -> list[Any]:
        return [self.label, list(self.imported), list(self.exported)]

    @classmethod
    def from_dict(cls, data: Any, path: str) -> RateRecord:
        if not isinstance(data, list) or len(data) != 3:
            raise FormatError(f"{path} is not [label, import per rate, export per rate]")
        label = strict.as_str(data[0], f"{path}[0]", 10)
        return cls(label, _counts(data[1], f"{path}[1]"), _counts(data[2], f"{path}[2]"))


def _counts(data: Any, path: str) -> tuple[int, ...]:
    items = strict.as_list(data, path, _WIDTH)
    if len(items) != _WIDTH:
        raise FormatError(f"{path} has {len(items)} counts; expected {_WIDTH} (total, rates 1-8)")
    counts = tuple(strict.as_int(v, f"{path}[{i}]", 0) for i, v in enumerate(items))
    if sum(counts[1:]) != counts[0]:
        raise FormatError(f"{path}: the rates do not add up to the total")
    return counts


def _delta(now: list[int], then: list[int]) -> tuple[int, ...]:
    return tuple(a - b for a, b in zip(now, then, strict=True))


class RateBilling:
    """Closed days and months, and the register snapshots the open ones started from."""

    def __init__(self) -> None:
        self.daily: deque[RateRecord] = deque(maxlen=DAILY_RECORDS)
        self.monthly: deque[RateRecord] = deque(maxlen=MONTHLY_RECORDS)
        self.day: date | None = None
        self.day_start: tuple[list[int], list[int]] = ([0] * _WIDTH, [0] * _WIDTH)
        self.month_start: tuple[list[int], list[int]] = ([0] * _WIDTH, [0] * _WIDTH)

    def start(self, day: date, imported: list[int], exported: list[int]) -> None:
        """Open ``day`` (and its month) at these register counts."""
        self.day = day
        self.day_start = (list(imported), list(exported))
        self.month_start = (list(imported), list(exported))

    def close_day(self, new_day: date, imported: list[int], exported: list[int]) -> None:
        """Close the open day (and its month when ``new_day`` is in another) at these counts."""
        old = self.day
        assert old is not None
        self.daily.append(
            RateRecord(
                old.isoformat(),
                _delta(imported, self.day_start[0]),
                _delta(exported, self.day_start[1]),
            )
        )
        self.day_start = (list(imported), list(exported))
        if (new_day.year, new_day.month) != (old.year, old.month):
            self.monthly.append(
                RateRecord(
                    f"{old.year:04d}-{old.month:02d}",
                    _delta(imported, self.month_start[0]),
                    _delta(exported, self.month_start[1]),
                )
            )
            self.month_start = (list(imported), list(exported))
        self.day = new_day

    def to_dict(self) -> dict[str, Any]:
        return {
            "day": None if self.day is None else self.day.isoformat(),
            "day_start": [list(self.day_start[0]), list(self.day_start[1])],
            "month_start": [list(self.month_start[0]), list(self.month_start[1])],
            "daily": [r.to_dict() for r in self.daily],
            "monthly": [r.to_dict() for r in self.monthly],
        }

    @classmethod
    def from_dict(cls, data: Any, path: str = "billing") -> RateBilling:
        d = strict.obj(data, path, ("day", "day_start", "month_start", "daily", "monthly"))
        b = cls()
        if d["day"] is not None:
            try:
                b.day = date.fromisoformat(strict.as_str(d["day"], f"{path}.day", 10))
            except ValueError:
                raise FormatError(f"{path}.day is {d['day']!r}; expected 'YYYY-MM-DD'") from None
        for name in ("day_start", "month_start"):
            pair = strict.as_list(d[name], f"{path}.{name}", 2)
            if len(pair) != 2:
                raise FormatError(f"{path}.{name} is not [import counts, export counts]")
            setattr(
                b, name, tuple(list(_counts(p, f"{path}.{name}[{i}]")) for i, p in enumerate(pair))
            )
        for name, limit in (("daily", DAILY_RECORDS), ("monthly", MONTHLY_RECORDS)):
            items = strict.as_list(d[name], f"{path}.{name}", limit)
            getattr(b, name).extend(
                RateRecord.from_dict(r, f"{path}.{name}[{i}]") for i, r in enumerate(items)
            )
        return b
