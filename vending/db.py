"""The vending database: engines, sessions, schema upgrades and where the file lives.

This is the storage layer, the one place below ``cli.py`` that touches the disk.
A database is named by a SQLAlchemy URL; without one the default is a SQLite file
in the user's data directory (``platformdirs``), e.g. on Linux
``~/.local/share/sts-toolkit/vending.sqlite``.

SQLite is set up so that vends from several processes serialise correctly:
pysqlite's own transaction handling is switched off and every write transaction
starts with ``BEGIN IMMEDIATE``, which takes the database's write lock before the
first read, so the meter's last TID cannot change between reading it and writing
the next one. Readers (reports) have an engine of their own whose transactions
start with a plain deferred ``BEGIN`` (:class:`SQLiteDialect`). The file is
in WAL mode with ``synchronous=FULL`` (every commit reaches the disk) and foreign
keys on, and each connection gets the SQL function the ledger hashes with
(``vending.ledger.sha256_hex``; PostgreSQL has its own ``sha256``). PostgreSQL
needs nothing else: the services lock rows with ``SELECT ... FOR UPDATE``.

The schema is created and upgraded only by Alembic (``migrations/``). Alembic is
imported only to upgrade: opening a database reads ``alembic_version`` with plain
SQL and compares it with :data:`HEAD_REVISION` (a test holds that constant equal
to the newest file in ``migrations/versions``).

Files and folders. Only :func:`open_database` with ``create=True`` and
:func:`upgrade` create a SQLite file, owner-only (0600, whatever the umask; its
WAL and shared-memory files inherit that mode), and never a missing folder
except the default data folder (0700). A first use by several processes at once
is serialised by an exclusive lock on the file's folder (``flock``): one creates
and upgrades the schema, the others wait and then find it current. On PostgreSQL,
where ``sts db upgrade`` makes the schema, upgrades wait for each other on an
advisory lock.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from vending.errors import StorageError
from vending.ledger import SQLITE_SHA256_FUNCTION

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.orm import Session, sessionmaker

#: The newest schema revision in ``migrations/versions``: what this code needs. Bump it
#: with every new migration (tests/test_startup_db.py fails until it matches Alembic's head).
HEAD_REVISION = "0005"
#: Alembic's bookkeeping table (its default name; migrations/env.py keeps the default).
VERSION_TABLE = "alembic_version"
#: The PostgreSQL advisory lock key that serialises schema upgrades ("STSU").
UPGRADE_LOCK_KEY = 0x53545355

APP_NAME = "sts-toolkit"
DEFAULT_FILE_NAME = "vending.sqlite"
MASTER_KEY_FILE_NAME = "master.key"
SQLITE_BUSY_TIMEOUT_S = 60.0
#: How long a process waits for another to finish creating or upgrading a SQLite file.
CREATION_LOCK_TIMEOUT_S = 120.0
#: The default data folder and a new SQLite file: owner-only, whatever the umask.
FOLDER_MODE = 0o700
FILE_MODE = 0o600
#: The SQLAlchemy driver name under which :class:`SQLiteDialect` is registered.
SQLITE_DRIVER = "sqlite+sts"


def default_database_path() -> Path:
    """Where the default SQLite file lives: the user's data directory for this toolkit."""
    from platformdirs import user_data_path

    return user_data_path(APP_NAME, appauthor=False) / DEFAULT_FILE_NAME


def default_master_key_path() -> Path:
    """Where the master key file is kept unless told otherwise: next to the default database."""
    return default_database_path().with_name(MASTER_KEY_FILE_NAME)


def sqlite_url(path: Path | str) -> str:
    """The SQLAlchemy URL of a SQLite file."""
    return f"sqlite:///{Path(path)}"


def default_url() -> str:
    return sqlite_url(default_database_path())


