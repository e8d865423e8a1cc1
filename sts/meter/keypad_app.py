"""The keypad meter on a terminal screen (Textual): display, 12 keys, indicators, event log.

:class:`KeypadApp` draws one simulated meter the way its front looks: an LCD
(line 1 the entry in groups of four, line 2 the result or register text,
line 3 the wallets), the twelve keys laid out 3 by 4 (``1 2 3 / 4 5 6 /
7 8 9 / Clear 0 Enter``), and beside them the relay, credit alarm, tamper and
wallet indicators, the alarm set's indicator with its newest cause, and the
newest events of the meter's log.

Keys can be clicked or typed: digits, Enter, Backspace or Delete for Clear,
Escape to clear the whole entry; Ctrl+Q quits. The key presses go to a
:class:`~sts.meter.keypad.Keypad` whose target is the :class:`Meter`.

The app owns no time and no disk. It takes a ``clock`` (a callable returning
the timezone-aware time of a key press; :func:`running_clock` makes one that
runs at real pace from a start time) and a ``save`` callable it calls with the
meter after every entry that reached the meter (a token, accepted or not, or a
short code), so the caller decides where and how the state is written.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import ClassVar

from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.widgets import Button, Footer, Log, Static

from sts.errors import StsError
from sts.meter.credit import CreditStatus
from sts.meter.keypad import EntryKind, Key, Keypad, KeypadDisplay, group_in_fours
from sts.meter.meter import Meter, MeterStatus

EVENT_LINES = 50
"""How many of the newest events the log panel shows."""

KEY_LAYOUT = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "C", "0", "E")
"""The keys left to right, top to bottom, as on the meter's front."""

_KEY_IDS = {"C": "key-clear", "E": "key-enter"}
_KEY_LABELS = {"C": "Clear", "E": "Enter"}


def key_id(key: str) -> str:
    """The widget id of a key: ``key-0`` to ``key-9``, ``key-clear``, ``key-enter``."""
    return _KEY_IDS.get(key, f"key-{key}")


def running_clock(
    start: datetime, monotonic: Callable[[], float] = time.monotonic
) -> Callable[[], datetime]:
    """A clock that reads ``start`` now and then runs forward at real pace."""
    origin = monotonic()

    def now() -> datetime:
        return start + timedelta(seconds=monotonic() - origin)

    return now


def keypad_start(meter_clock: datetime, wall_time: datetime) -> datetime:
    """Where the screen's clock starts: the wall time, or the meter's clock if that is later.

    A meter run ahead of real time (``sts meter run``) would refuse every key
    press at the wall time, because the meter's clock never goes back.
    """
    return max(meter_clock, wall_time)


class KeyButton(Button, can_focus=False):
    """A meter key. It never takes the focus, so typed keys always reach the keypad.

    Unlike a plain Button it counts every click, also one that comes while the
    press animation of the last is still showing (two quick Clears, "11").
    """

    def _on_click(self, event: events.Click) -> None:
        event.stop()
        self.press()


