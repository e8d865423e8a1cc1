"""The pure keypad model: grouping, Clear, timeout, short codes, tokens, wrong lengths.

The keypad is driven against a small recording target (it only has to answer
``enter_token`` and ``short_code``); the Textual screen's tests use the real
meter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from sts.errors import FormatError, RangeError, StsError
from sts.meter.keypad import (
    TRANSITIONS,
    EntryKind,
    Event,
    Key,
    Keypad,
    KeypadState,
    group_in_fours,
    parse_keys,
    run_keys,
    transition,
)
from sts.results import ResultCode

T0 = datetime(2024, 3, 1, 9, 0, 0)
TOKEN = "56866325418163727226"


@dataclass(frozen=True)
class Outcome:
    result: ResultCode
    text: str
    display: list[str]


@dataclass
class Recorder:
    """Answers tokens with a fixed result and records what it was asked."""

    answer: ResultCode = ResultCode.ACCEPT
    tokens: list[tuple[str, datetime]] = field(default_factory=list)
    codes: list[tuple[str, datetime]] = field(default_factory=list)

    def enter_token(self, digits: str, now: datetime) -> Outcome:
        self.tokens.append((digits, now))
        return Outcome(self.answer, self.answer.text, [self.answer.text, "12.5 kWh"])

    def short_code(self, code: str, now: datetime) -> list[str]:
        self.codes.append((code, now))
        if code == "999":
            raise StsError("short code 999 is not known")
        return [f"register {code}", "42"]


def typed(pad: Keypad, keys: str, at: datetime = T0):
    display = pad.display
    for key in parse_keys(keys):
        display = pad.press(key, at)
    return display


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# -- display ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "shown"),
    [
        ("1", "1"),
        ("1234", "1234"),
        ("12345", "1234 5"),
        ("12345678", "1234 5678"),
        ("123456789", "1234 5678 9"),
        (TOKEN, "5686 6325 4181 6372 7226"),
    ],
)
def test_entry_shows_in_groups_of_four(keys: str, shown: str) -> None:
    display = typed(Keypad(Recorder()), keys)
    assert display.text == shown
    assert display.lines == (shown,)
    assert display.entry == keys
    assert display.state is KeypadState.ENTERING
    assert display.result is None


def test_group_in_fours_of_nothing_is_empty() -> None:
    assert group_in_fours("") == ""


def test_fresh_keypad_is_idle_and_blank() -> None:
    display = Keypad(Recorder()).display
    assert (display.state, display.text, display.lines, display.beep) == (
        KeypadState.IDLE,
        "",
        (),
        False,
    )


# -- Clear -----------------------------------------------------------------------------------


def test_one_clear_deletes_the_last_digit() -> None:
    pad = Keypad(Recorder())
    typed(pad, "12345")
    display = pad.press(Key.CLEAR, at(1))
    assert display.entry == "1234"
    assert display.text == "1234"
    assert display.state is KeypadState.CLEAR_ARMED


def test_two_quick_clears_clear_all() -> None:
    pad = Keypad(Recorder())
    typed(pad, "12345")
    pad.press(Key.CLEAR, at(1))
    display = pad.press(Key.CLEAR, at(1.999))
    assert display.entry == ""
    assert display.text == ""
    assert display.state is KeypadState.IDLE
    assert not display.beep


def test_two_clears_one_second_apart_delete_two_digits() -> None:
    pad = Keypad(Recorder())
    typed(pad, "12345")
    pad.press(Key.CLEAR, at(1))
    display = pad.press(Key.CLEAR, at(2))  # exactly the window: slow
    assert display.entry == "123"
    assert display.state is KeypadState.CLEAR_ARMED


def test_slow_clears_walk_back_digit_by_digit() -> None:
    pad = Keypad(Recorder())
    typed(pad, "123")
    assert pad.press("C", at(2)).entry == "12"
    assert pad.press("C", at(4)).entry == "1"
    display = pad.press("C", at(6))
    assert display.entry == ""
    assert display.state is KeypadState.IDLE


def test_clear_after_the_window_then_a_quick_clear_clears_all() -> None:
    pad = Keypad(Recorder())
    typed(pad, "123456")
    pad.press("C", at(2))
    pad.press("C", at(4))  # slow: deletes one more
    display = pad.press("C", at(4.5))  # quick after that: clears all
    assert display.entry == ""
    assert display.state is KeypadState.IDLE


def test_tick_past_the_window_rearms_digit_entry() -> None:
    pad = Keypad(Recorder())
    typed(pad, "123")
    pad.press("C", at(0))
    assert pad.tick(at(0.5)).state is KeypadState.CLEAR_ARMED
    assert pad.tick(at(1)).state is KeypadState.ENTERING


def test_digit_after_clear_continues_the_entry() -> None:
    pad = Keypad(Recorder())
    typed(pad, "123")
    pad.press("C", at(0.1))
    display = pad.press("9", at(0.2))
    assert display.entry == "129"
    assert display.state is KeypadState.ENTERING


def test_clear_with_nothing_typed_beeps() -> None:
    display = Keypad(Recorder()).press("C", T0)
    assert display.beep
    assert display.state is KeypadState.IDLE


def test_clear_all_escape() -> None:
    pad = Keypad(Recorder())
    typed(pad, "1234567")
    display = pad.clear_all(at(1))
    assert (display.entry, display.state) == ("", KeypadState.IDLE)


# -- timeout ---------------------------------------------------------------------------------


def test_key_29_seconds_later_continues_the_entry() -> None:
    pad = Keypad(Recorder())
    typed(pad, "1234")
    display = pad.press("5", at(29))
    assert display.entry == "12345"


def test_key_30_seconds_later_starts_afresh() -> None:
    pad = Keypad(Recorder())
    typed(pad, "1234")
    display = pad.press("5", at(30))
    assert display.entry == "5"
    assert display.text == "5"


def test_timeout_counts_from_the_last_key_not_the_first() -> None:
    pad = Keypad(Recorder())
    pad.press("1", at(0))
    pad.press("2", at(20))
    display = pad.press("3", at(49))
    assert display.entry == "123"


def test_tick_at_30_seconds_drops_the_entry() -> None:
    pad = Keypad(Recorder())
    typed(pad, "1234")
    assert pad.tick(at(29)).entry == "1234"
    display = pad.tick(at(30))
    assert (display.entry, display.state, display.text) == ("", KeypadState.IDLE, "")


def test_enter_after_timeout_has_nothing_to_submit() -> None:
    target = Recorder()
    pad = Keypad(target)
    typed(pad, TOKEN)
    display = pad.press("E", at(30))
    assert display.beep
    assert display.submission is None
    assert target.tokens == []


def test_result_on_the_display_times_out_too() -> None:
    pad = Keypad(Recorder())
    typed(pad, TOKEN + "E")
    assert pad.tick(at(29)).text == "Accept"
    display = pad.tick(at(30))
    assert (display.state, display.text, display.result) == (KeypadState.IDLE, "", None)


def test_clear_armed_times_out() -> None:
    pad = Keypad(Recorder())
    typed(pad, "12")
    pad.press("C", at(0))
    assert pad.press("7", at(30)).entry == "7"


def test_key_times_must_not_go_backwards() -> None:
    pad = Keypad(Recorder())
    pad.press("1", at(5))
    with pytest.raises(RangeError, match="before the previous key"):
        pad.press("2", at(4))


# -- Enter -----------------------------------------------------------------------------------


def test_twenty_digits_and_enter_submit_a_token() -> None:
    target = Recorder()
    pad = Keypad(target)
    typed(pad, TOKEN)
    display = pad.press("E", at(3))
    assert target.tokens == [(TOKEN, at(3))]
    assert target.codes == []
    assert display.state is KeypadState.SHOWING
    assert display.text == "Accept"
    assert display.lines == ("Accept", "12.5 kWh")
    assert display.result is ResultCode.ACCEPT
    assert display.submission is not None
    assert display.submission.kind is EntryKind.TOKEN
    assert display.submission.entry == TOKEN
    assert not display.submission.rejected


def test_rejected_token_shows_the_meter_result() -> None:
    target = Recorder(answer=ResultCode.CRC)
    display = typed(Keypad(target), TOKEN + "E")
    assert display.text == "CRC"
    assert display.result is ResultCode.CRC
    assert display.submission is not None and display.submission.rejected


@pytest.mark.parametrize("code", ["0", "07", "123"])
def test_one_to_three_digits_and_enter_are_a_short_code(code: str) -> None:
    target = Recorder()
    display = typed(Keypad(target), code + "E")
    assert target.codes == [(code, T0)]
    assert target.tokens == []
    assert display.lines == (f"register {code}", "42")
    assert display.text == f"register {code}"
    assert display.result is None
    assert display.submission is not None
    assert display.submission.kind is EntryKind.SHORT_CODE
    assert not display.submission.rejected


def test_short_code_the_meter_refuses_shows_its_message() -> None:
    display = typed(Keypad(Recorder()), "999E")
    assert display.lines == ("Error", "short code 999 is not known")


@pytest.mark.parametrize("length", [4, 5, 12, 19])
def test_other_lengths_and_enter_show_format_without_asking_the_meter(length: int) -> None:
    target = Recorder()
    display = typed(Keypad(target), TOKEN[:length] + "E")
    assert target.tokens == [] and target.codes == []
    assert display.text == "Format"
    assert display.result is ResultCode.FORMAT
    assert display.lines[1] == f"{length} digits: a token has 20, a code 1-3"
    assert display.submission is not None
    assert display.submission.kind is EntryKind.WRONG_LENGTH
    assert display.submission.rejected


def test_twenty_first_digit_is_refused_with_a_beep() -> None:
    pad = Keypad(Recorder())
    typed(pad, TOKEN)
    display = pad.press("9", at(1))
    assert display.beep
    assert display.entry == TOKEN
    assert pad.press("E", at(2)).submission.entry == TOKEN  # type: ignore[union-attr]


def test_enter_with_nothing_typed_beeps_and_asks_nobody() -> None:
    target = Recorder()
    display = Keypad(target).press("E", T0)
    assert display.beep and display.submission is None
    assert target.tokens == [] and target.codes == []


def test_enter_again_on_a_shown_result_does_not_resubmit() -> None:
    target = Recorder()
    pad = Keypad(target)
    typed(pad, TOKEN + "E")
    display = pad.press("E", at(1))
    assert display.beep
    assert display.text == "Accept"
    assert len(target.tokens) == 1


def test_digit_on_a_shown_result_starts_a_new_entry() -> None:
    pad = Keypad(Recorder())
    typed(pad, TOKEN + "E")
    display = pad.press("4", at(1))
    assert (display.state, display.entry, display.text, display.result) == (
        KeypadState.ENTERING,
        "4",
        "4",
        None,
    )


def test_clear_dismisses_a_shown_result() -> None:
    pad = Keypad(Recorder())
    typed(pad, "5E")
    display = pad.press("C", at(1))
    assert (display.state, display.text, display.beep) == (KeypadState.IDLE, "", False)


def test_enter_after_a_clear_submits_what_is_left() -> None:
    target = Recorder()
    pad = Keypad(target)
    typed(pad, "123")
    pad.press("C", at(0.5))
    pad.press("E", at(0.7))
    assert target.codes == [("12", at(0.7))]


# -- the table -------------------------------------------------------------------------------


def test_every_state_has_its_row() -> None:
    assert set(TRANSITIONS) == set(KeypadState)


@pytest.mark.parametrize(
    ("state", "event"),
    [
        (KeypadState.IDLE, Event.TIMEOUT),
        (KeypadState.IDLE, Event.WINDOW_PASSED),
        (KeypadState.SHOWING, Event.DIGIT_FULL),
        (KeypadState.ENTERING, Event.WINDOW_PASSED),
    ],
)
def test_illegal_event_raises(state: KeypadState, event: Event) -> None:
    with pytest.raises(StsError, match="not allowed in state"):
        transition(state, event)


def test_legal_transitions_follow_the_table() -> None:
    assert transition(KeypadState.CLEAR_ARMED, Event.CLEAR) is KeypadState.IDLE
    assert transition(KeypadState.ENTERING, Event.CLEAR) is KeypadState.CLEAR_ARMED
    assert transition(KeypadState.CLEAR_ARMED, Event.WINDOW_PASSED) is KeypadState.ENTERING


# -- keys written as text --------------------------------------------------------------------


def test_parse_keys_ignores_spaces_and_case() -> None:
    assert parse_keys("12 c e") == [Key.D1, Key.D2, Key.CLEAR, Key.ENTER]


def test_parse_keys_refuses_other_characters() -> None:
    with pytest.raises(FormatError, match="'x' is not a keypad key"):
        parse_keys("12x")


def test_run_keys_collects_each_enter() -> None:
    target = Recorder()
    run = run_keys(Keypad(target), "12E 1234E " + TOKEN + "E 7", T0, timedelta(seconds=0.25))
    assert [s.kind for s in run.submissions] == [
        EntryKind.SHORT_CODE,
        EntryKind.WRONG_LENGTH,
        EntryKind.TOKEN,
    ]
    assert run.rejected  # the 4-digit entry
    assert run.final.entry == "7"
    # the token's Enter is the 29th key: 28 gaps after the start
    assert target.tokens == [(TOKEN, T0 + timedelta(seconds=0.25 * 28))]


def test_run_keys_gap_decides_what_two_clears_do() -> None:
    quick = run_keys(Keypad(Recorder()), "12345CC", T0, timedelta(seconds=0.25))
    slow = run_keys(Keypad(Recorder()), "12345CC", T0, timedelta(seconds=1))
    assert quick.final.entry == ""
    assert slow.final.entry == "123"


def test_run_keys_with_only_accepted_tokens_is_not_rejected() -> None:
    run = run_keys(Keypad(Recorder()), TOKEN + "E", T0, timedelta(seconds=0.25))
    assert not run.rejected
    assert run.submissions[0].to_dict()["text"] == "Accept"


def test_run_keys_reached_meter_only_for_tokens_and_codes() -> None:
    wrong = run_keys(Keypad(Recorder()), "1234E", T0, timedelta(seconds=0.25))
    code = run_keys(Keypad(Recorder()), "1234E 5E", T0, timedelta(seconds=0.25))
    assert not wrong.reached_meter
    assert code.reached_meter


def test_run_keys_takes_a_list_of_keys() -> None:
    run = run_keys(Keypad(Recorder()), [Key.D4, Key.ENTER], T0, timedelta(seconds=1))
    assert run.submissions[0].lines == ("register 4", "42")


def test_module_example_runs() -> None:
    import doctest

    import sts.meter.keypad as module

    result = doctest.testmod(module)
    assert result.attempted > 0
    assert result.failed == 0
