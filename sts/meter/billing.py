"""Billing records: energy used per local day (the last 31) and per month (the last 13).

The credit engine adds each stretch of consumption to the day and month in
progress and closes them at local midnight. Closed records are kept newest
last; older ones fall off, as in the meter's memory::

    >>> from datetime import date
    >>> records = BillingRecords()
    >>> records.close_day(date(2025, 1, 31), 7_200_000)
    >>> records.close_month(2025, 1, 360_000_000)
    >>> records.daily()[0].kwh, records.monthly()[0].kwh
    (Decimal('2.000'), Decimal('100.000'))
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sts.meter.units import j_to_kwh

DAILY_RECORDS = 31
MONTHLY_RECORDS = 13


@dataclass(frozen=True)
class DailyRecord:
    """Energy used on one local day."""

    day: date
    joules: int

    @property
    def kwh(self) -> Decimal:
        return j_to_kwh(self.joules)


@dataclass(frozen=True)
class MonthlyRecord:
    """Energy used in one local calendar month."""

    year: int
    month: int
    joules: int

    @property
    def kwh(self) -> Decimal:
        return j_to_kwh(self.joules)


class BillingRecords:
    """The closed daily and monthly totals."""

    def __init__(
        self,
        daily: list[DailyRecord] | None = None,
        monthly: list[MonthlyRecord] | None = None,
    ) -> None:
        self._daily: deque[DailyRecord] = deque(daily or (), maxlen=DAILY_RECORDS)
        self._monthly: deque[MonthlyRecord] = deque(monthly or (), maxlen=MONTHLY_RECORDS)

    def close_day(self, day: date, joules: int) -> None:
        self._daily.append(DailyRecord(day, joules))

    def close_month(self, year: int, month: int, joules: int) -> None:
        self._monthly.append(MonthlyRecord(year, month, joules))

    def daily(self) -> tuple[DailyRecord, ...]:
        """Closed days, oldest first (at most 31)."""
        return tuple(self._daily)

    def monthly(self) -> tuple[MonthlyRecord, ...]:
        """Closed months, oldest first (at most 13)."""
        return tuple(self._monthly)

    def to_dict(self) -> dict[str, Any]:
        return {
            "daily": [[r.day.isoformat(), r.joules] for r in self._daily],
            "monthly": [[r.year, r.month, r.joules] for r in self._monthly],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BillingRecords:
        return cls(
            [DailyRecord(date.fromisoformat(d), j) for d, j in data["daily"]],
            [MonthlyRecord(y, m, j) for y, m, j in data["monthly"]],
        )
