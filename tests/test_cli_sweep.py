"""Junk into every option of every command: refused in one line, nothing written.

The sweep walks the click app (``cli.main``) for every command and subcommand
and, for every parameter that takes a value, runs the command with a valid set
of the other values and junk in that one: numbers too large for anything
(``1e400``, 400 nines), ``nan``, letters, Arabic-Indic digits, underscores,
a 10,000-character string, a NUL byte and other control characters. Each run
must exit 1 (refused) or 2 (bad usage) with one line on stderr and no
traceback, and leave the SQLite ledger, the meter's state file and the working
folder as they were.

Each parameter gets the junk that its type could mistake for a value (every
kind for decimal amounts, a rotating pair of numbers for other numeric types,
the text junk for text and paths), which keeps the sweep to some hundreds of
runs.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from conftest import VECTOR_DRN, VECTOR_VK

from cli import main

MASTER_HEX = "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF"
VECTOR_DK = "E653341F9D5BF36F"
VECTORS = Path(__file__).resolve().parent / "vectors" / "sts-public.jsonl"
OTHER_DRN = "47500150231"
TARIFF = {
    "name": "Home",
    "currency": "ZAR",
    "blocks": [
        {"up_to_kwh": "50", "price_per_kwh": "1.50"},
        {"up_to_kwh": None, "price_per_kwh": "2.00"},
    ],
    "vat_percent": "15",
}

KEYPAD_ENTRY = ("meter enter", "meter keys")
NUMBER_JUNK = ("1e400", "nan", "abc", "\u0661\u0660\u0660", "1_000", "9" * 400, "inf", "1e15")
TEXT_JUNK = ("x" * 10_000, "a\x00b", "bell\x07\x1b[2J")


@dataclass
class Place:
    """The sweep's working folder: a ledger, a master key file, a meter, input files."""

    root: Path
    db: Path
    state: Path
    env: dict[str, str]

    def fingerprint(self, state: bool = True) -> str:
        """Every row of every table, the state file and the folder's other files."""
        digest = hashlib.sha256()
        with sqlite3.connect(self.db) as connection:
            for line in connection.iterdump():
                digest.update(line.encode())
        connection.close()
        digest.update(self.files(state).encode())
        return digest.hexdigest()

    def files(self, state: bool = True) -> str:
        """Name, size and modification time of every file but the ledger's (cheap)."""
        listing = []
        for path in sorted(self.root.rglob("*")):
            if path.name.startswith(self.db.name) or (path == self.state and not state):
                continue  # the -wal and -shm files change when connections open and close
            info = path.stat()
            listing.append(f"{path.relative_to(self.root)} {info.st_size} {info.st_mtime_ns}")
        return "\n".join(listing)


def _run(runner: CliRunner, env: dict[str, str], args: list[str]) -> Result:
    return runner.invoke(main, args, env=env, catch_exceptions=True)


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Place]:
    root = tmp_path_factory.mktemp("sweep")
    db = root / "vending.sqlite"
    master = root / "master.key"
    env = {
        "STS_DATABASE_URL": f"sqlite:///{db}",
        "STS_MASTER_KEY": "",
        "STS_MASTER_KEY_FILE": str(master),
        "STS_TEST_VK": VECTOR_VK,
        "HOME": str(root),
        "XDG_DATA_HOME": str(root / "data"),
    }
    runner = CliRunner()
    (root / "home.json").write_text(json.dumps(TARIFF))
    (root / "other.json").write_text(json.dumps({**TARIFF, "name": "Other"}))
    state = root / "meter.json"
    steps = [
        ["keys", "add", "ctsa", "--sgc", "123456", "--krn", "1", "--base-date", "2014",
         "--key-env", "STS_TEST_VK"],
        ["keys", "add", "ctsa2", "--sgc", "123456", "--krn", "2", "--base-date", "2014",
         "--key-env", "STS_TEST_VK"],
        ["tariffs", "add", str(root / "home.json")],
        ["meters", "add", VECTOR_DRN, "--sgc", "123456", "--tariff", "Home", "--customer", "Alice"],
        ["vend", "credit", "--meter", VECTOR_DRN, "--money", "100", "--ref", "ref-1"],
        # Made at the default time (yesterday), so that an entry moving its clock to now
        # adds a day's records at most, not years of them.
        ["meter", "new", str(state), "--dk", VECTOR_DK, "--drn", OTHER_DRN],
    ]  # fmt: skip
    for step in steps:
        result = _run(runner, env, step)
        assert result.exit_code == 0, (step, result.output)
    yield Place(root, db, state, env)


