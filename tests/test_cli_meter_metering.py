"""The metering commands as a user runs them: registers, profile, billing, run --export.

One CTSA meter (0.1 kWh token) exports 600 W for an hour (600 Wh of -A, no credit
used), then draws 1 kW until its 0.1 kWh runs out after 6 minutes (100 Wh of +A).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_cli_meter import CREDIT_01KWH, DK, MADE, NEW_CTSA_METER, REPO_ROOT, sts, sts_json

CONFIG = {
    "metering": {
        "supply": {"nominal_v": "120", "frequency_hz": 60},
        "surveys": [{"channels": ["1.0.2.8.0.255", "1.0.2.7.0.255"], "period_min": 15}],
    }
}


@pytest.fixture
def metered(tmp_path: Path) -> Path:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(CONFIG))
    path = tmp_path / "meter.json"
    made = sts(
        "meter", "new", str(path), "--dk", DK, *NEW_CTSA_METER, *MADE, "--config", str(config)
    )
    assert made.exit_code == 0, made.output
    assert sts("meter", "enter", str(path), CREDIT_01KWH, "--at", "+0m").exit_code == 0
    ran = sts("meter", "run", str(path), "--export", "600W", "--for", "1h")
    assert ran.exit_code == 0, ran.output
    ran = sts("meter", "run", str(path), "--load", "1kW", "--for", "23h")
    assert ran.exit_code == 0, ran.output
    return path


def test_registers_lists_obis_codes_with_values_by_hand(metered: Path):
    data = sts_json("meter", "registers", str(metered))
    rows = {r["obis"]: r for r in data["registers"]}
    assert rows["1.0.2.8.0.255"]["value"] == 600
    assert rows["1.0.1.8.0.255"]["value"] == 100
    assert rows["1.0.15.8.0.255"]["value"] == 700
    assert (rows["1.0.32.7.0.255"]["value"], rows["1.0.32.7.0.255"]["scaler"]) == (1200, -1)
    assert rows["1.0.14.7.0.255"]["quantity"] == "60.00"
    assert rows["1.0.31.7.0.255"]["value"] == 0  # the relay is open: no current
    shown = sts("meter", "registers", str(metered))
    assert shown.exit_code == 0 and "1.0.2.8.0.255" in shown.output and "varh" in shown.output


def test_profile_prints_csv_json_a_table_and_a_plot(metered: Path):
    csv = sts("meter", "profile", str(metered), "--csv", "--to", "2004-01-01 01:00+00:00")
    assert csv.exit_code == 0, csv.output
    lines = csv.output.splitlines()
    assert lines[0] == "time,1.0.2.8.0.255 [Wh],1.0.2.7.0.255 [W]"
    assert [line.split(",", 1)[1] for line in lines[1:]] == [
        "150,600",
        "300,600",
        "450,600",
        "600,600",
    ]
    data = sts_json("meter", "profile", str(metered), "--from", "2004-01-01 01:15+00:00")
    assert len(data["rows"]) == 23 * 4 and data["rows"][-1][1:] == [600, 0]
    plot = sts("meter", "profile", str(metered), "--plot")
    assert plot.exit_code == 0 and "1.0.2.8.0.255 [Wh], hours from" in plot.output
    table = sts("meter", "profile", str(metered), "--survey", "0")
    assert table.exit_code == 0 and "Survey 0 (1 rows)" in table.output


def test_billing_shows_net_consumption(metered: Path):
    data = sts_json("meter", "billing", str(metered))
    (day,) = data["daily"]
    assert (day["period"], day["import_wh"], day["export_wh"], day["net_wh"]) == (
        "2004-01-01",
        100,
        600,
        -500,
    )
    assert day["import_wh_by_rate"][0] == 100 and data["monthly"] == []
    shown = sts("meter", "billing", str(metered))
    assert shown.exit_code == 0 and "-500" in shown.output


def test_bad_requests_are_one_sentence_and_exit_1_or_2(metered: Path, tmp_path: Path):
    missing = sts("meter", "profile", str(metered), "--survey", "2")
    assert missing.exit_code == 1
    assert "survey 2 is not configured; this meter has survey 1 and the daily survey 0" in (
        missing.output
    )
    both = sts("meter", "profile", str(metered), "--csv", "--plot")
    assert both.exit_code == 2
    channel = sts("meter", "profile", str(metered), "--plot", "--channel", "1.0.1.8.0.255")
    assert channel.exit_code == 2 and "not a channel of survey 1" in channel.output
    config = tmp_path / "bad.json"
    config.write_text(json.dumps({"metering": {"surveys": [{"channels": ["1.0.77.8.0.255"]}]}}))
    bad = sts(
        "meter",
        "new",
        str(tmp_path / "x.json"),
        "--dk",
        DK,
        *NEW_CTSA_METER,
        *MADE,
        "--config",
        str(config),
    )
    assert bad.exit_code == 1 and "metering.surveys[0]" in bad.output
    assert "Traceback" not in bad.output and not (tmp_path / "x.json").exists()
    both_loads = sts(
        "meter", "run", str(metered), "--load", "1kW", "--export", "1kW", "--for", "1h"
    )
    assert both_loads.exit_code == 2


def test_registers_as_a_real_process(metered: Path):
    done = subprocess.run(
        [sys.executable, "cli.py", "meter", "registers", str(metered), "--json"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows = {r["obis"]: r["value"] for r in json.loads(done.stdout)["registers"]}
    assert rows["1.0.2.8.0.255"] == 600


def test_tamper_relay_events_and_mode_commands(metered: Path):
    tampered = sts_json("meter", "tamper", str(metered), "--kind", "meter_cover")
    assert tampered["tampers"] == ["meter_cover"] and tampered["reason"] == "tamper"
    assert tampered["alarm"] == ["ALARM (1)", "Meter cover opened"]
    off = sts_json("meter", "relay", str(metered), "--disconnect", "--remote")
    assert (off["control_state"], off["relay_closed"]) == ("disconnected", False)
    ready = sts_json("meter", "relay", str(metered), "--reconnect", "--remote")
    assert ready["control_state"] == "ready_for_reconnection"
    assert sts_json("meter", "relay", str(metered), "--reconnect")["control_state"] == "connected"
    refused = sts("meter", "relay", str(metered), "--reconnect")
    assert refused.exit_code == 1 and "not possible in state connected" in refused.output
    assert sts("meter", "relay", str(metered)).exit_code == 2
    events = sts_json("meter", "events", str(metered), "--log", "security")
    assert [e["code"] for e in events] == [105, 105, 105]
    fraud = sts_json("meter", "events", str(metered), "--log", "fraud")
    assert [(e["code"], e["event"]) for e in fraud] == [(44, "meter cover opened")]
    moved = sts("meter", "mode", str(metered), "postpaid")
    assert moved.exit_code == 0 and "relay open (tamper)" in moved.output
    cleared = sts_json("meter", "tamper", str(metered), "--kind", "tamper", "--clear")
    assert (cleared["relay_closed"], cleared["reason"]) == (True, "postpaid")
    bad = sts("meter", "tamper", str(metered), "--kind", "smoke")
    assert bad.exit_code == 2
    shown = sts("meter", "events", str(metered))
    assert shown.exit_code == 0 and "│ 104" in shown.output
    security = sts_json("meter", "events", str(metered), "--log", "security", "--last", "1")
    assert [(e["code"], e["detail"]) for e in security] == [(104, "prepaid -> postpaid (head end)")]


def test_the_guide_example_configuration_makes_a_meter(tmp_path: Path):
    guide = (REPO_ROOT / "docs" / "metering.md").read_text()
    example = guide.split("cat > settings.json <<'EOF'\n", 1)[1].split("EOF\n", 1)[0]
    config = tmp_path / "settings.json"
    config.write_text(example)
    path = tmp_path / "m.json"
    made = sts(
        "meter", "new", str(path), "--dk", DK, *NEW_CTSA_METER, *MADE, "--config", str(config)
    )
    assert made.exit_code == 0, made.output
    metering = json.loads(path.read_text())["meter"]["metering"]
    assert metering["config"]["rate_prices"] == {"2": "3.00"}
    assert len(metering["calendar"]["special_days"]) == 3
    assert metering["protection"]["config"]["over_current_a"] == "63"


def test_show_gives_the_payment_mode_disconnect_control_and_alarm(metered: Path):
    assert sts("meter", "tamper", str(metered), "--kind", "magnetic").exit_code == 0
    shown = sts("meter", "show", str(metered))
    assert "prepaid, disconnect control connected" in shown.output
    assert "magnetic field (1 unacknowledged)" in shown.output
    data = sts_json("meter", "show", str(metered))
    assert (data["payment_mode"], data["control_state"], data["alarms"]) == (
        "prepaid",
        "connected",
        ["magnetic field"],
    )
