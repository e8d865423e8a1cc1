"""Ctrl-C as a user presses it: SIGINT to the installed `sts` command, a real process.

Issue 8, rough edge 3: a vend interrupted after its commit printed its receipt
and then died of the signal, so a till script counted a sold token as a
failure; and Ctrl-C while the command was loading printed a traceback.

The moments are made certain, not guessed: the vend's stdout is a pipe filled
to the brim beforehand, so the process blocks writing its receipt, after its
commit, until the test drains the pipe; the start-up is held inside the import
of ``click`` by a stand-in module found first on PYTHONPATH, which says when it
is there and then waits for the signal.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import VECTOR_VK

from cli import main

MASTER_HEX = "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF"
DRN = "47500150231"
STS = Path(sys.executable).with_name("sts")

pytestmark = pytest.mark.skipif(
    os.name != "posix" or not STS.exists(), reason="needs POSIX signals and the installed `sts`"
)


def _wait_for(condition: object, what: str) -> None:
    """Poll ``condition()`` until it is true (a bounded number of times)."""
    for _ in range(2000):
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.01)
    raise AssertionError(f"gave up waiting for {what}")


def _full_pipe() -> tuple[int, int]:
    """A pipe whose buffer is full: the next write to it blocks."""
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    try:
        while True:
            os.write(write_end, b"x" * 4096)
    except BlockingIOError:
        pass
    os.set_blocking(write_end, True)
    return read_end, write_end


def _sold(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT count(*) FROM transactions").fetchone()[0]


def test_a_vend_interrupted_after_its_commit_finishes_and_exits_0(tmp_path: Path) -> None:
    path = tmp_path / "v.sqlite"
    env = {**os.environ, "STS_DATABASE_URL": f"sqlite:///{path}", "STS_MASTER_KEY": MASTER_HEX}
    runner = CliRunner()
    for args, stdin in (
        (["keys", "add", "k", "--sgc", "123456", "--krn", "1", "--base-date", "2014"], VECTOR_VK),
        (["meters", "add", DRN, "--sgc", "123456"], None),
    ):
        done = runner.invoke(main, args, env=env, input=stdin)
        assert done.exit_code == 0, done.output
    read_end, write_end = _full_pipe()
    vend = subprocess.Popen(
        [str(STS), "vend", "credit", "--meter", DRN, "--units", "5", "--ref", "till-1/7"],
        stdout=write_end,
        stderr=subprocess.PIPE,
        env=env,
    )
    os.close(write_end)
    try:
        _wait_for(lambda: _sold(path) == 1, "the vend's commit")
        vend.send_signal(signal.SIGINT)
    finally:
        with os.fdopen(read_end, "rb") as pipe:
            printed = pipe.read().lstrip(b"x").decode()
        stderr = vend.communicate()[1].decode()
    assert vend.returncode == 0, stderr
    assert "Traceback" not in stderr and "Aborted" not in stderr
    assert "till-1/7" in printed and "Credit 5.0 kWh" in printed
    assert _sold(path) == 1


BLOCKER = """
import os, signal
open(os.environ["STS_TEST_READY"], "w").close()
signal.pause()  # the test's SIGINT ends this with KeyboardInterrupt
"""


def test_ctrl_c_while_the_command_loads_prints_one_line_and_exits_130(tmp_path: Path) -> None:
    stand_in = tmp_path / "stand_in"
    (stand_in / "click").mkdir(parents=True)
    (stand_in / "click" / "__init__.py").write_text(BLOCKER)
    ready = tmp_path / "ready"
    env = {**os.environ, "PYTHONPATH": str(stand_in), "STS_TEST_READY": str(ready)}
    loading = subprocess.Popen(
        [str(STS), "--help"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    try:
        _wait_for(ready.exists, "the start-up to reach `import click`")
        loading.send_signal(signal.SIGINT)
    finally:
        stdout, stderr = loading.communicate()
    assert loading.returncode == 130
    assert stderr.decode().splitlines() == ["sts: interrupted while starting"]
    assert stdout == b""


def test_the_installed_command_is_the_launcher() -> None:
    # The console script must enter through cli_launch (else start-up Ctrl-C is a traceback).
    assert "from cli_launch import run" in STS.read_text()
