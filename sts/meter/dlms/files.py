"""The files beside a served meter: its DLMS settings and the lock that says it is served.

**Settings** (``FILE.dlms.json`` next to the meter's state file unless named
otherwise) hold what a head-end needs to talk to the meter and what the
server must not forget::

    {"format": "sts-dlms-config", "version": 1,
     "system_title": "53545300A1B2C3D4",
     "passwords": {"reader": "...", "operator": "...", "admin": "..."},
     "encryption_key": "<32 hex>", "authentication_key": "<32 hex>",
     "max_pdu_size": 1024,
     "client_invocation_counter": 0, "server_invocation_counter": 1000,
     "firmware": "..."}

``client_invocation_counter`` is the lowest counter the server still accepts
from a client (replays below it are refused); ``server_invocation_counter``
is where the server starts after a restart; ``firmware`` (only after an
upgrade) is the version the last activated image gave the meter. The server writes it
:data:`RESERVE` ahead of what it has used, so even after a SIGKILL it never
ciphers twice under one counter. The file is written atomically, readable by
its owner only (it holds the passwords and keys).

The lock that marks a served meter is :mod:`sts.meter.dlms.lock`.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sts.meter.dlms.device import Counters, SecuritySettings
from sts.meter.dlms.errors import ConfigError
from sts.meter.dlms.model import Level

CONFIG_FORMAT = "sts-dlms-config"
CONFIG_VERSION = 1
RESERVE = 1000
LEVEL_NAMES = {"reader": Level.READER, "operator": Level.OPERATOR, "admin": Level.ADMIN}


def config_path(state_file: str | os.PathLike[str]) -> Path:
    path = Path(state_file)
    return path.with_name(path.name + ".dlms.json")


# -- settings -------------------------------------------------------------------------------


def new_settings(random_bytes: Callable[[int], bytes]) -> SecuritySettings:
    """Fresh settings: random passwords (16 hex digits), keys and system title ("STS" + 5)."""
    return SecuritySettings(
        system_title=b"STS" + random_bytes(5),
        passwords={random_bytes(8).hex().encode("ascii"): level for level in LEVEL_NAMES.values()},
        encryption_key=random_bytes(16),
        authentication_key=random_bytes(16),
    )


def settings_to_json(
    settings: SecuritySettings, counters: Counters, firmware: str | None = None
) -> str:
    by_level = {level: password for password, level in settings.passwords.items()}
    document: dict[str, Any] = {
        "format": CONFIG_FORMAT,
        "version": CONFIG_VERSION,
        "system_title": settings.system_title.hex().upper(),
        "passwords": {
            name: by_level[level].decode("ascii", "replace")
            for name, level in LEVEL_NAMES.items()
            if level in by_level
        },
        "encryption_key": None
        if settings.encryption_key is None
        else settings.encryption_key.hex(),
        "authentication_key": (
            None if settings.authentication_key is None else settings.authentication_key.hex()
        ),
        "max_pdu_size": settings.max_pdu_size,
        "client_invocation_counter": counters.client_next,
        "server_invocation_counter": min(counters.server + RESERVE, 1 << 32),
    }
    if firmware:
        document["firmware"] = firmware
    return json.dumps(document, indent=2) + "\n"


def _hex(document: dict[str, Any], name: str, size: int, source: str) -> bytes | None:
    value = document.get(name)
    if value is None:
        return None
    try:
        raw = bytes.fromhex(value) if isinstance(value, str) else None
    except ValueError:
        raw = None
    if raw is None or len(raw) != size:
        raise ConfigError(f"{source}: {name} is {value!r}; expected {2 * size} hex digits")
    return raw


def _counter(document: dict[str, Any], name: str, default: int, source: str) -> int:
    # one past the last 32-bit counter means "used up": the keys must be changed
    value = document.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 1 << 32:
        raise ConfigError(f"{source}: {name} is {value!r}; expected a whole number 0-4294967296")
    return value


def settings_from_json(
    text: str, source: str = "DLMS settings"
) -> tuple[SecuritySettings, Counters]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source} is not JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(document, dict) or document.get("format") != CONFIG_FORMAT:
        raise ConfigError(f"{source} is not a DLMS settings file (format {CONFIG_FORMAT!r})")
    if document.get("version") != CONFIG_VERSION:
        raise ConfigError(f"{source} is version {document.get('version')!r}; expected 1")
    title = _hex(document, "system_title", 8, source)
    if title is None:
        raise ConfigError(f"{source} has no system_title")
    passwords_in = document.get("passwords", {})
    if not isinstance(passwords_in, dict):
        raise ConfigError(f"{source}: passwords is not an object of reader/operator/admin")
    passwords: dict[bytes, Level] = {}
    for name, password in passwords_in.items():
        if name not in LEVEL_NAMES or not isinstance(password, str) or not password.isascii():
            raise ConfigError(
                f"{source}: password {name!r} is not an ASCII text for reader, operator or admin"
            )
        passwords[password.encode("ascii")] = LEVEL_NAMES[name]
    if len(passwords) != len(passwords_in):
        raise ConfigError(f"{source}: two access levels share one password")
    pdu = document.get("max_pdu_size", 1024)
    if not isinstance(pdu, int) or isinstance(pdu, bool):
        raise ConfigError(f"{source}: max_pdu_size is {pdu!r}; expected a whole number")
    settings = SecuritySettings(
        title,
        passwords,
        _hex(document, "encryption_key", 16, source),
        _hex(document, "authentication_key", 16, source),
        pdu,
    )
    counters = Counters(
        _counter(document, "client_invocation_counter", 0, source),
        max(1, _counter(document, "server_invocation_counter", 1, source)),
    )
    return settings, counters


def load_settings(path: Path) -> tuple[SecuritySettings, Counters]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"DLMS settings file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"DLMS settings file {path} cannot be read: {exc}") from None
    return settings_from_json(text, f"DLMS settings file {path}")


def load_firmware(path: Path) -> str | None:
    """The firmware version an image activation left in the settings file, if any."""
    try:
        value = json.loads(path.read_text(encoding="utf-8")).get("firmware")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) and value.isascii() and len(value) <= 64 else None


def save_settings(
    path: Path, settings: SecuritySettings, counters: Counters, firmware: str | None = None
) -> None:
    """Write the settings atomically, owner-only (with the active firmware, if upgraded)."""
    text = settings_to_json(settings, counters, firmware)
    directory = path.parent if str(path.parent) else Path(".")
    fd, temp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o600)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
