"""`sts demo` never touches real data, and fails loudly when its meter refuses the token.

Regression tests for issue 8, rough edge 1: the demo once sold a real vend on a
database that held meter 47500150231, added its key and tariff there, created
the user's master key file, and exited 0 while the simulated meter showed CRC.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import VECTOR_VK

from cli import main
from sts.crypto.keys import DecoderKey
from vending import demo as vending_demo
from vending import simulate

MASTER_HEX = "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF"


def run(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env or {}, input=input)


def test_the_demo_refuses_a_database_with_a_real_meter_and_writes_nothing(
    database_url: str, tmp_path: Path
) -> None:
    env = {"STS_DATABASE_URL": database_url, "STS_MASTER_KEY": MASTER_HEX}
    added = run("keys", "add", "real", "--sgc", "600675", "--krn", "2", env=env,
                input=VECTOR_VK + "\n")  # fmt: skip
    assert added.exit_code == 0, added.output
    assert run("meters", "add", "47500150231", "--sgc", "600675", "--krn", "2",
               env=env).exit_code == 0  # fmt: skip
    before = json.loads(run("report", "verify", "--json", env=env).stdout)["entries"]

    refused = run("demo", "--db", database_url)

    assert refused.exit_code == 1
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "holds data the demo did not make" in lines[0], refused.stderr
    assert "1 vending key" in lines[0] and "1 meter" in lines[0]
    assert "Accept" not in refused.stdout
    meters = json.loads(run("meters", "list", "--json", env=env).stdout)
    assert [m["drn"] for m in meters] == ["47500150231"]
    keys = json.loads(run("keys", "list", "--json", env=env).stdout)
    assert [k["label"] for k in keys] == ["real"]
    assert json.loads(run("tariffs", "list", "--json", env=env).stdout) == []
    assert json.loads(run("report", "verify", "--json", env=env).stdout)["entries"] == before


def test_the_demo_uses_its_own_meter_and_master_key_and_runs_again_on_its_database(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    url = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    env = {"XDG_DATA_HOME": str(data), "STS_MASTER_KEY": ""}
    for _ in range(2):
        done = run("demo", "--db", url, env=env)
        assert done.exit_code == 0, done.output
        assert "meter 00999999998" in done.stdout and "Accept" in done.stdout
        assert "47500150231" not in done.stdout
    assert not (data / "sts-toolkit" / "master.key").exists()
    assert not data.exists()


def test_the_demo_exits_1_when_the_simulated_meter_refuses_the_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A fault put in on purpose: the simulated meter gets a key other than the meter's.
    real = simulate.simulated_meter

    def wrong_key(backend: object, drn: str) -> simulate.SimulatedMeterKey:
        made = real(backend, drn)  # type: ignore[arg-type]
        return dataclasses.replace(made, key=DecoderKey.from_hex("0123456789ABCDEF"))

    monkeypatch.setattr(simulate, "simulated_meter", wrong_key)
    failed = run("demo")
    assert failed.exit_code == 1, failed.output
    assert "the simulated meter did not accept token 1 of 1: CRC" in failed.stderr
    assert "Error" in failed.stderr


def test_the_demo_meter_number_is_valid_and_its_own() -> None:
    from sts.tokens.meter_number import validate_drn

    assert validate_drn(vending_demo.DEMO_DRN) == "00999999998"
    assert vending_demo.DEMO_DRN != "47500150231"  # the README's example meter
