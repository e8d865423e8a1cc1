"""The lock that says a meter state file is being served.

``FILE.lock`` holds the serving process's id. While it exists and that
process lives, the state file belongs to the server: other ``sts meter``
commands refuse it (:func:`check_not_served`), since the server would
overwrite what they wrote. A lock left by a dead process (a SIGKILL) is stale
and taken over by the next server. This module imports nothing heavy, so
every ``sts meter`` command can afford the check.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from sts.errors import FormatError, StsError


class MeterServedError(StsError):
    """The meter state file is owned by a running ``sts meter serve``."""


def lock_path(state_file: str | os.PathLike[str]) -> Path:
    path = Path(state_file)
    return path.with_name(path.name + ".lock")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _holder(lock: Path) -> int | None:
    """The live process holding ``lock``, or None (no lock, or a stale one)."""
    try:
        text = lock.read_text(encoding="ascii").strip()
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    except OSError:
        return None
    if not text.isdigit():
        return None
    pid = int(text)
    return pid if pid > 0 and _alive(pid) else None


def check_not_served(state_file: str | os.PathLike[str]) -> None:
    """MeterServedError when a running server owns ``state_file``."""
    pid = _holder(lock_path(state_file))
    if pid is not None and pid != os.getpid():
        raise MeterServedError(
            f"meter state file {state_file} is being served by `sts meter serve` (process {pid}); "
            "stop that server (it saves the meter on SIGTERM) or talk to it with `sts dlms`"
        )


def acquire_lock(state_file: str | os.PathLike[str]) -> Path:
    """Take the lock for this process; MeterServedError if a live server holds it."""
    lock = lock_path(state_file)
    check_not_served(state_file)
    with contextlib.suppress(FileNotFoundError):
        lock.unlink()  # stale: its process is gone
    try:
        fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise MeterServedError(
            f"meter state file {state_file} was locked by another `sts meter serve` just now"
        ) from None
    except OSError as exc:
        raise FormatError(f"cannot write the lock file {lock}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(f"{os.getpid()}\n")
    return lock


def release_lock(lock: Path) -> None:
    if _holder(lock) == os.getpid():
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()
