"""``sts meter serve``: meter state files on the network until SIGTERM.

:func:`serve` serves one meter state file, :func:`serve_folder` every meter
state file in a folder from one process: meter *i* (in file-name order) on
port *base + i*, each the management logical device (server SAP 1) of its
own "physical device", as a head-end addresses real meters (one address per
meter, SAP 1 on each).

For each meter it takes the file's lock (:mod:`sts.meter.dlms.lock`), loads
the meter and its DLMS settings (made with random passwords and keys on
first use, ``FILE.dlms.json``), serves it and saves:

* the meter state after every request that changed it (a token, emergency
  credit, the clock set forward) and when it stops, so a SIGKILL loses at
  most the request being answered;
* the settings (invocation counters) after every ciphered request.

SIGTERM and SIGINT stop it cleanly: the listening sockets close, states and
settings are saved, the locks are removed.

With ``real_time`` a meter runs on the wall clock: each request first runs
it up to now with its standing load. Otherwise its clock stands still except
when a client sets it forward (clock attribute 2).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sts.errors import FormatError
from sts.meter import state as meter_state
from sts.meter.dlms.device import Counters, LogicalDevice
from sts.meter.dlms.files import (
    config_path,
    load_firmware,
    load_settings,
    new_settings,
    save_settings,
)
from sts.meter.dlms.lock import acquire_lock, release_lock
from sts.meter.dlms.pty import PtyServer
from sts.meter.dlms.server import MANAGEMENT_DEVICE
from sts.meter.dlms.tcp import TcpServer

MAX_METERS = 10_000


@dataclass(frozen=True)
class Serving:
    """One served meter, as :func:`serve` reports it once it listens."""

    state_file: Path
    settings_file: Path
    settings_made: bool
    host: str
    port: int
    drn: str
    path: str | None = None  # the pseudo-terminal, when served on one


@dataclass
class _Meter:
    state_file: Path
    settings_file: Path
    settings_made: bool
    lock: Path
    device: LogicalDevice | None = None
    firmware: str | None = None


def meter_files(folder: Path) -> list[Path]:
    """The meter state files in ``folder``: ``*.json`` but not the ``*.dlms.json`` settings."""
    try:
        names = sorted(
            p for p in folder.iterdir() if p.suffix == ".json" and not p.name.endswith(".dlms.json")
        )
    except OSError as exc:
        raise FormatError(f"folder {folder} cannot be read: {exc.strerror}") from None
    if not names:
        raise FormatError(f"folder {folder} holds no meter state files (*.json)")
    if len(names) > MAX_METERS:
        raise FormatError(f"folder {folder} holds {len(names)} meters; at most {MAX_METERS}")
    return names


def serve(
    state_file: Path,
    *,
    host: str,
    port: int,
    settings_file: Path | None = None,
    real_time: bool = True,
    hdlc: bool = False,
    pty: bool = False,
    started: Callable[[list[Serving]], None] = lambda _s: None,
) -> None:
    """Serve ``state_file`` until SIGTERM or SIGINT.

    On ``host:port`` with the TCP wrapper, or HDLC frames (``hdlc``), or HDLC on a new
    pseudo-terminal instead of TCP (``pty``; :mod:`sts.meter.dlms.pty`).
    """
    _serve([(state_file, settings_file)], host, port, real_time, hdlc, started, pty)


def serve_folder(
    folder: Path,
    *,
    host: str,
    base_port: int,
    real_time: bool = True,
    hdlc: bool = False,
    started: Callable[[list[Serving]], None] = lambda _s: None,
) -> None:
    """Serve every meter state file in ``folder``, meter i on ``base_port + i`` (0: any free)."""
    files = meter_files(folder)
    if base_port and base_port + len(files) - 1 > 65535:
        raise FormatError(
            f"{len(files)} meters from port {base_port} go past port 65535; "
            f"give a base port of at most {65536 - len(files)}"
        )
    _serve([(f, None) for f in files], host, base_port, real_time, hdlc, started)


def _serve(
    files: Sequence[tuple[Path, Path | None]],
    host: str,
    port: int,
    real_time: bool,
    hdlc: bool,
    started: Callable[[list[Serving]], None],
    pty: bool = False,
) -> None:
    meters: list[_Meter] = []
    clock = (lambda: datetime.now(UTC)) if real_time else None
    try:
        for state_file, settings_file in files:
            settings_path = settings_file or config_path(state_file)
            lock = acquire_lock(state_file)
            entry = _Meter(state_file, settings_path, not settings_path.exists(), lock)
            meters.append(entry)
            meter = meter_state.load(state_file)
            if entry.settings_made:
                settings, counters = new_settings(os.urandom), Counters()
            else:
                settings, counters = load_settings(settings_path)
            firmware = None if entry.settings_made else load_firmware(settings_path)
            save_settings(settings_path, settings, counters, firmware)  # reserves the counters
            entry.device = LogicalDevice(meter, settings, counters, clock=clock)
            if firmware:
                entry.device.notes["firmware"] = entry.firmware = firmware
        asyncio.run(_run(meters, host, port, hdlc, started, pty))
    finally:
        for entry in meters:
            with contextlib.suppress(Exception):
                if entry.device is not None:
                    meter_state.save(entry.device.meter, entry.state_file)
                    save_settings(
                        entry.settings_file,
                        entry.device.settings,
                        entry.device.counters,
                        entry.device.notes.get("firmware"),
                    )
            release_lock(entry.lock)


def _saver(entry: _Meter) -> Callable[[LogicalDevice], None]:
    def saved(device: LogicalDevice) -> None:
        if device.changed:
            meter_state.save(device.meter, entry.state_file)
        if device.counters_changed or device.notes.get("firmware") != entry.firmware:
            entry.firmware = device.notes.get("firmware")
            save_settings(entry.settings_file, device.settings, device.counters, entry.firmware)

    return saved


async def _run(
    meters: list[_Meter],
    host: str,
    port: int,
    hdlc: bool,
    started: Callable[[list[Serving]], None],
    pty: bool = False,
) -> None:
    servers: list[TcpServer] = []
    terminals: list[PtyServer] = []
    listening: list[asyncio.Server] = []
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        serving = []
        for index, entry in enumerate(meters):
            assert entry.device is not None
            if pty:
                terminal = PtyServer({MANAGEMENT_DEVICE: entry.device}, _saver(entry))
                terminals.append(terminal)
                terminal.start(loop)
                serving.append(
                    Serving(
                        entry.state_file,
                        entry.settings_file,
                        entry.settings_made,
                        host,
                        0,
                        entry.device.meter.decoder.identity.drn,
                        terminal.path,
                    )
                )
                continue
            server = TcpServer({MANAGEMENT_DEVICE: entry.device}, _saver(entry), hdlc=hdlc)
            servers.append(server)
            sockets = await server.start(host, port + index if port else 0)
            listening.append(sockets)
            serving.append(
                Serving(
                    entry.state_file,
                    entry.settings_file,
                    entry.settings_made,
                    host,
                    sockets.sockets[0].getsockname()[1],
                    entry.device.meter.decoder.identity.drn,
                )
            )
        started(serving)
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        for sockets in listening:
            sockets.close()
        for server in servers:
            server.close_connections()
        for terminal in terminals:
            terminal.close()
        for sockets in listening:
            await sockets.wait_closed()
