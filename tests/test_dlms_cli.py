"""`sts meter serve` as a real process, `sts dlms` against it, and the lock on a served file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from sts.meter import state as meter_state
from sts.meter.dlms.lock import MeterServedError, check_not_served, lock_path
from tests.dlms_support import CREDIT_01KWH, CTSA_DK, make_meter

REPO_ROOT = Path(__file__).resolve().parent.parent


def sts(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def serving(tmp_path: Path):
    """A meter state file served by `sts meter serve` in its own process; stops with SIGTERM."""
    file = tmp_path / "m.json"
    meter_state.save(make_meter(), file)
    process = subprocess.Popen(
        [sys.executable, "cli.py", "meter", "serve", str(file), "--port", "0", "--frozen-clock"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    assert "serving meter 00000000000" in line, process.stderr.read()
    port = int(line.split(" on 127.0.0.1:")[1].split(";")[0])
    try:
        yield file, f"127.0.0.1:{port}", process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        process.communicate()


def test_serve_push_tokens_read_back_and_save_on_sigterm(serving):
    file, address, process = serving
    settings = f"{file}.dlms.json"
    assert os.stat(settings).st_mode & 0o077 == 0  # passwords and keys: owner only
    pushed = sts("dlms", "push-token", address, CREDIT_01KWH, "--settings", settings, "--json")
    assert pushed.exit_code == 0, pushed.output
    assert json.loads(pushed.output) == {
        "status": 3,
        "sts_result": 1,
        "description": ["STS 1 Accept"],
        "accepted": True,
    }
    again = sts("dlms", "push-token", address, CREDIT_01KWH, "--settings", settings)
    assert again.exit_code == 1
    assert "STS 10 Used" in again.output
    wallet = sts("dlms", "get", address, "0.0.19.10.0.255", "2", "--settings", settings, "--json")
    assert json.loads(wallet.output) == {"data": "0500000064", "value": 100}
    # HLS twice: the client starts at the frame counter the server publishes
    for _ in range(2):
        ldn = sts("dlms", "get", address, "0-0:42.0.0.255", "2", "--settings", settings, "--hls")
        assert ldn.exit_code == 0, ldn.output
        assert ldn.output.startswith("090e" + b"STS00000000000".hex())

    # while served, the other meter commands refuse the file
    refused = sts("meter", "enter", str(file), CREDIT_01KWH)
    assert refused.exit_code == 1
    assert "being served by `sts meter serve`" in refused.output
    assert sts("meter", "new", str(file), "--dk", CTSA_DK, "--drn", "00000000000",
               "--sgc", "1", "--force").exit_code == 1  # fmt: skip

    process.send_signal(signal.SIGTERM)
    out, _err = process.communicate()
    assert process.returncode == 0
    assert "stopped; saved" in out
    assert not lock_path(file).exists()
    saved = meter_state.load(file)
    assert saved.status().credit.energy_kwh == Decimal("0.1")
    assert sts("meter", "show", str(file)).exit_code == 0


def test_a_second_server_on_the_same_file_is_refused(serving):
    file, _address, _process = serving
    second = subprocess.run(
        [sys.executable, "cli.py", "meter", "serve", str(file), "--port", "0"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert second.returncode == 1
    assert "is being served" in second.stderr and "Traceback" not in second.stderr


def test_a_stale_lock_is_no_lock(tmp_path: Path):
    file = tmp_path / "m.json"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock_path(file).write_text(f"{dead.pid}\n")
    check_not_served(file)  # the process is gone: nothing to refuse
    lock_path(file).write_text(f"{os.getppid()}\n")  # a live process (this one's parent)
    with pytest.raises(MeterServedError, match=f"process {os.getppid()}"):
        check_not_served(file)


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["get", "127.0.0.1:port", "0.0.1.0.0.255", "2"], 2, "HOST or HOST:PORT"),
        (["get", "127.0.0.1:4059", "1.2.3", "2"], 2, "six numbers"),
        (["get", "127.0.0.1:4059", "0.0.1.0.0.255", "0"], 2, "1-255"),
        (["get", "127.0.0.1:4059", "1.0.99.9.0.255", "2"], 2, "give --class"),
        (["set", "127.0.0.1:4059", "0.0.1.0.0.255", "2", "--hex", "zz"], 2, "not hex"),
        (["get", "127.0.0.1:4059", "0.0.1.0.0.255", "2", "--hls"], 2, "--ek and --ak"),
        (["push-token", "127.0.0.1:4059", "1234"], 1, "not 20 digits"),
    ],
)
def test_dlms_bad_input_is_one_sentence(args, code, words):
    result = sts("dlms", *args)
    assert result.exit_code == code, result.output
    assert words in result.output
    assert "Traceback" not in result.output


def test_dlms_without_a_server_is_a_refusal(tmp_path: Path):
    # a port nothing listens on: bind one and close it
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = sts("dlms", "get", f"127.0.0.1:{port}", "0.0.1.0.0.255", "2")
    assert result.exit_code == 1
    assert "DLMS connect with 127.0.0.1" in result.output


def test_serve_a_folder_one_port_per_meter(tmp_path: Path):
    for name, drn in (("a.json", "00000000000"), ("b.json", "01234567897")):
        when = ["--manufactured", "2004-01-01 00:00+00:00"]
        made = sts("meter", "new", str(tmp_path / name), "--dk", CTSA_DK, "--drn", drn,
                   "--sgc", "123456", "--bd", "1993", *when)  # fmt: skip
        assert made.exit_code == 0, made.output
    process = subprocess.Popen(
        [
            sys.executable,
            "cli.py",
            "meter",
            "serve",
            str(tmp_path),
            "--port",
            "0",
            "--frozen-clock",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [process.stdout.readline() for _ in range(2)]
        assert "serving meter 00000000000" in lines[0] and "serving meter 01234567897" in lines[1]
        ports = [int(line.split(" on 127.0.0.1:")[1].split(";")[0]) for line in lines]
        for drn, port in zip(("00000000000", "01234567897"), ports, strict=True):
            ldn = sts("dlms", "get", f"127.0.0.1:{port}", "0.0.42.0.0.255", "2", "--level",
                      "public", "--json")  # fmt: skip
            shown = json.loads(ldn.output)
            assert shown == {"data": "090e" + f"STS{drn}".encode().hex(), "value": f"STS{drn}"}
        refused = sts("meter", "run", str(tmp_path / "b.json"), "--for", "1h")
        assert refused.exit_code == 1 and "being served" in refused.output
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate()
    assert process.returncode == 0
    assert (
        not lock_path(tmp_path / "a.json").exists() and not lock_path(tmp_path / "b.json").exists()
    )


def test_fleet_new_then_served_and_a_token_pushed_with_the_listed_password(tmp_path: Path):
    import csv

    from sts.crypto import KeyParameters, VendingKey, derive_decoder_key
    from sts.tokens.meter_number import meter_pan
    from tests.dlms_support import credit_token

    folder = tmp_path / "fleet"
    made = sts_cli_fleet(folder)
    assert made.exit_code == 0, made.output
    with (folder / "fleet.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    # consecutive DRNs from 4750015023, each with its Luhn digit (worked by hand: 1, 9, 6)
    assert [row["drn"] for row in rows] == ["47500150231", "47500150249", "47500150256"]
    assert [row["port_offset"] for row in rows] == ["0", "1", "2"]
    assert os.stat(folder / "fleet.csv").st_mode & 0o077 == 0
    process = subprocess.Popen(
        [sys.executable, "cli.py", "meter", "serve", str(folder), "--port", "0", "--frozen-clock"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [process.stdout.readline() for _ in range(3)]
        port = int(lines[2].split(" on 127.0.0.1:")[1].split(";")[0])
        params = KeyParameters(pan=meter_pan("47500150256"), sgc=123456, kt=2, ti=1, krn=1)
        key = derive_decoder_key("02", VendingKey.from_hex("ABABABABABABABAB"), params)
        token = credit_token(key.reveal_hex(), tid=5_871_800, tenths=25)
        pushed = sts("dlms", "push-token", f"127.0.0.1:{port}", token,
                     "--password", rows[2]["operator"], "--json")  # fmt: skip
        assert json.loads(pushed.output)["sts_result"] == 1, pushed.output
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate()
    assert meter_state.load(folder / "m00002.json").status().credit.energy_kwh == Decimal("2.5")


def sts_cli_fleet(folder: Path):
    return sts("meter", "fleet", "new", str(folder), "--count", "3", "--vk", "ABABABABABABABAB",
               "--sgc", "123456", "--first-drn", "47500150231", "--bd", "1993",
               "--manufactured", "2004-01-01 00:00+00:00")  # fmt: skip
