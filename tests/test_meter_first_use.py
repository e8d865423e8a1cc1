"""A new simulated meter takes the tokens a user has just made (issue 8, rough edge 4).

`sts meter new` once stamped "now" as the manufacture TID, so a token made in
the same minute was Used and one made a minute before was Old; and `sts meter
enter` without `--at` left the meter's clock where it was made. The tokens here
are made by `sts token encode` at the real time, as a user makes them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from cli import _default_manufacture, main

DK = "E653341F9D5BF36F"
METER = ["--drn", "47500150231", "--sgc", "123456", "--dk", DK]


def sts(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def made_token(*at: str) -> str:
    result = sts("token", "encode", "credit", "--kwh", "2.5", "--dk", DK, *at, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["tokens"][0]["digits"]


def enter(path: Path, digits: str, *more: str) -> dict[str, Any]:
    result = sts("meter", "enter", str(path), digits, *more, "--json")
    return json.loads(result.stdout)


def test_a_new_meter_accepts_a_token_made_this_minute_and_one_made_a_minute_ago(
    tmp_path: Path,
) -> None:
    path = tmp_path / "m.json"
    a_minute_ago = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M+00:00")
    earlier = made_token("--at", a_minute_ago)
    this_minute = made_token()
    made = sts("meter", "new", str(path), *METER)
    assert made.exit_code == 0, made.output
    assert enter(path, this_minute)["text"] == "Accept"
    assert enter(path, earlier)["text"] == "Accept"
    assert enter(path, earlier)["text"] == "Used"


def test_the_default_manufacture_time_is_midnight_utc_the_day_before() -> None:
    # Worked by hand: 2026-12-01 01:25 at +02:00 is 2026-11-30 23:25 UTC; the day before
    # that UTC day starts at 2026-11-29 00:00 UTC.
    now = datetime(2026, 12, 1, 1, 25, tzinfo=UTC)
    local = datetime.fromisoformat("2026-12-01 01:25+02:00")
    assert _default_manufacture(local) == datetime(2026, 11, 29, tzinfo=UTC)
    assert _default_manufacture(now) == datetime(2026, 11, 30, tzinfo=UTC)


def test_manufactured_help_says_what_it_does() -> None:
    shown = " ".join(sts("meter", "new", "--help").stdout.split())
    assert "TID memory" in shown and "00:00 UTC yesterday" in shown


def test_enter_without_at_moves_the_meters_clock_to_now(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    made = sts("meter", "new", str(path), *METER, "--manufactured", "2025-01-01 08:00+00:00")
    assert made.exit_code == 0, made.output
    token = made_token("--at", "2025-01-02 09:00+00:00")
    before = datetime.now(UTC)
    outcome = enter(path, token)
    after = datetime.now(UTC)
    assert outcome["text"] == "Accept"
    shown = json.loads(sts("meter", "show", str(path), "--json").stdout)
    clock = datetime.fromisoformat(shown["clock"])
    assert before <= clock <= after


def test_enter_without_at_leaves_a_clock_that_is_ahead_of_now(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    ahead = (datetime.now(UTC) + timedelta(days=3)).replace(second=0, microsecond=0)
    made = sts("meter", "new", str(path), *METER, "--manufactured", ahead.isoformat())
    assert made.exit_code == 0, made.output
    token = made_token("--at", (ahead + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M+00:00"))
    assert enter(path, token)["text"] == "Accept"
    shown = json.loads(sts("meter", "show", str(path), "--json").stdout)
    assert datetime.fromisoformat(shown["clock"]) == ahead
