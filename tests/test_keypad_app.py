"""The keypad screen, driven through Textual's own test driver against a real meter.

Tokens are made by ``sts.encode`` for the meter's decoder key (and one comes
from the public CTSA01 vectors); the state is saved to a real file through
``sts.meter.state`` and read back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from textual.widgets import Log, Static

import sts
from sts.meter import state
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
