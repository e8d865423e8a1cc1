"""A utility closes the loop on its water vending, as a user does: each step an `sts` process.

A water meter is registered with a water tariff at 10.00 per m3, sold 25.00 (2.5 m3: a
class 0 subclass 1 token carrying 25 units of 0.1 m3), made as a simulated meter from the
ledger, and the token keyed in: the volume wallet holds the receipt's 2.5 m3. One m3/h for
30 minutes draws 0.5 m3, leaving 2.0. The sales report shows the 2.5 in m3, and changing
the meter to gas is refused while its token may be unused.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

STS = Path(sys.executable).with_name("sts")
MASTER_HEX = "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF"
DRN = "47500150231"
VK = "ABABABABABABABAB"
WATER = {
    "name": "Water",
    "currency": "ZAR",
    "service": "water",
    "blocks": [{"up_to_kwh": None, "price_per_kwh": "10.00"}],
}
GAS = WATER | {"name": "Gas", "service": "gas"}


def test_water_vend_keyed_into_its_simulated_meter_as_processes(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STS_")}
    env |= {"STS_DATABASE_URL": f"sqlite:///{tmp_path / 'v.db'}", "STS_MASTER_KEY": MASTER_HEX}

    def sts(*args: str, expect: int = 0, input: str | None = None) -> subprocess.CompletedProcess:
        done = subprocess.run([str(STS), *args], cwd=tmp_path, env=env, input=input,
                              capture_output=True, text=True, check=False)  # fmt: skip
        assert done.returncode == expect, (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        return done

    def sts_json(*args: str) -> Any:
        return json.loads(sts(*args, "--json").stdout)

    for tariff in (WATER, GAS):
        (tmp_path / f"{tariff['name']}.json").write_text(json.dumps(tariff))
        sts("tariffs", "add", str(tmp_path / f"{tariff['name']}.json"))
    sts("keys", "add", "k1", "--sgc", "123456", "--krn", "1", "--base-date", "2014", input=VK)
    sts("meters", "add", DRN, "--sgc", "123456", "--service", "water", "--tariff", "Water")

    receipt = sts_json("vend", "credit", "--meter", DRN, "--money", "25.00")
    assert (receipt["units"], receipt["breakdown"]["unit"]) == (25, "m3")  # 25.00 / 10.00
    [token] = receipt["tokens"]

    state = tmp_path / "water.json"
    sts("meters", "simulate", DRN, str(state))
    entered = sts_json("meter", "enter", str(state), token["digits"])
    assert (entered["text"], entered["token"]["subclass"]) == ("Accept", 1)
    assert entered["display"][1:3] == ["+2.5 m3", "Volume 2.500 m3"]
    ran = sts_json("meter", "run", str(state), "--flow", "1", "--for", "30m")
    assert (ran["credit"]["energy_kwh"], ran["unit"]) == ("2.000", "m3")  # 2.5 - 0.5
    shown = sts("meter", "show", str(state)).stdout
    assert "volume wallet     2.000 m3" in shown and "kWh" not in shown

    [row] = sts_json("report", "sales")["rows"]
    assert (row["service"], row["units"], row["unit"], row["money"]) == (
        "water",
        "2.5",
        "m3",
        "25.00",
    )

    refused = sts("meters", "set", DRN, "--service", "gas", "--tariff", "Gas", expect=1)
    assert f"meter {DRN} has 1 credit token(s)" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    changed = sts_json("meters", "set", DRN, "--service", "gas", "--tariff", "Gas",
                       "--tokens-used")  # fmt: skip
    assert (changed["service"], changed["tariff"]) == ("gas", "Gas")
    assert sts_json("report", "verify")["ok"] is True
