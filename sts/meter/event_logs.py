"""The five event logs of the Magno 22, each a bounded profile of (code, time, details).

DLMS/COSEM keeps each event log as a class 7 profile whose capture objects
are the clock and an event code register; here each :class:`EventLog` is that
profile: the newest ``capacity`` entries (100 by default), oldest first.

The logs and their event codes (this toolkit's numbering, one table for a
DLMS server to serve; the text of each entry says what happened)::

    standard       1 power down, 2 power up, 3 time synchronised, 4 tariff input (dual
                     resource signal) on, 5 tariff input off
    fraud         40 terminal cover opened, 44 meter cover opened, 46 module cover
                     opened (details say "with power" or "without power"),
                  47 magnetic field, 48 current reversal, 49 neutral current mismatch,
                  50 tamper cleared
    power quality 76 under voltage (sag), 77 over voltage (swell), 78 voltage normal,
                  80 over current, 81 power failure, 82 power restored,
                  83 current imbalance (phase and neutral current apart), 84 current balanced
    failure       90 memory error, 91 relay error, 92 battery low, 93 clock invalid,
                  94 fault cleared, 95 over temperature (terminals above the fire
                  threshold), 96 temperature normal, 97 fire alarm (input), 98 fire alarm
                  cleared
    security     100 parameter changed, 101 clock adjusted, 102 key changed,
                 103 token rejected, 104 payment mode changed, 105 disconnect control
                     command, 106 relay opened by self-protection, 107 relay reconnected,
                 108 keypad code rejected (a wrong PIN)

    >>> logs = EventLogs()
    >>> entry = logs.record(0, Code.METER_COVER_OPENED, "without power")
    >>> logs.log(LogName.FRAUD)[0].code, Code(44).log
    (44, <LogName.FRAUD: 'fraud'>)
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any

from sts.errors import FormatError
from sts.meter import strict

DEFAULT_CAPACITY = 100
MAX_CAPACITY = 1000


class LogName(StrEnum):
    STANDARD = "standard"
    FRAUD = "fraud"
    POWER_QUALITY = "power_quality"
    FAILURE = "failure"
    SECURITY = "security"


class Code(IntEnum):
    """Event codes; the hundreds and tens place each in its log (see :attr:`log`)."""

    POWER_DOWN = 1
    POWER_UP = 2
    TIME_SYNCHRONISED = 3
    TARIFF_INPUT_ON = 4
    TARIFF_INPUT_OFF = 5
    TERMINAL_COVER_OPENED = 40
    METER_COVER_OPENED = 44
    MODULE_COVER_OPENED = 46
    MAGNETIC_FIELD = 47
    CURRENT_REVERSAL = 48
    NEUTRAL_MISMATCH = 49
    TAMPER_CLEARED = 50
    UNDER_VOLTAGE = 76
    OVER_VOLTAGE = 77
    VOLTAGE_NORMAL = 78
    OVER_CURRENT = 80
    POWER_FAILURE = 81
    POWER_RESTORED = 82
    CURRENT_IMBALANCE = 83
    CURRENT_BALANCED = 84
    MEMORY_ERROR = 90
    RELAY_ERROR = 91
    BATTERY_LOW = 92
    CLOCK_INVALID = 93
    FAULT_CLEARED = 94
    OVER_TEMPERATURE = 95
    TEMPERATURE_NORMAL = 96
    FIRE_ALARM = 97
    FIRE_ALARM_CLEARED = 98
    PARAMETER_CHANGED = 100
    CLOCK_ADJUSTED = 101
    KEY_CHANGED = 102
    TOKEN_REJECTED = 103
    PAYMENT_MODE_CHANGED = 104
    DISCONNECT_COMMAND = 105
    PROTECTION_OPENED = 106
    RECONNECTED = 107
    KEYPAD_CODE_REJECTED = 108

    @property
    def log(self) -> LogName:
        if self < 40:
            return LogName.STANDARD
        if self < 76:
            return LogName.FRAUD
        if self < 90:
            return LogName.POWER_QUALITY
        if self < 100:
            return LogName.FAILURE
        return LogName.SECURITY

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", " ")


@dataclass(frozen=True)
class Entry:
    """One event: its code, the epoch second it happened, and details."""

    code: int
    at: int
    detail: str

    def to_dict(self) -> list[Any]:
        return [self.code, self.at, self.detail]


class EventLog:
    """One bounded log, oldest entry first."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self.entries: deque[Entry] = deque(maxlen=capacity)

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> Entry:
        return self.entries[index]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.entries)


class EventLogs:
    """The five logs; :meth:`record` files an event in the log its code belongs to."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.logs = {name: EventLog(capacity) for name in LogName}

    def log(self, name: LogName | str) -> EventLog:
        try:
            return self.logs[LogName(name)]
        except ValueError:
            names = ", ".join(n.value for n in LogName)
            raise FormatError(f"event log {name!r} is not one of {names}") from None

    def record(self, t: int, code: Code, detail: str = "") -> Entry:
        entry = Entry(int(code), t, detail)
        self.logs[code.log].entries.append(entry)
        return entry

    def to_dict(self) -> dict[str, Any]:
        return {
            "capacity": self.logs[LogName.STANDARD].capacity,
            **{name.value: [e.to_dict() for e in log.entries] for name, log in self.logs.items()},
        }

    @classmethod
    def from_dict(cls, data: Any, path: str = "events") -> EventLogs:
        d = strict.obj(data, path, ("capacity", *(n.value for n in LogName)))
        logs = cls(strict.read_int(d, "capacity", path, 1, MAX_CAPACITY))
        codes = {int(c) for c in Code}
        for name in LogName:
            where = f"{path}.{name.value}"
            for i, item in enumerate(
                strict.as_list(d[name.value], where, logs.logs[name].capacity)
            ):
                if not isinstance(item, list) or len(item) != 3:
                    raise FormatError(f"{where}[{i}] is not [code, time, detail]")
                code = strict.as_int(item[0], f"{where}[{i}][0]")
                if code not in codes or Code(code).log is not name:
                    raise FormatError(f"{where}[{i}] has code {code}, not one of the {name} log's")
                at = strict.as_int(item[1], f"{where}[{i}][1]", 0)
                detail = strict.as_str(item[2], f"{where}[{i}][2]")
                logs.logs[name].entries.append(Entry(code, at, detail))
        return logs
