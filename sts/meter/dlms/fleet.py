"""A fleet of simulated meters for a head-end test bed: one command, N meter files.

:func:`new_fleet` writes, in an empty or new folder, ``m00000.json`` ...
(meter state files, ready for ``sts meter serve DIR``), each meter's DLMS
settings ``mNNNNN.json.dlms.json`` (random passwords and suite-0 keys), and
``fleet.csv``: one row per meter with what a head-end needs to reach it
(file, DRN, port offset from the base port, system title, the three
passwords, the two keys). The CSV and the settings hold secrets and are
written owner-only.

DRNs are consecutive 11-digit numbers from ``first_drn`` (its first ten
digits, counting up, each with its Luhn digit). Each meter's decoder key is
derived from one vending key (DKGA02, like ``sts meter new --vk``), or all
meters share one decoder key.

:func:`fleet_from_keys` makes the fleet from a vending ledger's meters instead
(``sts meter fleet new DIR --db URL``): each meter with the key registers a
:class:`~sts.meter.keyed.LedgerMeter` gives (the ledger's current key revision
and decoder key, made before the first token sold under it, and its service,
as ``sts meters simulate`` makes one), so it accepts every token the ledger
sells it. The decoder keys are written into the meter files (owner-only) and
never into ``fleet.csv``.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sts.crypto.keys import DecoderKey, VendingKey
from sts.errors import FormatError
from sts.meter import state as meter_state
from sts.meter.dlms.device import Counters
from sts.meter.dlms.files import config_path, new_settings, save_settings
from sts.meter.dlms.model import Level
from sts.meter.keyed import LedgerMeter
from sts.meter.meter import Meter
from sts.tokens.meter_number import luhn_check_digit, validate_drn

MAX_FLEET = 10_000
INDEX = "fleet.csv"
COLUMNS = [
    "file", "drn", "port_offset", "system_title", "reader", "operator", "admin",
    "encryption_key", "authentication_key",
]  # fmt: skip


@dataclass(frozen=True)
class FleetMade:
    folder: Path
    count: int
    first_drn: str
    last_drn: str
    index: Path


def drns(first_drn: str, count: int) -> list[str]:
    """``count`` consecutive 11-digit DRNs from ``first_drn``."""
    first = validate_drn(first_drn)
    if len(first) != 11:
        raise FormatError(f"the first DRN {first_drn!r} is not 11 digits; a fleet counts 11")
    start = int(first[:10])
    if start + count > 10**10:
        raise FormatError(f"{count} meters from DRN {first} go past 9999999999x")
    bodies = (f"{start + i:010d}" for i in range(count))
    return [body + str(luhn_check_digit(body)) for body in bodies]


def fleet_from_keys(
    folder: Path,
    meters: Sequence[LedgerMeter],
    *,
    random_bytes: Callable[[int], bytes] = os.urandom,
) -> FleetMade:
    """Write one meter per ledger meter, their DLMS settings and ``fleet.csv`` into ``folder``."""
    if not 1 <= len(meters) <= MAX_FLEET:
        raise FormatError(f"a fleet of {len(meters)} meters; expected 1-{MAX_FLEET}")
    # made one at a time as they are written: a fleet of 10,000 is not held at once
    made = (m.manufacture() for m in meters)
    _check_folder(folder)
    return _write(folder, made, random_bytes)


def _check_folder(folder: Path) -> None:
    if folder.exists() and any(folder.iterdir()):
        raise FormatError(f"folder {folder} is not empty; a fleet goes into a new folder")


def new_fleet(
    folder: Path,
    count: int,
    *,
    first_drn: str,
    manufactured: datetime,
    decoder_key: DecoderKey | None = None,
    vending_key: VendingKey | None = None,
    sgc: int = 0,
    base_date: int | str = 2014,
    random_bytes: Callable[[int], bytes] = os.urandom,
) -> FleetMade:
    """Write ``count`` meters, their DLMS settings and ``fleet.csv`` into ``folder``."""
    if not 1 <= count <= MAX_FLEET:
        raise FormatError(f"a fleet of {count} meters; expected 1-{MAX_FLEET}")
    if (decoder_key is None) == (vending_key is None):
        raise FormatError("give either one decoder key or a vending key to derive each from")
    numbers = drns(first_drn, count)
    _check_folder(folder)
    made = (
        Meter.manufacture(
            drn=drn,
            key=decoder_key,
            vending_key=vending_key,
            sgc=sgc,
            base_date=base_date,
            manufactured=manufactured,
        )
        for drn in numbers
    )
    return _write(folder, made, random_bytes)


def _write(
    folder: Path, meters: Iterable[Meter], random_bytes: Callable[[int], bytes]
) -> FleetMade:
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for index, meter in enumerate(meters):
        file = folder / f"m{index:05d}.json"
        meter_state.save(meter, file, overwrite=False)
        settings = new_settings(random_bytes)
        save_settings(config_path(file), settings, Counters())
        by_level = {level: pw.decode("ascii") for pw, level in settings.passwords.items()}
        assert settings.encryption_key is not None and settings.authentication_key is not None
        rows.append(
            [
                file.name,
                meter.decoder.identity.drn,
                index,
                settings.system_title.hex().upper(),
                by_level[Level.READER],
                by_level[Level.OPERATOR],
                by_level[Level.ADMIN],
                settings.encryption_key.hex(),
                settings.authentication_key.hex(),
            ]
        )
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    index_file = folder / INDEX
    fd = os.open(index_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text.getvalue())
    drns_made = [row[1] for row in rows]
    return FleetMade(folder, len(rows), drns_made[0], drns_made[-1], index_file)
