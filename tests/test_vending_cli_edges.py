"""Two CLI edges: `sts db status` creates nothing, and `migrate export` keeps stdout one format."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from click.testing import CliRunner, Result
from conftest import VECTOR_DRN, VECTOR_SGC, register_vector_meter

import sts
from cli import main
from vending import keychange, migration, registry
from vending.backend import Backend
from vending.db import head_revision

ENV = {"STS_MASTER_KEY": bytes(range(32)).hex()}  # conftest.TEST_MASTER_KEY


def run(*args: str, url: str | None = None) -> Result:
    env = dict(ENV) | ({"STS_DATABASE_URL": url} if url else {})
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


# --- db status ---------------------------------------------------------------------------


def test_db_status_of_a_missing_sqlite_file_says_so_and_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "not-yet" / "vending.sqlite"
    shown = run("db", "status", "--db", f"sqlite:///{path}")
    assert shown.exit_code == 0, shown.output
    assert f"{path} does not exist yet" in shown.stdout
    as_json = run("db", "status", "--db", f"sqlite:///{path}", "--json")
    assert json.loads(as_json.stdout) == {
        "database": str(path),
        "exists": False,
        "revision": None,
        "head": head_revision(),
        "current": False,
    }
    assert not path.parent.exists()


def test_db_status_of_a_current_database(database_url: str) -> None:
    status = json.loads(run("db", "status", "--json", url=database_url).stdout)
    assert status["exists"] and status["current"]
    assert status["revision"] == status["head"] == head_revision()
    assert "(none)" not in run("db", "status", url=database_url).stdout


def test_db_status_of_an_empty_sqlite_file_needs_an_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "empty.sqlite"
    path.touch()
    shown = run("db", "status", "--db", f"sqlite:///{path}")
    assert f"schema (none), needs `sts db upgrade` to {head_revision()}" in shown.stdout
    assert path.stat().st_size == 0


# --- migrate export ----------------------------------------------------------------------


def _pending_rollover(backend: Backend) -> None:
    register_vector_meter(backend)
    registry.add_vending_key(
        backend, "krn2", sts.VendingKey.from_hex("9494949494949494"), VECTOR_SGC, 2, 2, 2014
    )
    migration.start(
        backend, migration.MigrationPlan("rollover", VECTOR_SGC, 1, 2, to_base_date=2014)
    )
    migration.create_orders(backend, "rollover")


def test_export_to_stdout_with_json_is_refused_before_anything_is_done(
    database_url: str, backend: Backend
) -> None:
    _pending_rollover(backend)
    refused = run(
        "migrate", "export", "rollover", "--file", "-", "--json", "--hand-out", url=database_url
    )
    assert refused.exit_code == 2
    assert refused.stdout == ""
    assert "give --file a path, or leave out --json" in refused.stderr
    # Not handed out: the set still waits for the meter's next vend.
    assert keychange.list_orders(backend, VECTOR_DRN)[0].status == "pending"


def test_export_to_stdout_is_csv_alone_and_to_a_file_with_json_is_json_alone(
    database_url: str, backend: Backend, tmp_path: Path
) -> None:
    _pending_rollover(backend)
    exported = run("migrate", "export", "rollover", "--file", "-", url=database_url)
    assert exported.exit_code == 0, exported.output
    rows = list(csv.reader(io.StringIO(exported.stdout)))
    assert rows[0] == list(migration.CSV_HEADER)
    assert len(rows) == 2
    # DRN, PAN, from KRN 1, to KRN 2, base date 2014, RO 1 (the base date changes), pending.
    assert rows[1][:7] == [VECTOR_DRN, "600727000000000009", "1", "2", "2014", "1", "pending"]
    sheet = tmp_path / "sets.csv"
    summary = run("migrate", "export", "rollover", "--file", str(sheet), "--json", url=database_url)
    assert json.loads(summary.stdout) == {
        "migration": "rollover",
        "exported": 1,
        "file": str(sheet),
        "progress": None,
    }
    assert sheet.read_text() == exported.stdout
