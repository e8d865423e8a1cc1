"""Shared fixtures: vending databases on SQLite and on a real PostgreSQL server.

``database_url`` is parametrised over both engines, so every test that uses it
(directly or through ``database`` or ``backend``) runs twice. SQLite gets a fresh
file in the test's temporary folder. PostgreSQL needs a server: set
``STS_TEST_POSTGRES_URL`` to a database on it that the test user may create
databases from (``.ci/run`` starts one); each test then gets its own database,
cloned from a template upgraded once per session by Alembic. Without the
variable, or when the server cannot be reached, the PostgreSQL half is skipped
and says why.
"""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import settings

from vending.backend import Backend
from vending.db import Database, make_engine, open_database, sqlite_url, upgrade
from vending.keystore import MasterKey

# Property tests explore new random examples on every developer run; CI
# (HYPOTHESIS_PROFILE=ci, set by .ci/run) replays a fixed, derandomised set so
# that a landing never depends on luck. No profile puts a time limit on a test.
settings.register_profile("dev", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

POSTGRES_ENV = "STS_TEST_POSTGRES_URL"
TEMPLATE_DB = "sts_test_template"
#: A fixed master key for tests (never used outside them).
TEST_MASTER_KEY = MasterKey(bytes(range(32)))


@dataclass
class Clock:
    """A clock the test moves by hand."""

    now: datetime = field(default_factory=lambda: datetime(2024, 3, 1, 8, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, minutes: float = 0, days: float = 0) -> None:
        self.now += timedelta(minutes=minutes, days=days)


class _Postgres:
    """The server behind STS_TEST_POSTGRES_URL: a template database and throwaway clones."""

    def __init__(self, url: str) -> None:
        self.url = sa.engine.make_url(url).set(drivername="postgresql+psycopg")
        self.admin = sa.create_engine(self.url, isolation_level="AUTOCOMMIT")
        self.ready = False
        # One template per database named in the URL, so that test runs against the same
        # server from different databases (several worktrees) do not rebuild each other's.
        self.template = f"{TEMPLATE_DB}_{self.url.database}"

    def prepare(self) -> None:
        if self.ready:
            return
        with self.admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {self.template} WITH (FORCE)")
            connection.exec_driver_sql(f"CREATE DATABASE {self.template}")
        engine = make_engine(self.url.set(database=self.template).render_as_string(False))
        try:
            upgrade(engine)
        finally:
            engine.dispose()
        self.ready = True

    def clone(self) -> str:
        name = f"sts_test_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {name} TEMPLATE {self.template}")
        return self.url.set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        name = sa.engine.make_url(url).database
        with self.admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


_postgres: _Postgres | None = None
_postgres_skip: str | None = None


def _server() -> _Postgres:
    global _postgres, _postgres_skip
    if _postgres_skip is not None:
        pytest.skip(_postgres_skip)
    if _postgres is None:
        url = os.environ.get(POSTGRES_ENV)
        if not url:
            _postgres_skip = f"PostgreSQL tests need {POSTGRES_ENV} (a database URL); it is unset"
            pytest.skip(_postgres_skip)
        try:
            server = _Postgres(url)
            server.prepare()
        except sa.exc.OperationalError as exc:
            first = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            _postgres_skip = f"PostgreSQL at {POSTGRES_ENV} cannot be reached: {first}"
            pytest.skip(_postgres_skip)
        _postgres = server
    return _postgres


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A URL to an empty, current-schema vending database on each engine."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "vending.sqlite"
        database = open_database(sqlite_url(path))
        database.dispose()
        yield sqlite_url(path)
        return
    server = _server()
    url = server.clone()
    try:
        yield url
    finally:
        server.drop(url)


@pytest.fixture
def empty_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A URL to a database with no schema at all (SQLite file not yet created, or empty PG)."""
    yield from _empty(request.param, tmp_path_factory)


def _empty(kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if kind == "sqlite":
        yield sqlite_url(tmp_path_factory.mktemp("db") / "fresh.sqlite")
        return
    server = _server()
    name = f"sts_test_{uuid.uuid4().hex[:12]}"
    with server.admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    url = server.url.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        server.drop(url)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    opened = open_database(database_url)
    try:
        yield opened
    finally:
        opened.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def backend(database: Database, clock: Clock) -> Backend:
    """Services on the parametrised database, a hand-moved clock and seeded randomness."""
    return Backend.open(database, TEST_MASTER_KEY, clock, random.Random(20240301))


# --- a meter from the public compliance tests --------------------------------------------

#: Vending key, meter and decoder key of the STS compliance tests (CTSA03/CTSA05/CTSA20):
#: DKGA02, SGC 123456, KRN 1, KT 2, TI 01, base date 1993.
VECTOR_VK = "ABABABABABABABAB"
VECTOR_DRN = "00000000000"  # MeterPAN 600727000000000009
VECTOR_DK = "E653341F9D5BF36F"
VECTOR_SGC = 123456


class FixedBits:
    """A random source that always gives the same value (for published tokens with RND 5)."""

    def __init__(self, value: int) -> None:
        self.value = value

    def getrandbits(self, k: int, /) -> int:
        return self.value & ((1 << k) - 1)


def register_vector_meter(backend: Backend, ken: int = 255, tariff: str | None = None) -> str:
    """Add the compliance-test vending key and meter; returns the DRN."""
    from sts.crypto.keys import VendingKey
    from vending import registry

    registry.add_vending_key(
        backend,
        "ctsa-krn1",
        VendingKey.from_hex(VECTOR_VK),
        VECTOR_SGC,
        krn=1,
        kt=2,
        base_date=1993,
    )
    registry.add_meter(backend, VECTOR_DRN, VECTOR_SGC, krn=1, kt=2, ti=1, ken=ken, tariff=tariff)
    return VECTOR_DRN


@pytest.fixture
def vector_meter(backend: Backend) -> str:
    return register_vector_meter(backend)
