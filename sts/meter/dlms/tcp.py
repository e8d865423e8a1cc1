"""TCP transports around the sans-IO core: the wrapper (IEC 62056-47) or HDLC frames.

One listening socket serves logical devices by their server SAP (the
wrapper's destination wPort; a single meter is SAP 1, the management logical
device). Each connection gets its own :class:`~sts.meter.dlms.server.Session`
per client wPort. A frame for a SAP no device has, or bytes that are not
wrapper frames, close the connection. ``on_change`` is called (in the event
loop, between requests) after a request changed a device's meter or
counters, so the owner can save it. With ``hdlc=True`` the connection
carries HDLC frames instead (:mod:`sts.meter.dlms.hdlc`, as optical-probe
tools and some head-ends speak over TCP); the HDLC server address picks the
device.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping

from sts.meter.dlms import apdus
from sts.meter.dlms.device import LogicalDevice
from sts.meter.dlms.hdlc import HdlcLink
from sts.meter.dlms.push import deliver, pending
from sts.meter.dlms.server import Session
from sts.meter.dlms.wrapper import DEFAULT_PORT, WrapperDecoder, WrapperError, wrap

READ_SIZE = 65536


class TcpServer:
    """Serves ``devices`` (server SAP -> device) over the TCP wrapper."""

    def __init__(
        self,
        devices: Mapping[int, LogicalDevice],
        on_change: Callable[[LogicalDevice], None] | None = None,
        *,
        hdlc: bool = False,
    ) -> None:
        self.devices = dict(devices)
        self.hdlc = hdlc
        self.on_change = on_change
        self.connections = 0
        self._open: set[asyncio.StreamWriter] = set()
        self._pushes: set[asyncio.Task[None]] = set()

    async def start(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> asyncio.Server:
        return await asyncio.start_server(self._serve, host, port)

    def close_connections(self) -> None:
        """Close every open connection (the server is stopping)."""
        for writer in list(self._open):
            writer.close()

    def _saved(self, device: LogicalDevice) -> None:
        if (device.changed or device.counters_changed) and self.on_change:
            self.on_change(device)
        device.changed = device.counters_changed = False
        for destination, apdu in pending(device.notes):
            task = asyncio.get_running_loop().create_task(deliver(destination, apdu))
            self._pushes.add(task)
            task.add_done_callback(self._pushes.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.hdlc:
            await self._serve_hdlc(reader, writer)
        else:
            await self._serve_wrapped(reader, writer)

    async def _serve_hdlc(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def open_session(client_sap: int, server_sap: int) -> Session | None:
            device = self.devices.get(server_sap)
            return None if device is None else Session(device, client_sap, server_sap)

        self.connections += 1
        self._open.add(writer)
        link = HdlcLink(open_session)
        try:
            while data := await reader.read(READ_SIZE):
                try:
                    reply = link.feed(data)
                except Exception:  # a bug below must not take the server down: hang up
                    break
                if link.session is not None:
                    self._saved(link.session.device)
                if reply:
                    writer.write(reply)
                    await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._open.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def _serve_wrapped(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.connections += 1
        self._open.add(writer)
        decoder = WrapperDecoder()
        sessions: dict[tuple[int, int], Session] = {}
        try:
            while True:
                data = await reader.read(READ_SIZE)
                if not data:
                    break
                try:
                    frames = decoder.feed(data)
                except WrapperError:
                    break
                for frame in frames:
                    device = self.devices.get(frame.destination)
                    if device is None:
                        return
                    key = (frame.source, frame.destination)
                    session = sessions.get(key)
                    if session is None:
                        session = sessions[key] = Session(device, frame.source, frame.destination)
                    try:
                        reply = session.receive(frame.apdu)
                    except Exception:  # a bug in a handler must not take the server down
                        reply = apdus.exception_response(apdus.SERVICE_UNKNOWN, apdus.OTHER_REASON)
                    self._saved(device)
                    if reply is not None:
                        writer.write(wrap(frame.destination, frame.source, reply))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._open.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