def _baselines(place: Place) -> dict[str, dict[str, str]]:
    """Valid values for each command's parameters (by parameter name)."""
    derive = {"dkga": "02", "vk": VECTOR_VK, "pan": "600727000000000009", "sgc": "123456",
              "kt": "2", "ti": "1", "krn": "1"}  # fmt: skip
    keyed = {"dk": VECTOR_DK, "tid": "100"}
    state = str(place.state)
    return {
        "demo": {},
        "meter new": {
            "file": str(place.root / "new.json"),
            "dk": VECTOR_DK,
            "drn": OTHER_DRN,
            "manufactured": "2025-01-01 08:00+00:00",
        },
        "meter enter": {"file": state, "digits": "5090 1894 2098 6026 3092"},
        "meter run": {"file": state, "duration": "1h"},
        "meter show": {"file": state},
        "meter keypad": {"file": state},
        # A server runs until stopped: with a master key file that is not there it must
        # refuse whatever else is given, so a junk value that happens to be valid (a port
        # of 1000) never starts one.
        "serve": {"master_key_file": str(place.root / "absent.key")},
        "meter keys": {"file": state, "keys": "1E"},
        "meter registers": {"file": state},
        "meter profile": {"file": state},
        "meter billing": {"file": state},
        "meter events": {"file": state},
        "meter relay": {"file": state},
        "meter tamper": {"file": state, "kind": "meter_cover"},
        "meter mode": {"file": state, "payment_mode": "postpaid"},
        "conformance run": {"vector_file": str(VECTORS)},
        "key derive": derive,
        "token encode credit": {**keyed, "quantity": "25.5"},
        "token encode power-limit": {**keyed, "watts": "1000"},
        "token encode phase-unbalance": {**keyed, "watts": "1000"},
        "token encode clear-credit": keyed,
        "token encode clear-tamper": keyed,
        "token encode tariff-rate": {**keyed, "value": "5"},
        "token encode water-factor": {**keyed, "value": "5"},
        "token encode test": {},
        "token encode key-change": {**derive, "new_ti": "2"},
        "token decode": {"digits": "5090 1894 2098 6026 3092", "dk": VECTOR_DK, "bd": "1993"},
        "keys add": {
            "label": "k3",
            "sgc": "123456",
            "krn": "3",
            "base_date": "2014",
            "key_env": "STS_TEST_VK",
        },
        "keys retire": {"label": "ctsa"},
        "tariffs add": {"file": str(place.root / "other.json")},
        "tariffs show": {"name": "Home"},
        "meters add": {"drn": OTHER_DRN, "sgc": "123456", "tariff": "Home", "customer": "Bob"},
        "meters show": {"drn": VECTOR_DRN},
        "meters set": {"drn": VECTOR_DRN, "tariff": "Home", "customer": "Carol"},
        "meters customer": {"name": "Alice", "debt": "10"},
        "vend credit": {"drn": VECTOR_DRN, "money": "100", "reference": "ref-2"},
        "vend clear-credit": {"drn": VECTOR_DRN},
        "vend clear-tamper": {"drn": VECTOR_DRN},
        "vend power-limit": {"drn": VECTOR_DRN, "watts": "1000"},
        "vend phase-unbalance": {"drn": VECTOR_DRN, "watts": "1000"},
        "vend test": {"drn": VECTOR_DRN},
        "vend reprint": {"reference": "ref-1"},
        "vend reverse": {"reference": "ref-1"},
        "keychange order": {"drn": VECTOR_DRN, "ti": "2"},
        "keychange issue": {"drn": VECTOR_DRN},
        "keychange cancel": {"drn": VECTOR_DRN},
        "migrate start": {
            "name": "m1",
            "sgc": "123456",
            "from_krn": "1",
            "to_krn": "2",
            "base_date": "2014",
        },
        "migrate resume": {"name": "m1"},
        "migrate export": {"name": "m1", "out": str(place.root / "out.csv")},
    }


def _commands(
    group: click.Group, path: tuple[str, ...] = ()
) -> Iterator[tuple[str, click.Command]]:
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))
        else:
            yield " ".join((*path, name)), command


def _takes_value(param: click.Parameter) -> bool:
    return not (isinstance(param, click.Option) and (param.is_flag or param.count))


