"""The DLMS settings file: written owner-only, read back, and refused when malformed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sts.meter.dlms.device import Counters, SecuritySettings
from sts.meter.dlms.errors import ConfigError
from sts.meter.dlms.files import RESERVE, load_settings, save_settings, settings_from_json
from sts.meter.dlms.model import Level

SETTINGS = SecuritySettings(
    bytes.fromhex("5354530000000001"),
    {b"r": Level.READER, b"o": Level.OPERATOR, b"a": Level.ADMIN},
    bytes(range(16)),
    bytes(range(16, 32)),
)


def test_round_trip_reserves_the_server_counter(tmp_path: Path):
    path = tmp_path / "m.json.dlms.json"
    save_settings(path, SETTINGS, Counters(client_next=7, server=42))
    assert os.stat(path).st_mode & 0o777 == 0o600
    settings, counters = load_settings(path)
    assert settings == SETTINGS
    assert counters == Counters(client_next=7, server=42 + RESERVE)
    document = json.loads(path.read_text())
    assert document["passwords"] == {"reader": "r", "operator": "o", "admin": "a"}
    assert document["encryption_key"] == "000102030405060708090a0b0c0d0e0f"


def base() -> dict:
    return {"format": "sts-dlms-config", "version": 1, "system_title": "5354530000000001"}


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"format": "other"}, "not a DLMS settings file"),
        ({"version": 2}, "version 2"),
        ({"system_title": "5354"}, "system_title is '5354'; expected 16 hex digits"),
        ({"encryption_key": "zz" * 16}, "encryption_key"),
        ({"passwords": {"root": "x"}}, "password 'root'"),
        ({"passwords": {"reader": "same", "admin": "same"}}, "share one password"),
        ({"client_invocation_counter": -1}, "client_invocation_counter is -1"),
        ({"max_pdu_size": 10}, "max PDU size 10"),
    ],
)
def test_malformed_settings_are_refused_naming_the_field(change, words):
    with pytest.raises(ConfigError, match=words):
        settings_from_json(json.dumps(base() | change), "s.json")


def test_not_json_is_refused():
    with pytest.raises(ConfigError, match="is not JSON"):
        settings_from_json("{", "s.json")
