"""The meter's TID memory: the token identifiers of recently accepted tokens.

Every token that carries a TID (class 0, and class 2 subclasses 0, 1, 2, 5, 6
and 7) is checked against it before the meter acts:

* a TID below the smallest stored TID is **Old** (result 9);
* a TID that is stored is **Used** (result 10);
* otherwise the token may be accepted, and its TID is stored. When the memory
  is full the smallest TID is evicted, so the floor for "Old" rises.

The size is a meter design parameter that no public source states; it is
configurable here (default 50, at most 10,000). At manufacture the memory is
filled with the TID of the manufacture time, so tokens made before the meter
existed come out as Old. Filling all slots with that one TID and holding it once behave the
same: the smallest stored TID stays the manufacture TID until ``capacity``
newer tokens have been accepted. It is held once here.

A key change set with RO = 1 (the base-date rollover) empties the memory.
It stays empty: the first token on the new key is accepted whatever its TID,
since tokens made under the old key can no longer pass the CRC check.

    >>> memory = TidMemory.filled(100, capacity=3)
    >>> memory.verdict(99), memory.verdict(100), memory.verdict(101)
    (<ResultCode.OLD: 9>, <ResultCode.USED: 10>, None)
    >>> memory.remember(101).remember(102).remember(103).tids
    (101, 102, 103)
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

from sts.errors import RangeError
from sts.results import ResultCode
from sts.tokens.tid import check_tid

DEFAULT_CAPACITY = 50
MAX_CAPACITY = 10_000


@dataclass(frozen=True)
class TidMemory:
    """Up to ``capacity`` distinct TIDs, ascending."""

    capacity: int = DEFAULT_CAPACITY
    tids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        capacity = self.capacity
        if not isinstance(capacity, int) or isinstance(capacity, bool):
            raise RangeError(f"TID memory size {capacity!r} is not a whole number")
        if not 1 <= capacity <= MAX_CAPACITY:
            raise RangeError(f"TID memory size {capacity} is outside 1..{MAX_CAPACITY:,}")
        ordered = tuple(sorted(set(check_tid(tid) for tid in self.tids)))
        if len(ordered) > self.capacity:
            raise RangeError(f"TID memory holds {len(ordered)} TIDs; its size is {self.capacity}")
        object.__setattr__(self, "tids", ordered)

    @classmethod
    def filled(cls, tid: int, capacity: int = DEFAULT_CAPACITY) -> TidMemory:
        """The memory of a new meter: the manufacture TID, nothing else."""
        return cls(capacity, (tid,))

    @property
    def oldest(self) -> int | None:
        """The smallest stored TID (None when the memory is empty)."""
        return self.tids[0] if self.tids else None

    @property
    def newest(self) -> int | None:
        return self.tids[-1] if self.tids else None

    def verdict(self, tid: int) -> ResultCode | None:
        """OLD or USED if the TID must be refused, None if it is new to the meter."""
        if self.tids and tid < self.tids[0]:
            return ResultCode.OLD
        index = bisect.bisect_left(self.tids, tid)
        if index < len(self.tids) and self.tids[index] == tid:
            return ResultCode.USED
        return None

    def remember(self, tid: int) -> TidMemory:
        """The memory with ``tid`` stored, evicting the smallest TID when full."""
        if self.verdict(tid) is not None:
            raise RangeError(f"TID {tid} is old or used; only a new TID can be stored")
        tids = list(self.tids)
        bisect.insort(tids, tid)
        if len(tids) > self.capacity:
            del tids[0]
        return TidMemory(self.capacity, tuple(tids))

    def cleared(self) -> TidMemory:
        """The memory after an RO = 1 key change: empty."""
        return TidMemory(self.capacity, ())

    def to_dict(self) -> dict[str, Any]:
        return {"capacity": self.capacity, "tids": list(self.tids)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TidMemory:
        return cls(int(data["capacity"]), tuple(int(tid) for tid in data["tids"]))