def parse_url(url: str) -> URL:
    """The URL object, or a StorageError naming what was wrong with it."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StorageError(
            f"database URL {redact(url)!r} is not a SQLAlchemy URL; expected e.g. "
            "sqlite:///path/to/file.sqlite or postgresql+psycopg://user@host/dbname"
        ) from None
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def redact(url: str | URL) -> str:
    """The URL as text with any password replaced by ``***`` (and SQLite's as the user wrote it)."""
    if not isinstance(url, URL):
        try:
            url = make_url(url)
        except ArgumentError:
            return "<unparseable URL>"
    if url.drivername == SQLITE_DRIVER:
        url = url.set(drivername="sqlite")
    return url.render_as_string(hide_password=True)


def sqlite_file(url: str | URL) -> Path | None:
    """The file of a SQLite URL (None for other engines and in-memory SQLite)."""
    parsed = url if isinstance(url, URL) else parse_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class SQLiteDialect(SQLiteDialect_pysqlite):
    """pysqlite, with each transaction SQLAlchemy begins sent to SQLite as ``sts_begin``.

    pysqlite's own transaction handling is switched off (:func:`_configure_sqlite`),
    so SQLAlchemy alone says where transactions start: ``BEGIN IMMEDIATE`` on the
    engine that writes, ``BEGIN`` on the one that reads. Doing this in the dialect
    rather than in a "begin" event listener leaves the engine without connection
    events, which SQLAlchemy would otherwise dispatch around every statement.
    """

    supports_statement_cache = True

    def __init__(self, sts_begin: str = "BEGIN IMMEDIATE", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sts_begin = sts_begin

    def do_begin(self, dbapi_connection: Any) -> None:
        dbapi_connection.execute(self.sts_begin)


registry.register(SQLITE_DRIVER.replace("+", "."), __name__, SQLiteDialect.__name__)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # SQLiteDialect emits BEGIN itself; pysqlite would defer it to the first write.
        dbapi_connection.isolation_level = None
        dbapi_connection.create_function(SQLITE_SHA256_FUNCTION, 1, _sha256_hex, deterministic=True)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        _switch_to_wal(cursor)
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()


def _switch_to_wal(cursor: Any) -> None:
    """Put the file in WAL mode (a no-op once it is), waiting out other openers.

    Switching a file's journal mode, and opening a WAL file whose last user just
    left, can answer "database is locked" at once, without SQLite's busy timeout:
    several processes starting on one file at once saw it (issue 7). Wait as a
    busy timeout would (the connection's own), a little at a time.
    """
    (busy_timeout_ms,) = cursor.execute("PRAGMA busy_timeout").fetchone()
    deadline = time.monotonic() + busy_timeout_ms / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def make_engine(
    url: str, inspect_only: bool = False, read_only: bool = False, **kwargs: Any
) -> Engine:
    """An engine for ``url``; SQLite files get the locking set-up described above.

    ``read_only`` gives SQLite an engine whose transactions begin deferred, for
    readers. ``inspect_only`` leaves a SQLite file as it is, for reading its
    schema version: no WAL mode written, no locking set-up. No engine creates a
    folder; connecting to a SQLite file that does not exist creates it (with
    SQLite's own mode): :func:`open_database` and :func:`upgrade` check first.
    """
    parsed = parse_url(url)
    backend = parsed.get_backend_name()
    options: dict[str, Any] = {}
    if backend == "sqlite":
        if parsed.drivername not in ("sqlite", "sqlite+pysqlite", SQLITE_DRIVER):
            raise StorageError(
                f"database URL {redact(parsed)!r} names SQLite driver "
                f"{parsed.get_driver_name()!r}; expected Python's own sqlite3: "
                "sqlite:///path/to/file.sqlite"
            )
        options["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_S}
        if inspect_only:
            parsed = parsed.set(drivername="sqlite")
        else:
            parsed = parsed.set(drivername=SQLITE_DRIVER)
            options["sts_begin"] = "BEGIN" if read_only else "BEGIN IMMEDIATE"
    elif backend == "postgresql":
        options["pool_pre_ping"] = False
    options.update(kwargs)
    try:
        engine = create_engine(parsed, **options)
    except (NoSuchModuleError, ImportError) as exc:
        raise StorageError(f"database URL {redact(parsed)!r} needs a driver: {exc}") from None
    if backend == "sqlite" and not inspect_only:
        _configure_sqlite(engine)
    return engine


def _alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    ini = resources.files("migrations").joinpath("alembic.ini")
    config = Config(str(ini))
    config.set_main_option("script_location", str(resources.files("migrations")))
    config.set_main_option("sqlalchemy.url", redact(engine.url).replace("%", "%%"))
    config.attributes["engine"] = engine
    return config


def head_revision() -> str:
    """The newest schema revision this code knows (:data:`HEAD_REVISION`)."""
    return HEAD_REVISION


def current_revision(engine: Engine) -> str | None:
    """The schema revision stamped in the database (None for an empty database).

    Plain SQL on Alembic's version table, so that opening a database does not
    import Alembic.
    """
    with connection_errors(engine), engine.connect() as connection:
        if not connection.dialect.has_table(connection, VERSION_TABLE):
            return None
        rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
    if len(rows) > 1:
        stamped = ", ".join(sorted(str(row[0]) for row in rows))
        raise StorageError(
            f"the database {redact(engine.url)!r} is stamped with several schema revisions "
            f"({stamped}); expected one, {HEAD_REVISION}"
        )
    return str(rows[0][0]) if rows else None


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Bring the schema to ``revision``; returns (revision before, revision after).

    A SQLite file that does not exist is created first (owner-only) if its folder
    exists, or is the default data folder; the upgrade holds the file's creation
    lock, so that a first use by another process waits for it.
    """
    path = sqlite_file(engine.url)
    if path is not None:
        _create_sqlite_file(path)
        with creation_lock(path):
            return _upgrade_locked(engine, revision)
    if engine.dialect.name != "postgresql":
        return _upgrade_locked(engine, revision)
    # Several `sts db upgrade` at once: the others wait on a session advisory lock
    # (held on a connection of its own; the server frees it if this process dies).
    lock = text("SELECT pg_advisory_lock(:key)").bindparams(key=UPGRADE_LOCK_KEY)
    unlock = text("SELECT pg_advisory_unlock(:key)").bindparams(key=UPGRADE_LOCK_KEY)
    with connection_errors(engine), engine.connect() as holder:
        holder.execute(lock)
        try:
            return _upgrade_locked(engine, revision)
        finally:
            holder.execute(unlock)


def _upgrade_locked(engine: Engine, revision: str) -> tuple[str | None, str | None]:
    from alembic import command

    before = current_revision(engine)
    with connection_errors(engine):
        command.upgrade(_alembic_config(engine), revision)
    return before, current_revision(engine)


def _create_sqlite_file(path: Path) -> bool:
    """Create the empty SQLite file ``path`` owner-only; False if it exists already.

    Its folder must exist, except the default data folder, which is made (0700).
    """
    if path.exists():
        return False
    folder = path.parent
    if not folder.is_dir():
        if path != default_database_path():
            what = "is not a folder" if folder.exists() else "does not exist"
            raise StorageError(
                f"cannot create the SQLite database {path}: the folder {folder} {what}; "
                "expected an existing folder (create it first, or check --db)"
            )
        _make_default_folder(folder)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return False  # another process made it just now
    except OSError as exc:
        raise StorageError(f"cannot create the SQLite database {path}: {exc.strerror}") from None
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(descriptor, FILE_MODE)  # whatever the umask
    finally:
        os.close(descriptor)
    return True


def _make_default_folder(folder: Path) -> None:
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        folder.mkdir(mode=FOLDER_MODE)
        os.chmod(folder, FOLDER_MODE)  # whatever the umask
    except FileExistsError:
        pass  # made by another process meanwhile
    except OSError as exc:
        raise StorageError(f"cannot create the data folder {folder}: {exc.strerror}") from None


@contextmanager
def creation_lock(path: Path, required: bool = True) -> Iterator[None]:
    """Hold an exclusive lock on the folder of the SQLite file ``path``.

    Creating and upgrading a file happen under it, and a process that finds a
    file's schema not current takes it before looking again, so it waits for a
    creation under way instead of seeing half a schema. The lock is ``flock`` on
    the folder (not on the database file: closing another descriptor of that
    file would drop SQLite's own POSIX locks in this process); the kernel frees
    it when its holder dies. Where ``fcntl`` does not exist, nothing is locked;
    nor where the folder cannot be opened and the lock is not ``required`` (a
    reader that only waits for a creation under way).
    """
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    folder = path.parent
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError as exc:
        if not required:
            yield
            return
        raise StorageError(f"cannot open the folder {folder}: {exc.strerror}") from None
    try:
        deadline = time.monotonic() + CREATION_LOCK_TIMEOUT_S
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StorageError(
                        f"the SQLite database {path} was still being created or upgraded "
                        f"by another process after {CREATION_LOCK_TIMEOUT_S:.0f} s; "
                        "expected it to finish: try again"
                    ) from None
                time.sleep(0.02)
        try:
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


@contextmanager
def connection_errors(engine: Engine) -> Iterator[None]:
    """Turn a failure to reach the database into a StorageError naming it."""
    try:
        yield
    except DBAPIError as exc:
        if exc.connection_invalidated or isinstance(exc.orig, _connect_errors(engine)):
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
            raise StorageError(
                f"cannot reach the database {redact(engine.url)!r}: {reason}"
            ) from None
        raise


def _connect_errors(engine: Engine) -> tuple[type[BaseException], ...]:
    dbapi = engine.dialect.dbapi
    return (dbapi.OperationalError,) if dbapi is not None else ()


@dataclass(frozen=True)
class SchemaStatus:
    """Where a database is, whether it exists, and its schema revision against this code's."""

    location: str  # the SQLite file, else the URL without password
    exists: bool  # False only for a SQLite file not created yet
    revision: str | None
    head: str

    @property
    def current(self) -> bool:
        return self.revision == self.head

    def to_dict(self) -> dict[str, Any]:
        return {
            "database": self.location,
            "exists": self.exists,
            "revision": self.revision,
            "head": self.head,
            "current": self.current,
        }


def schema_status(url: str) -> SchemaStatus:
    """The schema revision of the database at ``url``, creating nothing.

    A SQLite file that does not exist is reported as such (connecting would
    create it); any other database is asked for its revision.
    """
    head = HEAD_REVISION
    path = sqlite_file(url)
    if path is not None and not path.exists():
        return SchemaStatus(str(path), False, None, head)
    engine = make_engine(url, inspect_only=True)
    try:
        revision = current_revision(engine)
    finally:
        engine.dispose()
    return SchemaStatus(str(path) if path is not None else redact(url), True, revision, head)


@dataclass(frozen=True)
class Database:
    """An opened database: its engines, what opening it did, and ORM session factories.

    The session factories are made on first use, so that what works on the
    engines alone (a vend: vending.vend) does not import ``sqlalchemy.orm``.
    """

    engine: Engine
    created: bool  # True when this call created the schema (a fresh SQLite file)
    read_engine: Engine  # the engine of read_sessions: for SQLite another one, else the same

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        """ORM sessions on the writing engine."""
        from sqlalchemy.orm import sessionmaker

        return sessionmaker(self.engine, expire_on_commit=False)

    @cached_property
    def read_sessions(self) -> sessionmaker[Session]:
        """ORM sessions on the reading engine."""
        from sqlalchemy.orm import sessionmaker

        return sessionmaker(self.read_engine, expire_on_commit=False)

    @property
    def location(self) -> str:
        """The file path for SQLite, else the URL without password."""
        path = sqlite_file(self.engine.url)
        return str(path) if path is not None else redact(self.engine.url)

    def dispose(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()


def open_database(url: str, create: bool = True, **engine_options: Any) -> Database:
    """Open the database at ``url``, checking that its schema is current.

    With ``create``, a SQLite file that does not exist yet (or holds no schema)
    is created and upgraded, in an existing folder or the default data folder
    (see the module notes); without it, a missing file is a StorageError that
    says so. Any other database without the current schema is a StorageError
    that says to run ``sts db upgrade``. Several processes opening one new file
    at once are safe: one creates it, the others wait and open it.
    """
    path = sqlite_file(url)
    if path is not None and not create and not path.exists():
        raise StorageError(
            f"the SQLite database {path} does not exist; expected an existing vending "
            "database (check --db or STS_DATABASE_URL, or create it with `sts db upgrade`)"
        )
    if path is not None and create:
        _create_sqlite_file(path)
    engine = make_engine(url, **engine_options)
    created = False
    try:
        try:
            revision = current_revision(engine)
        except StorageError:
            if path is None:
                raise
            # A new file's first connection can find it locked while another process
            # switches it to WAL mode: look again under the creation lock (issue 7).
            revision = None
        if revision != HEAD_REVISION and path is not None:
            # Maybe another process is creating it: wait for it, then look again.
            with creation_lock(path, required=create):
                revision = current_revision(engine)
                if revision is None and create:
                    if _has_tables(engine):
                        raise StorageError(
                            f"SQLite file {path} holds tables but no vending schema version; "
                            "expected an sts vending database"
                        )
                    _upgrade_locked(engine, "head")
                    revision, created = current_revision(engine), True
        if revision != HEAD_REVISION:
            state = "has no vending schema" if revision is None else f"is at revision {revision}"
            raise StorageError(
                f"the database {redact(engine.url)!r} {state}; expected {HEAD_REVISION}: run "
                "`sts db upgrade` (with the same --db) first"
            )
    except BaseException:
        engine.dispose()
        raise
    # Readers of a SQLite file get an engine of their own that begins deferred (an
    # in-memory database is one connection, so it has to share).
    read_engine = engine
    if path is not None:
        read_engine = make_engine(url, read_only=True, **engine_options)
    return Database(engine, created, read_engine)


def _has_tables(engine: Engine) -> bool:
    with connection_errors(engine), engine.connect() as connection:
        return bool(inspect(connection).get_table_names())