def _argv(command: click.Command, values: dict[str, str]) -> list[str]:
    """The command line for ``values``: arguments in order, then options."""
    argv: list[str] = []
    for param in command.params:
        if isinstance(param, click.Argument) and param.name in values:
            argv.append(values[param.name])
    for param in command.params:
        if isinstance(param, click.Option) and param.name in values:
            argv += [param.opts[0], values[param.name]]
    return argv


def _junk_for(param: click.Parameter, counter: int) -> tuple[str, ...]:
    kind = param.type
    if type(kind).__name__ == "_Amount":
        return NUMBER_JUNK + TEXT_JUNK[:2]
    if isinstance(kind, click.types.StringParamType | click.Path | click.File):
        return TEXT_JUNK
    # numbers, times, durations, powers, choices: two rotating numbers and one text
    return (
        NUMBER_JUNK[counter % len(NUMBER_JUNK)],
        NUMBER_JUNK[(counter + 3) % len(NUMBER_JUNK)],
        TEXT_JUNK[counter % len(TEXT_JUNK)],
    )


def _cases(place: Place) -> list[tuple[str, list[str], str, str]]:
    baselines = _baselines(place)
    cases = []
    counter = 0
    for path, command in _commands(main):
        values = baselines.get(path, {})
        for param in command.params:
            if not _takes_value(param) or param.name is None:
                continue
            counter += 1
            for junk in _junk_for(param, counter):
                argv = [*path.split(), *_argv(command, {**values, param.name: junk})]
                cases.append((path, argv, param.name, junk))
    return cases


def _one_line(text: str) -> bool:
    return len([line for line in text.splitlines() if line.strip()]) == 1


def test_every_option_refuses_junk_in_one_line_and_writes_nothing(
    place: Place, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(place.root)
    runner = CliRunner()
    cases = _cases(place)
    assert 500 < len(cases) < 1500, len(cases)
    failures: list[str] = []
    # data_version changes whenever another connection commits to the ledger: checked
    # here with a valid write, so that an unchanged version below means nothing was written.
    watch = sqlite3.connect(place.db)
    version = watch.execute("PRAGMA data_version").fetchone()
    assert _run(runner, place.env, ["meters", "customer", "Zed"]).exit_code == 0
    assert watch.execute("PRAGMA data_version").fetchone() != version
    start = place.fingerprint(state=False)
    try:
        for path, argv, name, junk in cases:
            # A meter records a rejected keypad entry (its lockout counter and event log):
            # junk typed on it may change its state, by a bounded amount.
            keyed = path in KEYPAD_ENTRY and name in ("digits", "keys")
            size = place.state.stat().st_size
            version = watch.execute("PRAGMA data_version").fetchone()
            files = place.files(state=not keyed)
            result = _run(runner, place.env, argv)
            problems = []
            if place.state.stat().st_size > size + 2_000:
                problems.append(f"state file grew by {place.state.stat().st_size - size} bytes")
            if result.exit_code not in (1, 2):
                problems.append(f"exit {result.exit_code}")
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                problems.append(f"raised {type(result.exception).__name__}: {result.exception}")
            if "Traceback" in result.stderr or not _one_line(result.stderr):
                problems.append(f"stderr {result.stderr[:300]!r}")
            if len(result.stderr) > 600:
                problems.append(f"stderr of {len(result.stderr)} characters")
            if watch.execute("PRAGMA data_version").fetchone() != version:
                problems.append("committed to the ledger")
            if place.files(state=not keyed) != files:
                problems.append("wrote a file")
            if problems:
                failures.append(f"sts {path} {name}={junk[:20]!r}: {'; '.join(problems)}")
    finally:
        watch.close()
    assert not failures, f"{len(failures)} of {len(cases)} runs:\n" + "\n".join(failures)
    assert place.fingerprint(state=False) == start


def _value_params() -> list[tuple[str, str]]:
    return [
        (path, param.name or "")
        for path, command in _commands(main)
        for param in command.params
        if _takes_value(param)
    ]


def test_the_sweep_reaches_every_command_and_value_parameter(place: Place) -> None:
    swept = {(path, name) for path, _argv, name, _junk in _cases(place)}
    assert swept == set(_value_params())
    commands = {path for path, _ in _commands(main)}
    assert {"vend credit", "meters customer", "token encode credit", "meter run"} <= commands
