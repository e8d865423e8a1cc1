"""The meter's 12-key keypad as an explicit state machine (no I/O, time passed in).

The keypad has ten digit keys, Enter and Clear. What a customer types goes into
an entry buffer that the display shows in groups of four (``1234 5678 9``).
Enter decides what the entry is:

* 20 digits: a token, handed to the meter (``target.enter_token``);
* 1 to 3 digits: a short code that shows a register or takes emergency credit
  (``target.short_code``);
* 4 to 19 digits starting ``18`` (:data:`ENGINEERING_PREFIX`): an engineering
  entry, handed to a meter that takes them (``target.engineering_entry``: the
  payment mode switch, :data:`sts.meter.meter.MODE_SWITCH_CODE`);
* anything else: the keypad itself shows "Format" and the meter is not asked
  (so it does not count toward the meter's wrong-entry lockout).

Decisions where the standard and the datasheet are silent, in one place:

* **Clear** deletes the last digit. A second Clear less than
  :data:`CLEAR_ALL_WINDOW` (1 s) after the first clears the whole entry; at
  1 s or later it deletes one more digit instead.
* **Timeout**: :data:`ENTRY_TIMEOUT` (30 s) after the last key, an entry (or a
  result on the display) is dropped. The check happens when the next key comes
  (or on :meth:`Keypad.tick`): a key 30 s or more after the previous one starts
  afresh; at 29 s it continues the entry.
* **A 21st digit** is refused: the entry stays as it was and the display for
  that press has ``beep=True``. Clear with nothing typed, and Enter with nothing
  typed or while a result is shown, are refused the same way.
* **Clear on a result** dismisses it; a digit on a result starts a new entry.
* **Escape** on a computer keyboard (``Keypad.clear_all``) clears everything at
  once; it is not one of the meter's keys.

Transitions live in :data:`TRANSITIONS` (``{state: {event: next_state}}``);
an event a state does not list raises :class:`~sts.errors.StsError`. Key
presses are first classified into an :class:`Event` (e.g. a Clear that removes
the only digit is ``CLEAR_LAST``) so the table alone decides the next state.

    >>> from datetime import datetime
    >>> class Echo:
    ...     def enter_token(self, digits, now): raise NotImplementedError
    ...     def short_code(self, code, now): return [f"code {code}"]
    >>> pad = Keypad(Echo())
    >>> t = datetime(2024, 1, 1, 12, 0)
    >>> for key in "123456":
    ...     display = pad.press(key, t)
    >>> display.text
    '1234 56'
    >>> pad.press("C", t).text
    '1234 5'
    >>> pad.press("C", t).text  # the second quick Clear clears all
    ''
    >>> pad.press("7", t).text, pad.press("E", t).lines
    ('7', ('code 7',))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum, StrEnum
from typing import Any, Protocol

from sts.errors import FormatError, RangeError, StsError
from sts.results import ResultCode

TOKEN_DIGITS = 20
"""A token is exactly this many digits; the entry holds no more."""

SHORT_CODE_DIGITS = range(1, 4)
"""A short code is 1 to 3 digits."""

ENGINEERING_PREFIX = "18"
"""An entry of 4 to 19 digits starting so is an engineering entry (the payment mode switch)."""

ENTRY_TIMEOUT = timedelta(seconds=30)
"""No key for this long drops the entry (or the result on the display)."""

CLEAR_ALL_WINDOW = timedelta(seconds=1)
"""A second Clear sooner than this after the first clears the whole entry."""


class Key(StrEnum):
    """The twelve keys. Digits are their own character; Enter is "E", Clear is "C"."""

    D0 = "0"
    D1 = "1"
    D2 = "2"
    D3 = "3"
    D4 = "4"
    D5 = "5"
    D6 = "6"
    D7 = "7"
    D8 = "8"
    D9 = "9"
    ENTER = "E"
    CLEAR = "C"

    @property
    def is_digit(self) -> bool:
        return self.value.isdigit()

    @classmethod
    def from_char(cls, char: str) -> Key:
        """The key for one character: ``0``-``9``, ``E`` (Enter) or ``C`` (Clear), any case."""
        try:
            return cls(char.upper())
        except ValueError:
            raise FormatError(
                f"key {char!r} is not a keypad key; expected a digit 0-9, E (Enter) or C (Clear)"
            ) from None


def parse_keys(text: str) -> list[Key]:
    """The key presses written in ``text`` (``"1234 5678 E"``); whitespace is ignored."""
    return [Key.from_char(char) for char in text if not char.isspace()]


class KeypadState(Enum):
    """Where the keypad is."""

    IDLE = "idle"
    """Nothing typed, nothing shown."""
    ENTERING = "entering"
    """At least one digit typed."""
    CLEAR_ARMED = "clear armed"
    """Clear was just pressed on an entry; another Clear within the window clears all."""
    SHOWING = "showing"
    """The result of the last Enter is on the display."""


class Event(Enum):
    """What a key press (or the passing of time) means in the current state."""

    DIGIT = "digit"
    DIGIT_FULL = "digit, entry full"
    CLEAR = "clear"
    CLEAR_LAST = "clear the only digit"
    ENTER = "enter"
    CLEAR_ALL = "clear all"
    WINDOW_PASSED = "clear window passed"
    TIMEOUT = "timeout"


_S = KeypadState
_E = Event

TRANSITIONS: dict[KeypadState, dict[Event, KeypadState]] = {
    _S.IDLE: {
        _E.DIGIT: _S.ENTERING,
        _E.CLEAR: _S.IDLE,  # nothing to delete: beep
        _E.ENTER: _S.IDLE,  # nothing to submit: beep
        _E.CLEAR_ALL: _S.IDLE,
    },
    _S.ENTERING: {
        _E.DIGIT: _S.ENTERING,
        _E.DIGIT_FULL: _S.ENTERING,  # refused: beep
        _E.CLEAR: _S.CLEAR_ARMED,  # delete the last digit
        _E.CLEAR_LAST: _S.IDLE,
        _E.ENTER: _S.SHOWING,
        _E.CLEAR_ALL: _S.IDLE,
        _E.TIMEOUT: _S.IDLE,
    },
    _S.CLEAR_ARMED: {
        _E.DIGIT: _S.ENTERING,
        _E.CLEAR: _S.IDLE,  # second quick Clear: clear all
        _E.ENTER: _S.SHOWING,
        _E.CLEAR_ALL: _S.IDLE,
        _E.WINDOW_PASSED: _S.ENTERING,
        _E.TIMEOUT: _S.IDLE,
    },
    _S.SHOWING: {
        _E.DIGIT: _S.ENTERING,  # starts a new entry
        _E.CLEAR: _S.IDLE,  # dismisses the result
        _E.ENTER: _S.SHOWING,  # nothing to submit: beep
        _E.CLEAR_ALL: _S.IDLE,
        _E.TIMEOUT: _S.IDLE,
    },
}


def transition(state: KeypadState, event: Event) -> KeypadState:
    """The state after ``event`` in ``state``; an event the state does not allow raises."""
    try:
        return TRANSITIONS[state][event]
    except KeyError:
        raise StsError(
            f"keypad event {event.value!r} is not allowed in state {state.value!r}; "
            f"allowed: {', '.join(e.value for e in TRANSITIONS[state])}"
        ) from None


class TokenOutcomeLike(Protocol):
    """What the meter answers a token with (``sts.meter.meter.TokenOutcome`` fits)."""

    @property
    def result(self) -> ResultCode: ...

    @property
    def text(self) -> str: ...

    @property
    def display(self) -> Sequence[str]: ...


class KeypadTarget(Protocol):
    """What the keypad submits to: the meter (``sts.meter.meter.Meter`` fits)."""

    def enter_token(self, digits: str, now: datetime) -> TokenOutcomeLike: ...

    def short_code(self, code: str, now: datetime) -> list[str]: ...


class EntryKind(Enum):
    """What Enter found in the entry buffer."""

    TOKEN = "token"
    SHORT_CODE = "short code"
    ENGINEERING = "engineering code"
    WRONG_LENGTH = "wrong length"


@dataclass(frozen=True)
class Submission:
    """One Enter on a non-empty entry and what came of it.

    ``result`` is the meter's result code for a token, ``FORMAT`` for a
    wrong-length entry, and for a short code ``None`` unless the meter refused
    the code with an error that carries a result code. ``outcome`` is the
    meter's own answer to a token (``None`` otherwise).
    """

    entry: str
    kind: EntryKind
    lines: tuple[str, ...]
    result: ResultCode | None = None
    outcome: Any = None
    at: datetime | None = None

    @property
    def rejected(self) -> bool:
        """True for a token or short code the meter refused, and for a wrong-length entry."""
        return self.result is not None and not self.result.accepted

    def to_dict(self) -> dict[str, Any]:
        return {
            "entry": self.entry,
            "kind": self.kind.value,
            "result": None if self.result is None else int(self.result),
            "text": None if self.result is None else self.result.text,
            "lines": list(self.lines),
            "at": None if self.at is None else self.at.isoformat(),
        }


@dataclass(frozen=True)
class KeypadDisplay:
    """What the keypad's display shows after a key press.

    ``text`` is the main line (the entry in groups of four, or the result's
    first line); ``lines`` is every line shown. ``result`` is the result code
    of the submission on the display, if one is shown. ``beep`` is True when
    this press was refused. ``submission`` is set while the result of an Enter
    is on the display.
    """

    state: KeypadState
    entry: str
    text: str
    lines: tuple[str, ...]
    result: ResultCode | None = None
    beep: bool = False
    submission: Submission | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "entry": self.entry,
            "text": self.text,
            "lines": list(self.lines),
            "result": None if self.result is None else int(self.result),
            "beep": self.beep,
        }


def group_in_fours(digits: str) -> str:
    """``"123456"`` -> ``"1234 56"``, as the display shows an entry."""
    return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))


class Keypad:
    """The keypad of one meter: press keys with the time they were pressed."""

    def __init__(
        self,
        target: KeypadTarget,
        *,
        timeout: timedelta = ENTRY_TIMEOUT,
        clear_window: timedelta = CLEAR_ALL_WINDOW,
    ) -> None:
        self.target = target
        self.timeout = timeout
        self.clear_window = clear_window
        self.state = KeypadState.IDLE
        self.entry = ""
        self._last_key: datetime | None = None
        self._shown: Submission | None = None
        self._beep = False

    # -- public -------------------------------------------------------------------------

    @property
    def display(self) -> KeypadDisplay:
        """What the display shows now (without applying any timeout)."""
        if self.state is KeypadState.SHOWING and self._shown is not None:
            shown = self._shown
            text = shown.lines[0] if shown.lines else ""
            return KeypadDisplay(self.state, "", text, shown.lines, shown.result, self._beep, shown)
        grouped = group_in_fours(self.entry)
        lines = (grouped,) if grouped else ()
        return KeypadDisplay(self.state, self.entry, grouped, lines, None, self._beep)

    def press(self, key: Key | str, now: datetime) -> KeypadDisplay:
        """Press one key at time ``now`` and return the display afterwards."""
        key = key if isinstance(key, Key) else Key.from_char(key)
        self._pass_time(now)
        self._beep = False
        self._fire(self._classify(key), now, key)
        self._last_key = now
        return self.display

    def clear_all(self, now: datetime) -> KeypadDisplay:
        """Clear the entry and the display at once (Escape on a computer keyboard)."""
        self._pass_time(now)
        self._beep = False
        self._fire(Event.CLEAR_ALL, now, None)
        self._last_key = now
        return self.display

    def tick(self, now: datetime) -> KeypadDisplay:
        """Let time pass without a key: applies the entry timeout and the Clear window."""
        self._pass_time(now)
        self._beep = False
        return self.display

    # -- the machine --------------------------------------------------------------------

    def _pass_time(self, now: datetime) -> None:
        if self._last_key is None:
            return
        if now < self._last_key:
            raise RangeError(
                f"key time {now.isoformat()} is before the previous key at "
                f"{self._last_key.isoformat()}; key times must not go backwards"
            )
        quiet = now - self._last_key
        if self.state is not KeypadState.IDLE and quiet >= self.timeout:
            self._fire(Event.TIMEOUT, now, None)
        elif self.state is KeypadState.CLEAR_ARMED and quiet >= self.clear_window:
            self._fire(Event.WINDOW_PASSED, now, None)

    def _classify(self, key: Key) -> Event:
        if key.is_digit:
            full = self.state in (KeypadState.ENTERING, KeypadState.CLEAR_ARMED) and (
                len(self.entry) >= TOKEN_DIGITS
            )
            return Event.DIGIT_FULL if full else Event.DIGIT
        if key is Key.CLEAR:
            if self.state is KeypadState.ENTERING and len(self.entry) == 1:
                return Event.CLEAR_LAST
            return Event.CLEAR
        return Event.ENTER

    def _fire(self, event: Event, now: datetime, key: Key | None) -> None:
        before = self.state
        after = transition(before, event)
        self._act(before, event, now, key)
        self.state = after

    def _act(self, state: KeypadState, event: Event, now: datetime, key: Key | None) -> None:
        """The side effect of ``event`` in ``state`` (the table has already allowed it)."""
        match (state, event):
            case (_S.IDLE | _S.SHOWING, Event.DIGIT):
                assert key is not None
                self.entry = key.value
                self._shown = None
            case (_, Event.DIGIT):
                assert key is not None
                self.entry += key.value
            case (_S.ENTERING, Event.CLEAR):
                self.entry = self.entry[:-1]
            case (_S.ENTERING | _S.CLEAR_ARMED, Event.ENTER):
                self._shown = self._submit(self.entry, now)
                self.entry = ""
            case (_S.SHOWING, Event.CLEAR):
                self._shown = None
            case (_, Event.DIGIT_FULL) | (_S.IDLE, Event.CLEAR | Event.ENTER):
                self._beep = True
            case (_S.SHOWING, Event.ENTER):
                self._beep = True
            case (_, Event.WINDOW_PASSED):
                pass
            case _:  # the quick second Clear, CLEAR_LAST, CLEAR_ALL, TIMEOUT: drop everything
                self.entry = ""
                self._shown = None

    def _submit(self, entry: str, now: datetime) -> Submission:
        if len(entry) == TOKEN_DIGITS:
            try:
                outcome = self.target.enter_token(entry, now)
            except StsError as exc:
                code = exc.result_code or ResultCode.FORMAT
                return Submission(entry, EntryKind.TOKEN, (code.text, str(exc)), code, None, now)
            lines = tuple(outcome.display) or (outcome.text,)
            return Submission(entry, EntryKind.TOKEN, lines, outcome.result, outcome, now)
        if len(entry) in SHORT_CODE_DIGITS:
            try:
                lines = tuple(self.target.short_code(entry, now))
            except StsError as exc:
                code = exc.result_code
                first = code.text if code is not None else "Error"
                return Submission(entry, EntryKind.SHORT_CODE, (first, str(exc)), code, None, now)
            return Submission(entry, EntryKind.SHORT_CODE, lines, None, None, now)
        engineering = getattr(self.target, "engineering_entry", None)
        if (
            engineering is not None
            and len(entry) < TOKEN_DIGITS
            and entry.startswith(ENGINEERING_PREFIX)
        ):
            try:
                answer = engineering(entry, now)
            except StsError as exc:
                code = exc.result_code or ResultCode.FORMAT
                return Submission(
                    entry, EntryKind.ENGINEERING, (code.text, str(exc)), code, None, now
                )
            return Submission(
                entry, EntryKind.ENGINEERING, tuple(answer.lines), answer.result, None, now
            )
        return Submission(
            entry,
            EntryKind.WRONG_LENGTH,
            (
                ResultCode.FORMAT.text,
                f"{len(entry)} digits: a token has {TOKEN_DIGITS}, a code 1-3",
            ),
            ResultCode.FORMAT,
            None,
            now,
        )


@dataclass(frozen=True)
class KeyRun:
    """The result of feeding a string of keys: each Enter's submission and the final display."""

    submissions: tuple[Submission, ...]
    final: KeypadDisplay

    @property
    def rejected(self) -> bool:
        """True if any entry was refused (see :attr:`Submission.rejected`)."""
        return any(s.rejected for s in self.submissions)

    @property
    def reached_meter(self) -> bool:
        """True if any entry was handed to the meter (a token or a short code)."""
        return any(s.kind is not EntryKind.WRONG_LENGTH for s in self.submissions)


def run_keys(keypad: Keypad, keys: str | Sequence[Key], start: datetime, gap: timedelta) -> KeyRun:
    """Press ``keys`` (a :func:`parse_keys` string or a list of keys) ``gap`` apart from ``start``.

    The first key is pressed at ``start``; each Enter that submits an entry
    contributes its :class:`Submission`.
    """
    pressed = parse_keys(keys) if isinstance(keys, str) else list(keys)
    submissions: list[Submission] = []
    display = keypad.tick(start)
    for index, key in enumerate(pressed):
        display = keypad.press(key, start + gap * index)
        if key is Key.ENTER and display.submission is not None and not display.beep:
            submissions.append(display.submission)
    return KeyRun(tuple(submissions), display)
