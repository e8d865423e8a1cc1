"""HDLC on a pseudo-terminal: the meter as a serial device for optical-probe tools.

:class:`PtyServer` opens a pseudo-terminal pair, sets the terminal side raw
and serves HDLC (:mod:`sts.meter.dlms.hdlc`) on it from an asyncio event
loop. A client opens :attr:`PtyServer.path` (``/dev/pts/N``) as it would an
optical probe's serial port; one client at a time, each starting its link
with SNRM. The server keeps its own descriptor of the terminal side open, so
a client closing the port does not hang the line up. POSIX only.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Mapping

from sts.meter.dlms.device import LogicalDevice
from sts.meter.dlms.hdlc import HdlcLink
from sts.meter.dlms.push import deliver, pending
from sts.meter.dlms.server import Session

READ_SIZE = 4096


class PtyServer:
    """Serves ``devices`` (server SAP -> device) with HDLC on a new pseudo-terminal."""

    def __init__(
        self,
        devices: Mapping[int, LogicalDevice],
        on_change: Callable[[LogicalDevice], None] | None = None,
    ) -> None:
        import tty

        self.devices = dict(devices)
        self.on_change = on_change
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.path = os.ttyname(self._slave)
        self._link = HdlcLink(self._open_session)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pushes: set[asyncio.Task[None]] = set()

    def _open_session(self, client_sap: int, server_sap: int) -> Session | None:
        device = self.devices.get(server_sap)
        return None if device is None else Session(device, client_sap, server_sap)

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        loop.add_reader(self._master, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self._master, READ_SIZE)
        except OSError:
            return
        try:
            reply = self._link.feed(data)
        except Exception:  # a bug below must not take the server down: start the line afresh
            self._link = HdlcLink(self._open_session)
            return
        session = self._link.session
        if session is not None:
            device = session.device
            if (device.changed or device.counters_changed) and self.on_change:
                self.on_change(device)
            device.changed = device.counters_changed = False
            if self._loop is not None:
                for destination, apdu in pending(device.notes):
                    task = self._loop.create_task(deliver(destination, apdu))
                    self._pushes.add(task)
                    task.add_done_callback(self._pushes.discard)
        if reply:
            os.write(self._master, reply)

    def close(self) -> None:
        if self._loop is not None:
            self._loop.remove_reader(self._master)
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)
