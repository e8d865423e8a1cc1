"""Currency tokens round in the customer's favour both ways: a credit up, a deduction down.

Figures worked by hand from the currency coding (sts/tokens/amount.py): exponent e covers
values from offset(e) = 16384 * (1 + 10 + ... + 10^(e-1)) in steps of 10^e.

* credit 20.00000 = 2,000,000 units: e = 3 (1,818,624 <= 2,000,000 < 18,202,624),
  m = ceil((2,000,000 - 1,818,624) / 1000) = ceil(181.376) = 182, credited
  1,818,624 + 182,000 = 2,000,624 units = 20.00624;
* deduct 10.00000 = 1,000,000 units: e = 2 (180,224 <= 1,000,000 < 1,818,624),
  m = floor((1,000,000 - 180,224) / 100) = floor(8197.76) = 8197, deducted
  180,224 + 819,700 = 999,924 units = 9.99924 (it was 8198: 10.00024, the customer's loss);
* left: 2,000,624 - 999,924 = 1,000,700 units = 10.00700.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner

import sts
from cli import main
from sts.meter.config import CreditConfig, EnergyStep, TariffConfig
from sts.meter.meter import Meter
from sts.results import ResultCode as R
from sts.tokens import CreditKind, CurrencyCredit

DK = "E653341F9D5BF36F"  # STS 531-1 CTSA meter: DRN 00000000000, SGC 123456, TI 1
MADE = datetime(2004, 1, 1, tzinfo=UTC)
AT = datetime(2004, 6, 1, 12, 0, tzinfo=UTC)


def _money_token(units_1e5: int, tid: int, negative: bool) -> str:
    token = CurrencyCredit.for_amount(CreditKind.ELECTRICITY_CURRENCY, units_1e5, tid, negative)
    return sts.encode(token, sts.DecoderKey.from_hex(DK))


def test_a_deduction_of_10_takes_9_99924_and_a_credit_of_20_gives_20_00624():
    tariff = TariffConfig(steps=(EnergyStep(None, Decimal("2.00")),))
    meter = Meter.manufacture(
        drn="00000000000",
        key=sts.DecoderKey.from_hex(DK),
        sgc=123456,
        base_date=1993,
        manufactured=MADE,
        config=CreditConfig(tariff=tariff),
    )
    credit = meter.enter_token(_money_token(2_000_000, 5_900_000, negative=False), AT)
    assert credit.result is R.ACCEPT
    assert meter.status().credit.money == Decimal("20.00624")
    deduction = meter.enter_token(_money_token(1_000_000, 5_900_001, negative=True), AT)
    assert deduction.result is R.ACCEPT
    assert deduction.receipt is not None and deduction.receipt.amount == Decimal("-9.99924")
    assert meter.status().credit.money == Decimal("10.00700")


def test_the_cli_deduction_token_for_10_deducts_9_99924(tmp_path: Path):
    runner = CliRunner()
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"tariff": {"steps": [{"upto_kwh": None, "price": "2.00"}]}}))
    meter = tmp_path / "meter.json"
    made = runner.invoke(
        main,
        ["meter", "new", str(meter), "--dk", DK, "--drn", "00000000000", "--sgc", "123456",
         "--bd", "1993", "--manufactured", "2004-01-01 00:00+00:00", "--config", str(config)],
    )  # fmt: skip
    assert made.exit_code == 0, made.output

    def encode(money: str, tid: str) -> str:
        result = runner.invoke(
            main,
            ["token", "encode", "credit", "--money", money, "--dk", DK, "--bd", "1993",
             "--tid", tid, "--json"],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)["tokens"][0]["digits"]

    for money, tid, left in (("20", "5900000", "20.00624"), ("-10", "5900001", "10.00700")):
        entered = runner.invoke(
            main, ["meter", "enter", str(meter), encode(money, tid), "--json", "--at", "+1m"]
        )
        assert entered.exit_code == 0, entered.output
        assert json.loads(entered.stdout)["credit"]["money"] == left
