"""A meter as a COSEM logical device: its security settings, counters and clock.

:class:`LogicalDevice` is what the server core (:mod:`sts.meter.dlms.server`)
serves and what a transport saves: the meter, its object table, the LLS
passwords and suite-0 keys (:class:`SecuritySettings`), the invocation
counters (:class:`Counters`) and the server's notes beside the meter. The
object table is the one of the meter's service
(:func:`~sts.meter.dlms.objects.meter_objects`): a water or gas meter serves
volume registers and none of the electricity-only objects.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sts.meter.dlms.errors import ConfigError
from sts.meter.dlms.model import Context, Level, ObjectTable
from sts.meter.dlms.objects import after_change, meter_objects
from sts.meter.dlms.push import PushState
from sts.meter.meter import Meter

MIN_PDU_SIZE = 64


@dataclass(frozen=True)
class SecuritySettings:
    """A logical device's security: LLS passwords, suite-0 keys, system title, PDU size."""

    system_title: bytes
    passwords: Mapping[bytes, Level] = field(default_factory=dict)
    encryption_key: bytes | None = None
    authentication_key: bytes | None = None
    max_pdu_size: int = 1024

    def __post_init__(self) -> None:
        if len(self.system_title) != 8:
            raise ConfigError(f"the system title is {len(self.system_title)} octets; expected 8")
        for name, key in (
            ("encryption", self.encryption_key),
            ("authentication", self.authentication_key),
        ):
            if key is not None and len(key) != 16:
                raise ConfigError(f"the {name} key is {len(key)} octets; suite 0 takes 16")
        if not MIN_PDU_SIZE <= self.max_pdu_size <= 0xFFFF:
            raise ConfigError(f"max PDU size {self.max_pdu_size} is not {MIN_PDU_SIZE}-65535")
        for password, level in self.passwords.items():
            if not password or len(password) > 64 or level is Level.PUBLIC:
                raise ConfigError("an LLS password is 1-64 octets for a management level")

    @property
    def hls(self) -> bool:
        return self.encryption_key is not None and self.authentication_key is not None


@dataclass
class Counters:
    """Invocation counters of the suite-0 keys (kept with the device's settings)."""

    client_next: int = 0  # the lowest client invocation counter still accepted
    server: int = 1  # the server's next invocation counter


@dataclass
class LogicalDevice:
    """One meter as a COSEM logical device (management logical device, server SAP 1).

    ``clock`` gives the time of each request: None runs at the meter's own
    clock (the meter's time stands still between requests); a function such
    as the wall clock makes the meter run up to that time first.
    """

    meter: Meter
    settings: SecuritySettings
    counters: Counters = field(default_factory=Counters)
    clock: Callable[[], datetime] | None = None
    random_bytes: Callable[[int], bytes] = os.urandom
    table: ObjectTable | None = None  # None: the objects of the meter's service
    notes: dict[str, Any] = field(default_factory=dict)
    after_change: Callable[[Context], None] = after_change
    changed: bool = False  # the meter changed since the transport last saved it
    counters_changed: bool = False  # an invocation counter moved since the last save

    def __post_init__(self) -> None:
        if self.table is None:
            self.table = meter_objects(self.meter.service)
        latest = self.meter.events.latest(1)
        self.notes.setdefault("push", PushState(seen=latest[0] if latest else None))

    @property
    def objects(self) -> ObjectTable:
        """The object table (set from the meter's service when none was given)."""
        assert self.table is not None  # __post_init__ sets it
        return self.table

    def now(self) -> datetime:
        if self.clock is None:
            return self.meter.clock
        return max(self.clock(), self.meter.clock)