class KeypadApp(App[None]):
    """One simulated meter on the screen."""

    TITLE = "STS keypad meter"
    CSS = """
    Screen { layout: horizontal; }
    #front { width: 44; padding: 0 1; }
    #lcd {
        height: auto; min-height: 5; border: round $success; background: #0b2a12; color: #7CFC00;
        padding: 0 1; text-style: bold;
    }
    #keys { grid-size: 3 4; grid-gutter: 0 1; height: 17; margin-top: 1; }
    KeyButton { width: 100%; height: 3; min-width: 6; }
    #key-enter { background: $success-darken-1; }
    #key-clear { background: $warning-darken-2; }
    #side { width: 1fr; padding: 0 1; }
    .indicator { height: 1; }
    .indicator.bad { color: $error; text-style: bold; }
    .indicator.warn { color: $warning; }
    .indicator.good { color: $success; }
    #events { height: 1fr; border: round $primary; margin-top: 1; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(digit, f"key('{digit}')", show=False, priority=True) for digit in "0123456789"),
        Binding("enter", "key('E')", "Enter", priority=True),
        Binding("backspace,delete", "key('C')", "Clear", priority=True),
        Binding("escape", "clear_all", "Clear all", priority=True),
    ]

    _lcd: Static
    _log: Log
    _indicators: dict[str, Static]

    def __init__(
        self,
        meter: Meter,
        clock: Callable[[], datetime],
        save: Callable[[Meter], None],
        *,
        event_lines: int = EVENT_LINES,
    ) -> None:
        super().__init__()
        self.meter = meter
        self.clock = clock
        self.save = save
        self.event_lines = event_lines
        self.keypad = Keypad(meter)
        self.saves = 0
        self._shown: list[str] = []

    # -- drawing ------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal():
            with Vertical(id="front"):
                yield Static("", id="lcd", markup=False)
                with Grid(id="keys"):
                    for key in KEY_LAYOUT:
                        yield KeyButton(_KEY_LABELS.get(key, key), id=key_id(key), name=key)
            with Vertical(id="side"):
                yield Static("", id="relay", classes="indicator", markup=False)
                yield Static("", id="alarm", classes="indicator", markup=False)
                yield Static("", id="tamper", classes="indicator", markup=False)
                yield Static("", id="meter-alarm", classes="indicator", markup=False)
                yield Static("", id="wallets", classes="indicator", markup=False)
                yield Static("", id="emergency", classes="indicator", markup=False)
                yield Static("", id="lockout", classes="indicator", markup=False)
                yield Static("", id="clock", classes="indicator", markup=False)
                yield Log(id="events", max_lines=self.event_lines)
        yield Footer()

    def on_mount(self) -> None:
        status = self.meter.status()
        self.sub_title = f"meter {status.drn}"
        # Held from here on: the half-second timer may still fire while the screen closes.
        self._lcd = self.query_one("#lcd", Static)
        self._log = self.query_one("#events", Log)
        self._indicators = {
            widget.id: widget for widget in self.query(".indicator").results(Static) if widget.id
        }
        self._log.border_title = "events"
        self._lcd.border_title = f"{status.drn}"
        self._show(self.keypad.display)
        self._show_meter()
        self.set_interval(0.5, self._tick)

    # -- input --------------------------------------------------------------------------

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.name is not None:
            self.action_key(event.button.name)

    def action_key(self, key: str) -> None:
        """Press one keypad key (``0``-``9``, ``E``, ``C``)."""
        display = self.keypad.press(Key(key), self.clock())
        submission = display.submission
        if Key(key) is Key.ENTER and submission is not None and not display.beep:
            if submission.kind is not EntryKind.WRONG_LENGTH:
                self._save()
            self._show_meter()
        if display.beep:
            self.bell()
        self._show(display)

    def action_clear_all(self) -> None:
        """Clear the entry and the display at once (Escape)."""
        self._show(self.keypad.clear_all(self.clock()))

    def _tick(self) -> None:
        self._show(self.keypad.tick(self.clock()))

    def _save(self) -> None:
        try:
            self.save(self.meter)
        except StsError as exc:
            self.notify(str(exc), title="state not saved", severity="error")
            return
        self.saves += 1

    # -- showing ------------------------------------------------------------------------

    def _show(self, display: KeypadDisplay) -> None:
        lines = lcd_lines(display, self.meter.status().credit, self.meter.service.unit)
        if lines != self._shown:
            self._shown = lines
            self._lcd.update("\n".join(lines))

    def _show_meter(self) -> None:
        status = self.meter.status()
        credit = status.credit
        for widget_id, (text, mood) in indicators(status).items():
            widget = self._indicators[widget_id]
            widget.update(text)
            widget.set_class(mood == "bad", "bad")
            widget.set_class(mood == "warn", "warn")
            widget.set_class(mood == "good", "good")
        self._lcd.border_subtitle = "relay closed" if credit.relay_closed else "RELAY OPEN"
        self._log.clear()
        self._log.write_lines(
            f"{event.at.astimezone():%Y-%m-%d %H:%M:%S} {event.kind.value}"
            + (f": {event.detail}" if event.detail else "")
            for event in self.meter.events.latest(self.event_lines)
        )


def lcd_lines(display: KeypadDisplay, credit: CreditStatus, unit: str = "kWh") -> list[str]:
    """The three LCD lines: entry (or the entry just submitted), result or prompt, wallets
    (the unit wallet in ``unit``: kWh, or m3 on a water or gas meter)."""
    if display.submission is not None:
        entry = group_in_fours(display.submission.entry)
        message = "  ".join(display.lines)
    else:
        entry = display.text
        message = "" if entry else "Enter token"
    wallets = f"{credit.energy_kwh} {unit}  {credit.money:.2f}"
    return [entry or " ", message or " ", wallets]


def indicators(status: MeterStatus) -> dict[str, tuple[str, str]]:
    """Each indicator's text and mood ("good", "warn" or "bad") from a MeterStatus."""
    credit = status.credit
    unit = status.service.unit  # kWh, or m3 on a water or gas meter
    reason = credit.relay_reason.value
    relay = (
        (f"Relay: closed ({reason})", "good")
        if credit.relay_closed
        else (f"Relay: OPEN ({reason})", "bad")
    )
    level = credit.alarm_level
    alarm = (f"Credit alarm: level {level}", "warn") if level else ("Credit alarm: none", "good")
    tamper = (
        (f"Tamper: DETECTED {credit.tamper_reason}".rstrip(), "bad")
        if credit.tamper
        else ("Tamper: none", "good")
    )
    meter_alarm = (
        (f"ALARM: {status.alarms[-1]} ({len(status.alarms)}; code 16 acknowledges)", "bad")
        if status.alarms
        else ("Alarm: none", "good")
    )
    wallets = (f"Wallets: {credit.energy_kwh} {unit}, money {credit.money:.2f}", "")
    if credit.emergency_active:
        emergency = (
            f"Emergency credit: {credit.emergency_used_kwh} of "
            f"{credit.emergency_limit_kwh} {unit} used",
            "warn",
        )
    elif credit.debt_kwh or credit.debt_money:
        emergency = (f"Debt: {credit.debt_kwh} {unit}, money {credit.debt_money:.2f}", "warn")
    else:
        emergency = ("Emergency credit: not in use", "")
    lockout = (
        (f"Keypad locked until {status.locked_until.astimezone():%H:%M:%S}", "bad")
        if status.locked
        else (f"Wrong entries in a row: {status.lockout_failures}", "")
    )
    clock = (f"Meter clock: {status.clock.astimezone():%Y-%m-%d %H:%M:%S %z}", "")
    return {
        "relay": relay,
        "alarm": alarm,
        "tamper": tamper,
        "meter-alarm": meter_alarm,
        "wallets": wallets,
        "emergency": emergency,
        "lockout": lockout,
        "clock": clock,
    }
