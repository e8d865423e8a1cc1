"""Opening the vending database: what it creates, with which modes, and first use at once.

- The schema version is read with plain SQL and compared with ``HEAD_REVISION``;
  the constant is Alembic's real head and the reading agrees with Alembic's own.
- Only the commands that set up a ledger create a missing SQLite file; no command
  makes a folder except the default data folder; every other command on a missing
  database says so in one sentence (issue 8, rough edge 2).
- The default data folder is 0700 and a new SQLite file 0600 whatever the umask
  (issue 7, permissions).
- Eight processes opening one new file at once: one creates it, all succeed
  (issue 7, concurrent first use).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from click.testing import CliRunner, Result

from cli import main
from vending.db import (
    HEAD_REVISION,
    current_revision,
    make_engine,
    open_database,
    sqlite_url,
    upgrade,
)
from vending.errors import StorageError

ROOT = Path(__file__).resolve().parent.parent
MASTER_HEX = "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF"
DRN = "47500150231"
TARIFF = {
    "name": "Home",
    "currency": "ZAR",
    "blocks": [{"up_to_kwh": None, "price_per_kwh": "2.00"}],
}


# --- the schema version without Alembic -----------------------------------------------


def test_head_revision_constant_is_alembics_head() -> None:
    """Bump HEAD_REVISION in vending/db.py with every new file in migrations/versions."""
    config = Config()
    config.set_main_option("script_location", str(resources.files("migrations")))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD_REVISION


def _alembic_revision(url: str) -> str | None:
    engine = make_engine(url, inspect_only=True)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


@pytest.mark.parametrize("empty_database_url", ["sqlite", "postgresql"], indirect=True)
def test_the_plain_sql_revision_agrees_with_alembic_at_every_step(
    empty_database_url: str,
) -> None:
    engine = make_engine(empty_database_url)
    try:
        seen = []
        for step in (None, "0001", "head"):
            if step is not None:
                upgrade(engine, step)
            seen.append(current_revision(engine))
            assert seen[-1] == _alembic_revision(empty_database_url)
        assert seen == [None, "0001", HEAD_REVISION]
    finally:
        engine.dispose()


def test_opening_a_current_database_does_not_import_alembic(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "vending.sqlite")
    open_database(url).dispose()
    code = (
        "import sys\n"
        "from vending.db import open_database\n"
        f"open_database({url!r}, create=False).dispose()\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'alembic', 'mako'}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_database_at_an_older_revision_is_refused_with_the_upgrade_to_run(
    tmp_path: Path,
) -> None:
    url = sqlite_url(tmp_path / "old.sqlite")
    engine = make_engine(url)
    try:
        upgrade(engine, "0001")
    finally:
        engine.dispose()
    with pytest.raises(StorageError, match=f"is at revision 0001; expected {HEAD_REVISION}"):
        open_database(url)


# --- what the commands create ----------------------------------------------------------


def _env(**extra: str | None) -> dict[str, str | None]:
    """No database or master key from the developer's environment."""
    return {
        "STS_DATABASE_URL": None,
        "STS_MASTER_KEY_FILE": None,
        "STS_MASTER_KEY": MASTER_HEX,
        "TEST_VK": "ABABABABABABABAB",
    } | extra


def _run(args: list[str], **env: str | None) -> Result:
    return CliRunner().invoke(main, args, env=_env(**env), catch_exceptions=False)


def _one_sentence(result: Result) -> str:
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return lines[0]


#: Every vending command that needs a ledger already there, with arguments it accepts.
NEEDS_A_LEDGER = [
    ["keys", "list"],
    ["keys", "retire", "some-key"],
    ["tariffs", "show", "Home"],
    ["tariffs", "list"],
    ["meters", "add", DRN, "--sgc", "123456"],
    ["meters", "show", DRN],
    ["meters", "list"],
    ["meters", "set", DRN, "--customer", "Alice"],
    ["vend", "credit", "--meter", DRN, "--money", "10"],
    ["vend", "clear-credit", "--meter", DRN],
    ["vend", "clear-tamper", "--meter", DRN],
    ["vend", "power-limit", "--meter", DRN, "--watts", "1000"],
    ["vend", "phase-unbalance", "--meter", DRN, "--watts", "1000"],
    ["vend", "test", "--meter", DRN, "--show", "krn"],
    ["vend", "reprint", "--ref", "till-1/1"],
    ["vend", "reverse", "--ref", "till-1/1"],
    ["keychange", "order", "--meter", DRN, "--ti", "2"],
    ["keychange", "issue", "--meter", DRN],
    ["keychange", "cancel", "--meter", DRN],
    ["keychange", "list"],
    ["migrate", "start", "r", "--sgc", "1", "--from-krn", "1", "--to-krn", "2",
     "--base-date", "2014"],
    ["migrate", "resume", "r"],
    ["migrate", "status"],
    ["migrate", "export", "r", "--file", "-"],
    ["report", "sales"],
    ["report", "migration"],
    ["report", "verify"],
]  # fmt: skip


