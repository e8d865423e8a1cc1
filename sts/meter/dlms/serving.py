"""``sts meter serve``: one meter state file on the network until SIGTERM.

:func:`serve` takes the file's lock (:mod:`sts.meter.dlms.lock`), loads the
meter and its DLMS settings (made with random passwords and keys on first
use), serves it over the TCP wrapper and saves:

* the meter state after every request that changed it (a token, emergency
  credit, the clock set forward) and when it stops, so a SIGKILL loses at
  most the request being answered;
* the settings (invocation counters) after every ciphered request.

SIGTERM and SIGINT stop it cleanly: the listening socket closes, the state
and settings are saved, the lock is removed.

With ``real_time`` the meter runs on the wall clock: each request first runs
it up to now with its standing load. Otherwise its clock stands still except
when a client sets it forward (clock attribute 2).
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sts.meter import state as meter_state
from sts.meter.dlms.files import config_path, load_settings, new_settings, save_settings
from sts.meter.dlms.lock import acquire_lock, release_lock
from sts.meter.dlms.server import MANAGEMENT_DEVICE, Counters, LogicalDevice
from sts.meter.dlms.tcp import TcpServer


@dataclass(frozen=True)
class Serving:
    """What :func:`serve` tells its caller once it listens."""

    state_file: Path
    settings_file: Path
    settings_made: bool
    host: str
    port: int
    drn: str


def serve(
    state_file: Path,
    *,
    host: str,
    port: int,
    settings_file: Path | None = None,
    real_time: bool = True,
    hdlc: bool = False,
    started: Callable[[Serving], None] = lambda _s: None,
) -> None:
    """Serve ``state_file`` on ``host:port`` until SIGTERM or SIGINT (``hdlc``: HDLC frames)."""
    lock = acquire_lock(state_file)
    try:
        meter = meter_state.load(state_file)
        settings_path = settings_file or config_path(state_file)
        made = not settings_path.exists()
        if made:
            settings, counters = new_settings(os.urandom), Counters()
        else:
            settings, counters = load_settings(settings_path)
        save_settings(settings_path, settings, counters)  # reserves the server's counters
        device = LogicalDevice(
            meter,
            settings,
            counters,
            clock=(lambda: datetime.now(UTC)) if real_time else None,
        )

        def saved(changed: LogicalDevice) -> None:
            if changed.changed:
                meter_state.save(changed.meter, state_file)
            if changed.counters_changed:
                save_settings(settings_path, changed.settings, changed.counters)

        try:
            asyncio.run(
                _run(
                    TcpServer({MANAGEMENT_DEVICE: device}, saved, hdlc=hdlc),
                    host,
                    port,
                    lambda bound: started(
                        Serving(
                            state_file,
                            settings_path,
                            made,
                            host,
                            bound,
                            meter.decoder.identity.drn,
                        )
                    ),
                )
            )
        finally:
            meter_state.save(device.meter, state_file)
            save_settings(settings_path, device.settings, device.counters)
    finally:
        release_lock(lock)


async def _run(server: TcpServer, host: str, port: int, started: Callable[[int], None]) -> None:
    listening = await server.start(host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        started(listening.sockets[0].getsockname()[1])
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        listening.close()
        server.close_connections()
        await listening.wait_closed()
