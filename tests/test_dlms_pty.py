"""HDLC on a pseudo-terminal: `sts meter serve FILE --pty` as a real process, and
dlms-cosem's own HdlcTransport on a serial port (pyserial) as the optical-probe client."""

from __future__ import annotations

import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from dlms_cosem.client import DlmsClient
from dlms_cosem.io import HdlcTransport, SerialIO
from dlms_cosem.security import LowLevelSecurityAuthentication, NoSecurityAuthentication

from sts.meter import state as meter_state
from sts.meter.dlms.files import load_settings
from sts.meter.dlms.model import Level
from tests.dlms_support import CREDIT_01KWH, attribute, make_meter, method, octets

REPO_ROOT = Path(__file__).resolve().parent.parent


def client(path: str, sap: int, auth) -> DlmsClient:
    return DlmsClient(
        transport=HdlcTransport(
            client_logical_address=sap, server_logical_address=1, io=SerialIO(path, timeout=10)
        ),
        authentication=auth,
    )


def test_serve_on_a_pseudo_terminal(tmp_path: Path):
    file = tmp_path / "m.json"
    meter_state.save(make_meter(), file)
    process = subprocess.Popen(
        [sys.executable, "cli.py", "meter", "serve", str(file), "--pty", "--frozen-clock"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert " (HDLC); settings " in line, process.stderr.read()
        path = line.split(" on ")[1].split(" (HDLC)")[0]
        assert path.startswith("/dev/")
        settings, _ = load_settings(Path(f"{file}.dlms.json"))
        operator = next(p for p, lv in settings.passwords.items() if lv is Level.OPERATOR)
        with client(path, 16, NoSecurityAuthentication()).session() as c:
            assert c.get(attribute(1, "0.0.42.0.0.255", 2)) == octets("STS00000000000")
        with client(path, 1, LowLevelSecurityAuthentication(operator)).session() as c:
            c.action(method(115, "0.0.19.40.0.255", 1), octets(CREDIT_01KWH))
            status = c.get(attribute(115, "0.0.19.40.0.255", 6))
        assert status == bytes.fromhex("0202 1603 040801")  # Accept
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate()
    assert process.returncode == 0
    assert meter_state.load(file).status().credit.energy_kwh == Decimal("0.1")
