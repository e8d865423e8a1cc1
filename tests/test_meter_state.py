"""Meter state files: round trips, atomic writes, and refusing corrupt or foreign files."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import sts
from sts.errors import FormatError, StsError
from sts.meter import state
from sts.meter.meter import Meter
from sts.results import ResultCode as R

DK = "E653341F9D5BF36F"  # STS 531-1 CTSA meter, TI 1
KCT1_TI2 = "51638423060042734509"  # CTSA05 first section
KCT2_TI2 = "15361891762113502242"  # CTSA05 second section
CREDIT_01KWH = "23716100501183194197"  # CTSA01 step 1, TID 5871715
WRONG_KEY_TOKEN = sts.encode(
    sts.TransferCredit.for_units(sts.CreditKind.ELECTRICITY, 10, 5_900_000, 1),
    sts.DecoderKey.from_hex("0123456789ABCDEF"),
)
MADE = datetime(2004, 1, 1, tzinfo=UTC)
T = datetime(2004, 6, 1, 12, 0, tzinfo=UTC)


def busy_meter() -> Meter:
    """A meter with something in every part of its state."""
    meter = Meter.manufacture(
        drn="00000000000",
        key=sts.DecoderKey.from_hex(DK),
        manufactured=MADE,
        sgc=123456,
        base_date=1993,
        tid_memory=7,
    )
    assert meter.enter_token(CREDIT_01KWH, T).result is R.ACCEPT
    assert meter.enter_token(WRONG_KEY_TOKEN, T).result is R.CRC
    assert meter.enter_token(KCT1_TI2, T + timedelta(minutes=1)).result is R.FIRST_KCT
    assert meter.enter_token(WRONG_KEY_TOKEN, T + timedelta(minutes=2)).result is R.CRC
    meter.advance(T + timedelta(minutes=3), 1500)
    return meter


def test_text_round_trip_keeps_everything():
    meter = busy_meter()
    again = state.loads(state.dumps(meter))
    assert again.to_dict() == meter.to_dict()
    assert state.dumps(again) == state.dumps(meter)


def test_a_reloaded_meter_carries_on_where_it_stopped(tmp_path: Path):
    path = tmp_path / "meter.json"
    state.save(busy_meter(), path)
    meter = state.load(path)
    assert meter.clock == T + timedelta(minutes=3)
    assert meter.status().credit.demand_w == 1500  # the standing load
    assert meter.decoder.lockout.failures == 1  # the held KCT reset it; one wrong since
    assert meter.decoder.tids.capacity == 7
    assert meter.enter_token(CREDIT_01KWH).result is R.USED  # the TID memory survived
    # the held first section survived: the second completes the set (within 10 minutes)
    assert meter.enter_token(KCT2_TI2).result is R.ACCEPT
    assert meter.decoder.keys.key == sts.DecoderKey.from_hex("060B8643C59A27F1")
    assert meter.decoder.keys.ti == 2
    assert [e.kind.value for e in meter.events][-2:] == ["token accepted", "key changed"]


def test_the_document_has_a_format_tag_and_version():
    document = json.loads(state.dumps(busy_meter()))
    assert document["format"] == "sts-meter-state"
    assert document["version"] == 1
    assert document["meter"]["decoder"]["keys"]["key"] == DK  # simulated meter: key kept


def test_state_file_is_private(tmp_path: Path):
    path = tmp_path / "meter.json"
    state.save(busy_meter(), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_refuses_to_overwrite_unless_asked(tmp_path: Path):
    path = tmp_path / "meter.json"
    path.write_text("keep me")
    with pytest.raises(FormatError, match="exists already"):
        state.save(busy_meter(), path, overwrite=False)
    assert path.read_text() == "keep me"


def test_a_failure_while_writing_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    path = tmp_path / "meter.json"
    meter = busy_meter()
    state.save(meter, path)
    before = path.read_bytes()

    good = state.to_document(meter)
    # The event log comes last in the document: json.dump has already written most of the
    # temporary file when it meets the object it cannot serialise. (A meter cannot hold such
    # a thing, so the checked document is replaced after its check.)
    broken = dict(good, meter=dict(good["meter"], events={"capacity": 1, "events": [object()]}))
    monkeypatch.setattr(state, "to_document", lambda _meter: broken)
    with pytest.raises(TypeError):
        state.save(meter, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["meter.json"]  # no temporary file left behind


def test_a_meter_that_breaks_a_rule_is_not_written(tmp_path: Path):
    path = tmp_path / "meter.json"
    meter = busy_meter()
    state.save(meter, path)
    before = path.read_bytes()
    meter.engine.state.energy_j = -1  # no operation does this; a Python caller could
    with pytest.raises(FormatError, match=r"meter\.credit\.state\.energy_j is -1"):
        state.save(meter, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["meter.json"]


def test_a_failing_rename_leaves_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "meter.json"
    state.save(busy_meter(), path)
    before = path.read_bytes()

    def refuse(src: str, dst: str) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(StsError, match="cannot be written: Permission denied"):
        state.save(busy_meter(), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["meter.json"]


def _write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def _document(**changes: object) -> str:
    document = json.loads(state.dumps(busy_meter()))
    document.update(changes)
    return json.dumps(document)


def _damaged(edit) -> str:  # type: ignore[no-untyped-def]
    document = json.loads(state.dumps(busy_meter()))
    edit(document["meter"])
    return json.dumps(document)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"meter": ', "is not JSON"),
        (b"\xff\xfe\x00", "is not UTF-8"),
        ("[1, 2, 3]", "is not a meter state file: format is 'list'"),
        ('{"format": "sts-vectors"}', "is not a meter state file: format is 'sts-vectors'"),
        ('{"token": "1234"}', "is not a meter state file: format is None"),
        (_document(version=2), "version 2; this toolkit reads version 1"),
        (_document(meter=[]), "has no 'meter' object"),
        (_damaged(lambda m: m.pop("clock")), "damaged: meter.clock is missing"),
        (
            _damaged(lambda m: m["decoder"]["keys"].update(key="XYZ")),
            "damaged: meter.decoder.keys.key is 'XYZ'",
        ),
        (
            _damaged(lambda m: m["decoder"].update(drn="00000000001")),
            "damaged: meter.decoder: meter number",
        ),
        (
            _damaged(lambda m: m.update(clock="2004-01-01 00:00")),
            "damaged: meter.clock is '2004-01-01 00:00'; expected a time",
        ),
        (
            _damaged(lambda m: m["decoder"]["keys"].update(krn=12)),
            "damaged: meter.decoder.keys.krn is 12",
        ),
    ],
)
def test_corrupt_or_foreign_files_are_refused_naming_the_file(tmp_path: Path, content, message):
    path = _write(tmp_path / "odd.json", content)
    with pytest.raises(FormatError) as caught:
        state.load(path)
    assert str(path) in str(caught.value)
    assert message in str(caught.value)


def test_a_missing_file_is_named(tmp_path: Path):
    with pytest.raises(FormatError, match=r"nowhere\.json does not exist"):
        state.load(tmp_path / "nowhere.json")


def test_the_key_is_never_in_a_status_or_repr():
    meter = busy_meter()
    shown = repr(meter.status()) + json.dumps(meter.status().to_dict(), default=str)
    assert DK not in shown and DK.lower() not in shown