@pytest.mark.parametrize("args", NEEDS_A_LEDGER, ids=lambda args: " ".join(args[:2]))
def test_a_command_on_a_missing_database_says_so_and_creates_nothing(
    args: list[str], tmp_path: Path
) -> None:
    mistyped = tmp_path / "no" / "dir" / "x.sqlite"  # the sqlite:////no/dir/x.sqlite
    beside = tmp_path / "typo.sqlite"  # a mistyped name in a folder that exists
    for path in (mistyped, beside):
        line = _one_sentence(_run([*args, "--db", sqlite_url(path)]))
        assert line == (
            f"Error: the SQLite database {path} does not exist; expected an existing vending "
            "database (check --db or STS_DATABASE_URL, or create it with `sts db upgrade`)"
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_the_default_database_is_not_created_by_a_read_only_command(tmp_path: Path) -> None:
    data = tmp_path / "xdg"
    line = _one_sentence(_run(["meters", "list"], XDG_DATA_HOME=str(data)))
    assert f"the SQLite database {data / 'sts-toolkit' / 'vending.sqlite'} does not exist" in line
    assert not data.exists()


def _setting_up(tmp_path: Path) -> list[list[str]]:
    tariff = tmp_path / "home.json"
    tariff.write_text(json.dumps(TARIFF))
    return [
        ["keys", "add", "k", "--sgc", "123456", "--krn", "1", "--base-date", "2014",
         "--key-env", "TEST_VK"],
        ["tariffs", "add", str(tariff)],
        ["meters", "customer", "Alice"],
        ["db", "upgrade"],
    ]  # fmt: skip


def test_commands_that_set_up_a_ledger_make_no_missing_folder(tmp_path: Path) -> None:
    path = tmp_path / "no" / "dir" / "x.sqlite"
    for args in _setting_up(tmp_path):
        line = _one_sentence(_run([*args, "--db", sqlite_url(path)]))
        assert line == (
            f"Error: cannot create the SQLite database {path}: the folder {path.parent} does "
            "not exist; expected an existing folder (create it first, or check --db)"
        )
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("step", [0, 1, 2, 3], ids=["keys add", "tariffs add", "customer", "db"])
def test_commands_that_set_up_a_ledger_create_it_in_an_existing_folder(
    step: int, tmp_path: Path
) -> None:
    path = tmp_path / "vending.sqlite"
    result = _run([*_setting_up(tmp_path)[step], "--db", sqlite_url(path)])
    assert result.exit_code == 0, result.output
    assert current_revision(make_engine(sqlite_url(path), inspect_only=True)) == HEAD_REVISION
    listed = _run(["tariffs", "list", "--json", "--db", sqlite_url(path)])
    assert listed.exit_code == 0, listed.output


@contextmanager
def _umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_default_folder_is_0700_and_the_database_0600_whatever_the_umask(
    tmp_path: Path,
) -> None:
    data = tmp_path / "xdg"
    with _umask(0):
        result = _run(["meters", "customer", "Alice"], XDG_DATA_HOME=str(data))
    assert result.exit_code == 0, result.output
    folder = data / "sts-toolkit"
    assert f"Created the vending database {folder / 'vending.sqlite'}" in result.stderr
    assert _mode(folder) == 0o700
    assert _mode(folder / "vending.sqlite") == 0o600
    # The folder made for the default database is the only one: nothing beside it.
    assert sorted(p.name for p in data.iterdir()) == ["sts-toolkit"]


@pytest.mark.parametrize("how", ["open_database", "upgrade"])
def test_a_new_sqlite_file_and_its_wal_are_0600_whatever_the_umask(
    how: str, tmp_path: Path
) -> None:
    path = tmp_path / "vending.sqlite"
    with _umask(0):
        if how == "open_database":
            database = open_database(sqlite_url(path))
            engine = database.engine
        else:
            engine = make_engine(sqlite_url(path))
            upgrade(engine)
        try:
            with engine.begin() as connection:  # a write, so that the WAL file exists
                connection.exec_driver_sql("CREATE TABLE scratch (x INTEGER)")
            files = sorted(tmp_path.iterdir())
            assert [p.name for p in files] == [
                "vending.sqlite",
                "vending.sqlite-shm",
                "vending.sqlite-wal",
            ]
            assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}
        finally:
            engine.dispose()
    assert _mode(tmp_path) == 0o700  # pytest's own folder: not changed by us


def test_an_existing_database_keeps_the_mode_its_owner_gave_it(tmp_path: Path) -> None:
    path = tmp_path / "vending.sqlite"
    open_database(sqlite_url(path)).dispose()
    path.chmod(0o640)
    open_database(sqlite_url(path)).dispose()
    assert _mode(path) == 0o640


