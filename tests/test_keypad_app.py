"""The keypad screen, driven through Textual's own test driver against a real meter.

Tokens are made by ``sts.encode`` for the meter's decoder key (and one comes
from the public CTSA01 vectors); the state is saved to a real file through
``sts.meter.state`` and read back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from textual.widgets import Log, Static

import cli
import sts
from sts.meter import state
from sts.meter.config import CreditConfig, EmergencyConfig
from sts.meter.keypad_app import KEY_LAYOUT, KeypadApp, key_id, keypad_start, running_clock
from sts.meter.meter import Meter
from sts.tokens.tid import BaseDate, tid_from_datetime

DK = sts.DecoderKey.from_hex("E653341F9D5BF36F")  # STS 531-1 CTSA meter
MADE = datetime(2004, 1, 1, tzinfo=UTC)
NOW = datetime(2004, 6, 1, 12, 0, tzinfo=UTC)
CREDIT_01KWH = "23716100501183194197"  # CTSA01 step 1: 0.1 kWh, TID 5871715
SIZE = (120, 36)


def credit_token(units: int, at: datetime, key: sts.DecoderKey = DK, rnd: int = 3) -> str:
    """An electricity unit token (0.1 kWh per unit) for this meter, TID from ``at``."""
    token = sts.TransferCredit.for_units(
        sts.CreditKind.ELECTRICITY, units, tid_from_datetime(at, BaseDate.Y1993), rnd
    )
    return sts.encode(token, key)


TOKEN_12_5_KWH = credit_token(125, NOW - timedelta(hours=1))
WRONG_KEY_TOKEN = credit_token(
    125, NOW - timedelta(hours=1), sts.DecoderKey.from_hex("0123456789ABCDEF")
)


@dataclass
class Clock:
    """The time of key presses, moved by hand."""

    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Saver:
    """Writes the meter to a real state file and counts the writes."""

    path: Path
    writes: int = 0

    def __call__(self, meter: Meter) -> None:
        state.save(meter, self.path)
        self.writes += 1


def new_meter() -> Meter:
    return Meter.manufacture(
        drn="00000000000", key=DK, manufactured=MADE, sgc=123456, base_date=1993
    )


@pytest.fixture
def saver(tmp_path: Path) -> Saver:
    return Saver(tmp_path / "meter.json")


def local(when: datetime, pattern: str = "%Y-%m-%d %H:%M:%S") -> str:
    """A time as the screen shows it: in the local zone of the machine running the tests."""
    return when.astimezone().strftime(pattern)


MADE_SHOWN = local(MADE)
NOW_SHOWN = local(NOW)


def lcd(app: KeypadApp) -> list[str]:
    return str(app.query_one("#lcd", Static).content).split("\n")


def shown(app: KeypadApp, widget_id: str) -> str:
    return str(app.query_one(f"#{widget_id}", Static).content)


async def type_keys(pilot, keys: str) -> None:  # type: ignore[no-untyped-def]
    for key in keys:
        await pilot.press("enter" if key == "E" else key)


async def test_typed_token_is_accepted_and_fills_the_energy_wallet(saver: Saver) -> None:
    meter = new_meter()
    app = KeypadApp(meter, Clock(), saver)
    async with app.run_test(size=SIZE) as pilot:
        assert shown(app, "wallets") == "Wallets: 0.000 kWh, money 0.00"
        await type_keys(pilot, TOKEN_12_5_KWH)
        assert lcd(app)[0] == " ".join(TOKEN_12_5_KWH[i : i + 4] for i in range(0, 20, 4))
        await pilot.press("enter")
        assert lcd(app)[1].startswith("Accept  +12.5 kWh")
        assert lcd(app)[2] == "12.500 kWh  0.00"
        assert shown(app, "wallets") == "Wallets: 12.500 kWh, money 0.00"
    assert meter.status().credit.energy_kwh == Decimal("12.5")
    assert saver.writes == 1
    assert state.load(saver.path).status().credit.energy_kwh == Decimal("12.5")


async def test_public_vector_token_is_accepted(saver: Saver) -> None:
    meter = new_meter()
    app = KeypadApp(meter, Clock(), saver)
    async with app.run_test(size=SIZE) as pilot:
        await type_keys(pilot, CREDIT_01KWH + "E")
        assert lcd(app)[1].startswith("Accept  +0.1 kWh")
    assert meter.status().credit.energy_kwh == Decimal("0.1")


async def test_token_for_another_key_shows_crc_and_is_saved(saver: Saver) -> None:
    meter = new_meter()
    app = KeypadApp(meter, Clock(), saver)
    async with app.run_test(size=SIZE) as pilot:
        await type_keys(pilot, WRONG_KEY_TOKEN + "E")
        assert lcd(app)[1] == "CRC"
        assert shown(app, "lockout") == "Wrong entries in a row: 1"
    assert meter.status().credit.energy_kwh == Decimal(0)
    assert saver.writes == 1
    assert state.load(saver.path).status().lockout_failures == 1


async def test_same_token_twice_shows_used(saver: Saver) -> None:
    app = KeypadApp(new_meter(), Clock(), saver)
    async with app.run_test(size=SIZE) as pilot:
        await type_keys(pilot, TOKEN_12_5_KWH + "E")
        await type_keys(pilot, TOKEN_12_5_KWH + "E")
        assert lcd(app)[1] == "Used"
        assert shown(app, "wallets") == "Wallets: 12.500 kWh, money 0.00"
    assert saver.writes == 2


async def test_clicking_the_keys(saver: Saver) -> None:
    app = KeypadApp(new_meter(), Clock(), saver)
    async with app.run_test(size=SIZE) as pilot:
        for key in "12345":
            await pilot.click(f"#key-{key}")
        assert lcd(app)[0] == "1234 5"
        await pilot.click("#key-clear")
        assert lcd(app)[0] == "1234"
        await pilot.click("#key-enter")
        assert lcd(app)[0] == "1234"
        assert lcd(app)[1] == "Format  4 digits: a token has 20, a code 1-3"
    assert saver.writes == 0  # the meter was not asked


async def test_clicked_token_is_accepted(saver: Saver) -> None:
    meter = new_meter()
    app = KeypadApp(meter, Clock(), saver)
    async with app.run_test(size=SIZE) as pilot:
        for digit in TOKEN_12_5_KWH:
            await pilot.click(f"#{key_id(digit)}")
        await pilot.click("#key-enter")
        assert lcd(app)[1].startswith("Accept")
    assert meter.status().credit.energy_kwh == Decimal("12.5")


async def test_keys_are_laid_out_like_the_meter(saver: Saver) -> None:
    app = KeypadApp(new_meter(), Clock(), saver)
    async with app.run_test(size=SIZE):
        rows: dict[int, list[str]] = {}
        for key in KEY_LAYOUT:
            region = app.query_one(f"#{key_id(key)}").region
            rows.setdefault(region.y, []).append(str(app.query_one(f"#{key_id(key)}").label))
        assert list(rows.values()) == [
            ["1", "2", "3"],
            ["4", "5", "6"],
            ["7", "8", "9"],
            ["Clear", "0", "Enter"],
        ]


async def test_backspace_clears_a_digit_and_escape_clears_all(saver: Saver) -> None:
    clock = Clock()
    app = KeypadApp(new_meter(), clock, saver)
    async with app.run_test(size=SIZE) as pilot:
        await type_keys(pilot, "123456")
        await pilot.press("backspace")
        assert lcd(app)[0] == "1234 5"
        clock.now += timedelta(seconds=2)
        await pilot.press("delete")
        assert lcd(app)[0] == "1234"
        await pilot.press("escape")
        assert lcd(app)[0] == " "
        assert lcd(app)[1] == "Enter token"


async def test_two_quick_clears_clear_all_on_screen(saver: Saver) -> None:
    app = KeypadApp(new_meter(), Clock(), saver)
    async with app.run_test(size=SIZE) as pilot:
        await type_keys(pilot, "98765")
        await pilot.click("#key-clear")
        await pilot.click("#key-clear")
        assert lcd(app)[0] == " "


async def test_entry_times_out_after_30_seconds(saver: Saver) -> None:
    clock = Clock()
    app = KeypadApp(new_meter(), clock, saver)
    async with app.run_test(size=SIZE) as pilot:
        await type_keys(pilot, "1234")
        clock.now += timedelta(seconds=29)
        await pilot.press("5")
        assert lcd(app)[0] == "1234 5"
        clock.now += timedelta(seconds=30)
        await pilot.press("6")
        assert lcd(app)[0] == "6"


async def test_event_log_shows_the_meter_events(saver: Saver) -> None:
    app = KeypadApp(new_meter(), Clock(), saver)
    async with app.run_test(size=SIZE) as pilot:
        log = app.query_one("#events", Log)
        assert log.lines == [f"{MADE_SHOWN} setting changed: meter 00000000000 made"]
        await type_keys(pilot, WRONG_KEY_TOKEN + "E")
        await type_keys(pilot, TOKEN_12_5_KWH + "E")
        lines = list(log.lines)
        assert lines[0] == f"{MADE_SHOWN} setting changed: meter 00000000000 made"
        assert lines[1].startswith(f"{NOW_SHOWN} token rejected: ")
        assert "CRC" in lines[1]
        assert any(line.startswith(f"{NOW_SHOWN} token accepted: ") for line in lines[2:])
        assert any(line.startswith(f"{NOW_SHOWN} relay closed") for line in lines[2:])


async def test_relay_indicator_follows_credit(saver: Saver) -> None:
    app = KeypadApp(new_meter(), Clock(), saver)
    async with app.run_test(size=SIZE) as pilot:
        assert shown(app, "relay") == "Relay: OPEN (no credit)"
        assert app.query_one("#relay").has_class("bad")
        await type_keys(pilot, TOKEN_12_5_KWH + "E")
        assert shown(app, "relay") == "Relay: closed (credit)"
        assert app.query_one("#relay").has_class("good")
        assert shown(app, "tamper") == "Tamper: none"


async def test_three_wrong_tokens_lock_the_keypad(saver: Saver) -> None:
    clock = Clock()
    app = KeypadApp(new_meter(), clock, saver)
    async with app.run_test(size=SIZE) as pilot:
        for rnd in (1, 2, 3):
            wrong = credit_token(10, NOW, sts.DecoderKey.from_hex("0123456789ABCDEF"), rnd)
            await type_keys(pilot, wrong + "E")
            clock.now += timedelta(seconds=1)
        # locked for 10 s from the third wrong entry at 12:00:02
        until = local(NOW + timedelta(seconds=12), "%H:%M:%S")
        assert shown(app, "lockout") == f"Keypad locked until {until}"
        await type_keys(pilot, TOKEN_12_5_KWH + "E")
        assert lcd(app)[1].startswith("Lockout")


def test_keypad_clock_starts_at_the_later_of_wall_time_and_meter_clock() -> None:
    wall = datetime(2025, 1, 1, 10, 0, tzinfo=UTC)
    ahead = datetime(2025, 1, 3, 0, 0, tzinfo=UTC)
    assert keypad_start(ahead, wall) == ahead
    assert keypad_start(MADE, wall) == wall


def test_running_clock_runs_at_the_pace_of_its_monotonic_source() -> None:
    ticks = iter([100.0, 100.0, 103.5])
    clock = running_clock(NOW, lambda: next(ticks))
    assert clock() == NOW
    assert clock() == NOW + timedelta(seconds=3.5)


async def test_short_code_shows_a_register(saver: Saver) -> None:
    app = KeypadApp(new_meter(), Clock(), saver)
    async with app.run_test(size=SIZE) as pilot:
        await type_keys(pilot, TOKEN_12_5_KWH + "E")
        await pilot.click("#key-1")
        await pilot.click("#key-enter")
        assert lcd(app)[0] == "1"
        assert lcd(app)[1] == "Energy 12.500 kWh"
        await type_keys(pilot, "6E")
        assert lcd(app)[1] == "KRN 1"
    assert saver.writes == 3  # the token and both codes reached the meter


async def test_unknown_short_code_shows_format(saver: Saver) -> None:
    app = KeypadApp(new_meter(), Clock(), saver)
    async with app.run_test(size=SIZE) as pilot:
        await type_keys(pilot, "55E")
        assert lcd(app)[1].startswith("Format  short code 55 is not one of")


async def test_emergency_credit_by_keypad_code(saver: Saver) -> None:
    meter = Meter.manufacture(
        drn="00000000000",
        key=DK,
        manufactured=MADE,
        sgc=123456,
        base_date=1993,
        config=CreditConfig(emergency=EmergencyConfig(limit_kwh=Decimal(5))),
    )
    app = KeypadApp(meter, Clock(), saver)
    async with app.run_test(size=SIZE) as pilot:
        assert shown(app, "relay") == "Relay: OPEN (no credit)"
        await type_keys(pilot, "99E")
        assert lcd(app)[1] == "Emergency credit  5 kWh"
        assert shown(app, "emergency") == "Emergency credit: 0.000 of 5 kWh used"
        assert shown(app, "relay") == "Relay: closed (emergency credit)"
        assert any("emergency credit taken" in line for line in app.query_one("#events", Log).lines)
    assert state.load(saver.path).status().credit.emergency_active


# -- the CLI: sts meter keys / sts meter keypad ----------------------------------------------


@pytest.fixture
def meter_file(tmp_path: Path) -> Path:
    path = tmp_path / "meter.json"
    state.save(new_meter(), path)
    return path


def keys(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli.main, ["meter", "keys", *args])


AT_NOW = ["--at", "2004-06-01 12:00+00:00"]


def test_cli_keys_token_accepted_and_saved(meter_file: Path) -> None:
    spaced = " ".join(TOKEN_12_5_KWH[i : i + 4] for i in range(0, 20, 4))
    result = keys(str(meter_file), f"{spaced} E", *AT_NOW)
    assert result.exit_code == 0, result.output
    assert f"{spaced} E -> Accept" in result.output
    assert "+12.5 kWh" in result.output
    assert state.load(meter_file).status().credit.energy_kwh == Decimal("12.5")


def test_cli_keys_rejected_token_exits_1(meter_file: Path) -> None:
    assert keys(str(meter_file), TOKEN_12_5_KWH + "E", *AT_NOW).exit_code == 0
    result = keys(str(meter_file), TOKEN_12_5_KWH, "E", *AT_NOW)
    assert result.exit_code == 1
    assert "-> Used" in result.output
    assert state.load(meter_file).status().credit.energy_kwh == Decimal("12.5")


def test_cli_keys_json(meter_file: Path) -> None:
    result = keys(str(meter_file), WRONG_KEY_TOKEN + "E 1E 42", "--json", *AT_NOW)
    assert result.exit_code == 1
    data = json.loads(result.output)
    first, second = data["entries"]
    assert (first["kind"], first["result"], first["text"]) == ("token", 13, "CRC")
    assert first["outcome"]["result"] == 13
    # Enter is the 21st key: 20 gaps of 0.25 s after the first
    assert first["at"] == "2004-06-01T12:00:05+00:00"
    assert (second["kind"], second["entry"], second["lines"]) == (
        "short code",
        "1",
        ["Energy 0.000 kWh"],
    )
    # then "1" and Enter: the 23rd key, 22 gaps of 0.25 s after the first
    assert second["at"] == "2004-06-01T12:00:05.500000+00:00"
    assert data["display"] == {
        "state": "entering",
        "entry": "42",
        "text": "42",
        "lines": ["42"],
        "result": None,
        "beep": False,
    }
    assert data["rejected"] is True
    assert state.load(meter_file).status().lockout_failures == 1


def test_cli_keys_wrong_length_exits_1_and_leaves_the_file(meter_file: Path) -> None:
    before = meter_file.read_bytes()
    result = keys(str(meter_file), "1234E")
    assert result.exit_code == 1
    assert "1234 E -> Format" in result.output
    assert "4 digits: a token has 20, a code 1-3" in result.output
    assert meter_file.read_bytes() == before


def test_cli_keys_clear_quick_and_slow(meter_file: Path) -> None:
    quick = keys(str(meter_file), "12345CC")
    slow = keys(str(meter_file), "12345CC", "--gap", "1s")
    assert quick.exit_code == 0 and slow.exit_code == 0
    assert quick.output.strip() == "display: (blank)"
    assert slow.output.strip() == "display: 123"


def test_cli_keys_relative_time_and_final_display(meter_file: Path) -> None:
    result = keys(str(meter_file), "7E", "--at", "+1h", "--json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    # one hour after the meter's clock (made 2004-01-01 00:00 UTC), Enter one gap later
    assert data["entries"][0]["at"] == "2004-01-01T01:00:00.250000+00:00"
    assert data["display"]["lines"] == ["TI 01"]
    assert data["display"]["state"] == "showing"


def test_cli_keys_refuses_other_characters(meter_file: Path) -> None:
    result = keys(str(meter_file), "12x4E")
    assert result.exit_code == 2
    assert "'x' is not a keypad key" in result.output


def test_cli_keys_refuses_a_missing_file(tmp_path: Path) -> None:
    result = keys(str(tmp_path / "none.json"), "1E")
    assert result.exit_code == 1
    assert "does not exist" in result.output


def test_cli_keypad_refuses_a_start_before_the_meter_clock(meter_file: Path) -> None:
    result = CliRunner().invoke(
        cli.main, ["meter", "keypad", str(meter_file), "--at", "2003-12-31 00:00+00:00"]
    )
    assert result.exit_code == 2
    assert "is before the meter's clock" in result.output


async def test_the_alarm_indicator_shows_its_cause_until_acknowledged(saver: Saver) -> None:
    meter = new_meter()
    meter.tamper("meter_cover")
    app = KeypadApp(meter, Clock(), saver)
    async with app.run_test(size=SIZE) as pilot:
        assert shown(app, "meter-alarm") == "ALARM: meter cover opened (1; code 16 acknowledges)"
        assert app.query_one("#meter-alarm").has_class("bad")
        await type_keys(pilot, "16E")
        assert shown(app, "meter-alarm") == "Alarm: none"
