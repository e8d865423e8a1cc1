"""`sts report verify` and `sts report checkpoint` as a user runs them (both engines)."""

# ruff: noqa: F811  (the sts_cli fixture is shared with test_vending_cli)

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from conftest import VECTOR_VK
from test_vending_cli import MASTER_HEX, ROOT, Sts, one_line_error, sts_cli  # noqa: F401

from vending.db import make_engine


def _sql(url: str, statement: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(statement)
    finally:
        engine.dispose()


def test_checkpoint_then_verify_against_it_and_since_it(sts_cli: Sts, tmp_path: Path) -> None:
    point = tmp_path / "head.checkpoint"
    written = sts_cli.json("report", "checkpoint", str(point))
    assert written["seq"] == json.loads(point.read_text())["seq"]  # type: ignore[index]
    again = sts_cli("report", "checkpoint", str(point))
    assert "already exists" in one_line_error(again)
    # (The 1993 key has no TIDs left by the real clock: a debt change is the next entry.)
    changed = sts_cli("meters", "customer", "Alice", "--debt", "5")
    assert changed.exit_code == 0, changed.output
    full = sts_cli("report", "verify", "--checkpoint", str(point))
    assert full.exit_code == 0, full.output
    assert f"checkpoint entry {written['seq']} intact" in full.stdout  # type: ignore[index]
    since = sts_cli.json("report", "verify", "--since", str(point))
    assert (since["ok"], since["entries"], since["since"]) == (True, 1, written["seq"])  # type: ignore[index]
    both = sts_cli("report", "verify", "--checkpoint", str(point), "--since", str(point))
    assert both.exit_code == 2


def test_a_forged_or_junk_checkpoint_is_one_sentence(sts_cli: Sts, tmp_path: Path) -> None:
    point = tmp_path / "head.checkpoint"
    assert sts_cli("report", "checkpoint", str(point)).exit_code == 0
    data = json.loads(point.read_text())
    data["seq"] += 5
    forged = tmp_path / "forged.checkpoint"
    forged.write_text(json.dumps(data))
    assert "is not signed under master key" in one_line_error(
        sts_cli("report", "verify", "--checkpoint", str(forged))
    )
    for name, content in (("junk", b"\xff\x00 not json"), ("big", b"{" * 100_000)):
        path = tmp_path / name
        path.write_bytes(content)
        error = one_line_error(sts_cli("report", "verify", "--checkpoint", str(path)))
        assert str(path) in error
    missing = one_line_error(sts_cli("report", "verify", "--since", str(tmp_path / "none")))
    assert "cannot be read" in missing


def test_tampering_fails_verify_and_refuses_a_checkpoint(
    sts_cli: Sts, database_url: str, tmp_path: Path
) -> None:
    _sql(database_url, "UPDATE meters SET last_tid = 5")
    _sql(database_url, "UPDATE ledger_entries SET body = 'not json' WHERE seq = 1")
    result = sts_cli("report", "verify")
    assert result.exit_code == 1
    assert "entry 1: altered (its body is not a ledger entry)" in result.stderr
    assert "meter 00000000000: last_tid is 5 but the ledger says None" in result.stderr
    assert "Traceback" not in result.output
    refused = sts_cli("report", "checkpoint", str(tmp_path / "c"))
    assert "no checkpoint was taken" in one_line_error(refused)
    assert not (tmp_path / "c").exists()


def test_verify_help_says_what_it_proves_and_what_it_cannot(sts_cli: Sts) -> None:
    shown = sts_cli("report", "verify", "--help").output
    assert "Proves, with the master key" in shown
    assert "Cannot prove: anything against a writer who holds the master key" in shown
    for junk in ("0", "65", "two"):
        assert sts_cli("report", "verify", "--workers", junk).exit_code == 2
    assert sts_cli("report", "verify", "--workers", "2").exit_code == 0  # a short ledger: one


def test_keys_add_under_another_master_key_is_refused(sts_cli: Sts) -> None:
    other = sts_cli.runner.invoke(
        __import__("cli").main,
        ["keys", "add", "krn2", "--sgc", "123456", "--krn", "2"],
        input=VECTOR_VK + "\n",
        env={"STS_DATABASE_URL": sts_cli.url, "STS_MASTER_KEY": "11" * 32},
    )
    assert other.exit_code == 1
    assert other.stderr.splitlines()[-1].startswith("Error: master key ")
    assert "is not this database's master key" in other.stderr
    assert [k["label"] for k in sts_cli.json("keys", "list")] == ["ctsa"]  # type: ignore[index]


def test_verify_and_checkpoint_as_real_processes(sts_cli: Sts, tmp_path: Path) -> None:
    env = {**os.environ, "STS_DATABASE_URL": sts_cli.url, "STS_MASTER_KEY": MASTER_HEX}
    point = tmp_path / "p.checkpoint"
    for args in (["report", "checkpoint", str(point)], ["report", "verify", "--since", str(point)]):
        done = subprocess.run(
            [sys.executable, "-m", "cli", *args], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
    assert "Ledger intact: 0 entries after checkpoint entry" in done.stdout
    engine = make_engine(sts_cli.url)
    try:
        with engine.connect() as connection:
            head = connection.execute(sa.text("SELECT seq FROM ledger_head")).scalar_one()
    finally:
        engine.dispose()
    assert json.loads(point.read_text())["seq"] == head
