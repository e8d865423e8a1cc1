"""Push setup (IC 40): the meter tells a head-end of its alarms by DataNotification.

The push setup object 0.0.25.9.0.255 names what a push carries (its
``push_object_list``: the push setup's own name, the logical device name, the
clock and the latest event code) and where it goes (``send_destination_and_method``:
TCP, ``host:port``, A-XDR APDUs; set by an admin client). A push is sent

* on an alarm: after a request that changed the meter, when the meter's
  event log gained a tamper, credit low, credit exhausted or relay opened
  event (:data:`ALARMS`);
* when a client invokes method 1 (``push``).

The core only queues the DataNotification APDUs (:meth:`PushState.take`);
the transport delivers them (:func:`deliver`: one TCP connection, the wrapper
from server wPort 1 to client wPort 1, no retries). The destination and the
alarms already pushed live as long as the server runs.

dlms-cosem's ``DataNotification.to_bytes`` writes the date-time with a
presence octet 01 where IEC 62056-5-3 has its length 0C; the notification is
written here (its parser reads both).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dlms_cosem.dlms_data import AbstractDlmsData, DataStructure
from dlms_cosem.time import datetime_to_bytes

from sts.meter.dlms import axdr
from sts.meter.dlms.errors import TypeUnmatched
from sts.meter.dlms.model import Attribute, Context, CosemObject, Level, Method, cosem_object
from sts.meter.dlms.wrapper import wrap
from sts.meter.events import Event, EventKind

PUSH_SETUP = (0, 0, 25, 9, 0, 255)
ALARMS = frozenset(
    {EventKind.TAMPER, EventKind.CREDIT_LOW, EventKind.CREDIT_EXHAUSTED, EventKind.RELAY_OPENED}
)
TCP = 0
AXDR = 0
MAX_DESTINATION = 255


@dataclass
class PushState:
    """The push setup's destination, the last event looked at, and the queued pushes."""

    destination: str = ""
    seen: Event | None = None
    queued: list[bytes] = field(default_factory=list)
    invoke_id: int = 0

    def take(self) -> list[tuple[str, bytes]]:
        """The pushes to deliver now (destination, APDU); the queue empties."""
        out = [(self.destination, apdu) for apdu in self.queued if self.destination]
        self.queued.clear()
        return out


def _state(ctx: Context) -> PushState:
    state = ctx.notes.get("push")
    if state is None:
        state = ctx.notes["push"] = PushState(seen=_latest(ctx))
    return state


def _latest(ctx: Context) -> Event | None:
    latest = ctx.meter.events.latest(1)
    return latest[0] if latest else None


def notification(ctx: Context, body: bytes, state: PushState, when: datetime) -> bytes:
    """A Data-Notification: long invoke id, the date-time (0C + 12 octets), the body."""
    state.invoke_id = (state.invoke_id + 1) % (1 << 24)
    return b"\x0f" + state.invoke_id.to_bytes(4, "big") + b"\x0c" + datetime_to_bytes(when) + body


def check_alarms(ctx: Context, body: Any) -> None:
    """Queue a push when the event log gained an alarm since it was last looked at."""
    state = _state(ctx)
    events = list(ctx.meter.events)
    start = 0
    if state.seen is not None:
        for index in range(len(events) - 1, -1, -1):
            if events[index] is state.seen:
                start = index + 1
                break
    fresh = events[start:]
    state.seen = events[-1] if events else None
    if state.destination and any(event.kind in ALARMS for event in fresh):
        state.queued.append(notification(ctx, body(ctx), state, ctx.now))


def push_setup(objects: list[tuple[int, tuple[int, ...], int]], values: Any) -> CosemObject:
    """IC 40 (version 0) pushing ``objects`` (class, OBIS, attribute), read by ``values``."""
    object_list = axdr.array(
        axdr.structure(
            axdr.long_unsigned(class_id),
            axdr.octet_string(bytes(obis)),
            axdr.integer(attribute),
            axdr.long_unsigned(0),
        )
        for class_id, obis, attribute in objects
    )

    def destination(ctx: Context) -> bytes:
        where = _state(ctx).destination.encode("ascii")
        return axdr.structure(axdr.enum(TCP), axdr.octet_string(where), axdr.enum(AXDR))

    def set_destination(ctx: Context, value: AbstractDlmsData) -> None:
        items = value.value if isinstance(value, DataStructure) else None
        if not items or len(items) != 3:
            raise TypeUnmatched("send_destination_and_method is a structure of 3")
        service, where, message = (item.to_python() for item in items)
        if service != TCP or message != AXDR:
            raise TypeUnmatched("this meter pushes A-XDR APDUs over TCP only (0, ..., 0)")
        text = (
            bytes(where).decode("ascii", "replace") if isinstance(where, bytes | bytearray) else ""
        )
        host, _, port = text.rpartition(":")
        if text and (not host or not port.isdigit() or not 0 < int(port) < 65536):
            raise TypeUnmatched(f"destination {text!r} is not HOST:PORT")
        if len(text) > MAX_DESTINATION:
            raise TypeUnmatched(f"destination is {len(text)} characters; at most 255")
        _state(ctx).destination = text

    def push(ctx: Context, _value: AbstractDlmsData | None) -> bytes | None:
        state = _state(ctx)
        if state.destination:
            state.queued.append(notification(ctx, values(ctx), state, ctx.now))
        return None

    return cosem_object(
        PUSH_SETUP,
        40,
        0,
        {
            2: Attribute(lambda _c: object_list),
            3: Attribute(destination, Level.READER, set_destination, Level.ADMIN),
            4: Attribute(lambda _c: axdr.array([])),  # communication window: always
            5: Attribute(lambda _c: axdr.long_unsigned(0)),  # randomisation start interval
            6: Attribute(lambda _c: axdr.unsigned(0)),  # number of retries
            7: Attribute(lambda _c: axdr.long_unsigned(0)),  # repetition delay
        },
        {1: Method(push, Level.OPERATOR)},
    )


def pending(notes: dict[str, Any]) -> list[tuple[str, bytes]]:
    """The pushes the core has queued for a device (see :meth:`PushState.take`)."""
    state = notes.get("push")
    return state.take() if isinstance(state, PushState) else []


async def deliver(destination: str, apdu: bytes) -> None:
    """One push: connect, send the wrapped APDU, close; failures are dropped (no retries)."""
    host, _, port = destination.rpartition(":")
    with contextlib.suppress(OSError, ValueError):
        _reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(wrap(1, 1, apdu))
        await writer.drain()
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