# --- first use by several processes at once --------------------------------------------

WORKERS = 8
ROUNDS = 6


def _first_use(url: str, barrier: object, results: object) -> None:
    barrier.wait()  # type: ignore[attr-defined]
    try:
        database = open_database(url)
    except Exception as exc:  # reported to the parent, which fails the test with it
        results.put(("error", f"{type(exc).__name__}: {exc}"))  # type: ignore[attr-defined]
        return
    database.dispose()
    results.put(("created" if database.created else "opened", ""))  # type: ignore[attr-defined]


def test_eight_processes_opening_a_new_file_at_once_all_succeed(tmp_path: Path) -> None:
    # fork: the workers start with everything imported, so they reach the barrier
    # together and race for the file as closely as processes can.
    context = multiprocessing.get_context("fork")
    for round_ in range(ROUNDS):
        url = sqlite_url(tmp_path / f"round{round_}.sqlite")
        barrier, results = context.Barrier(WORKERS), context.Queue()
        workers = [
            context.Process(target=_first_use, args=(url, barrier, results)) for _ in range(WORKERS)
        ]
        for worker in workers:
            worker.start()
        outcomes = [results.get(timeout=120) for _ in workers]
        for worker in workers:
            worker.join()
        assert sorted(outcomes) == [("created", "")] + [("opened", "")] * (WORKERS - 1), (
            f"round {round_}: {outcomes}"
        )
        assert current_revision(make_engine(url, inspect_only=True)) == HEAD_REVISION


def test_eight_sts_commands_setting_up_one_new_ledger_at_once(tmp_path: Path) -> None:
    sts = Path(sys.executable).with_name("sts")
    if not sts.exists():
        pytest.skip(f"the installed command is not beside {sys.executable}")
    url = sqlite_url(tmp_path / "vending.sqlite")
    env = {k: v for k, v in os.environ.items() if not k.startswith("STS_")}
    env |= {"STS_DATABASE_URL": url, "STS_MASTER_KEY": MASTER_HEX}
    files = []
    for n in range(WORKERS):
        files.append(tmp_path / f"tariff{n}.json")
        files[-1].write_text(json.dumps(TARIFF | {"name": f"Tariff {n}"}))
    processes = [
        subprocess.Popen(
            [str(sts), "tariffs", "add", str(file)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for file in files
    ]
    errors = []
    created = 0
    for process in processes:
        _, err = process.communicate(timeout=300)
        if process.returncode != 0:
            errors.append(err.strip())
        created += "Created the vending database" in err
    assert errors == []
    assert created == 1
    listed = _run(["tariffs", "list", "--json", "--db", url])
    assert listed.exit_code == 0, listed.output
    assert sorted(t["name"] for t in json.loads(listed.stdout)) == [
        f"Tariff {n}" for n in range(WORKERS)
    ]


# --- files the meter commands write ----------------------------------------------------


@pytest.mark.parametrize("folder", ["missing", "a file"])
def test_meter_new_in_a_folder_that_is_not_there_is_one_sentence(
    folder: str, tmp_path: Path
) -> None:
    parent = tmp_path / "no" / "such" / "dir"
    if folder == "a file":
        parent = tmp_path / "plain.txt"
        parent.write_text("not a folder\n")
    state = parent / "m.json"
    result = _run(["meter", "new", str(state), "--dk", "E653341F9D5BF36F", "--drn", DRN])
    state_of = "does not exist" if folder == "missing" else "is not a folder"
    assert _one_sentence(result) == (
        f"Error: cannot write the meter state file {state}: the folder {parent} {state_of}; "
        "expected an existing folder"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == (
        [] if folder == "missing" else ["plain.txt"]
    )


def _upgrade_at_once(url: str, barrier: object, results: object) -> None:
    barrier.wait()  # type: ignore[attr-defined]
    engine = make_engine(url)
    try:
        results.put(("ok", upgrade(engine)))  # type: ignore[attr-defined]
    except Exception as exc:  # reported to the parent, which fails the test with it
        results.put(("error", f"{type(exc).__name__}: {exc}"))  # type: ignore[attr-defined]
    finally:
        engine.dispose()


@pytest.mark.parametrize("empty_database_url", ["sqlite", "postgresql"], indirect=True)
def test_four_schema_upgrades_at_once_all_succeed(empty_database_url: str) -> None:
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(4), context.Queue()
    workers = [
        context.Process(target=_upgrade_at_once, args=(empty_database_url, barrier, results))
        for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join()
    # One upgrades from nothing; the others wait, then find it done.
    assert sorted(outcomes, key=str) == [("ok", (HEAD_REVISION, HEAD_REVISION))] * 3 + [
        ("ok", (None, HEAD_REVISION))
    ], outcomes
