"""The vending API through HTTP: httpx against a real uvicorn, on SQLite and PostgreSQL.

The meter is the compliance-test meter (decoder key E653341F9D5BF36F) on a flat
tariff of 2.00 per kWh; the vendor "Bank" starts with a float of 500.00. Every
figure below is worked by hand from those.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from conftest import TEST_MASTER_KEY, VECTOR_DK, Clock
from live_api import Seeded, seed, serving

import sts
from sts.tokens.credit import TransferCredit
from sts.tokens.management import ClearTamper
from vending import vendors
from vending.api import Limits, create_app
from vending.backend import Backend
from vending.db import Database
from vending.ledger_check import verify_connection

DK = sts.DecoderKey.from_hex(VECTOR_DK)
UNREGISTERED = "01234567897"  # a valid DRN (Luhn digit 7) that is not registered
ERROR_KEYS = {"type", "field", "value", "message"}


@pytest.fixture
def api(database_url: str, backend: Backend, clock: Clock) -> Iterator[tuple[httpx.Client, Seeded]]:
    seeded = seed(backend)
    app = create_app(
        database_url, TEST_MASTER_KEY, clock, random.Random(7), Limits(max_money=Decimal("1000"))
    )
    with serving(app) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        yield client, seeded


def buy(client: httpx.Client, seeded: Seeded, id: str, role: str = "vend", **amount: Any):
    body = {"id": id, "meter": seeded.meter, **amount}
    return client.post("/v1/purchases", json=body, headers=seeded.headers(role))


def error(response: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert body["type"] == kind
    assert body["message"]
    return body


def test_a_purchase_by_money_and_its_retry(api: tuple[httpx.Client, Seeded]) -> None:
    client, seeded = api
    first = buy(client, seeded, "till-0001", money="100.00")
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["float"] == {"vendor": "Bank", "balance": "400.00"}
    receipt = body["receipt"]
    assert receipt["client_reference"] == "till-0001"
    assert receipt["kwh"] == "50.0" and receipt["units"] == 500
    assert receipt["breakdown"]["tendered"] == "100.00"
    (token,) = receipt["tokens"]
    credit = sts.decode(token["digits"], DK)
    assert isinstance(credit, TransferCredit) and credit.units == 500
    # The same id again: the same token, the float charged once.
    again = buy(client, seeded, "till-0001", money="100.00")
    assert again.status_code == 200
    assert again.json()["receipt"]["tokens"] == receipt["tokens"]
    assert again.json()["float"]["balance"] == "400.00"
    # The same id with other details is a duplicate.
    clash = error(buy(client, seeded, "till-0001", money="20"), 409, "duplicate_record")
    assert (clash["field"], clash["value"]) == ("id", "till-0001")
    now = client.get("/v1/float", headers=seeded.headers())
    assert now.json()["balance"] == "400.00" and now.json()["available"] == "400.00"


def test_a_purchase_by_kwh_costs_its_price(api: tuple[httpx.Client, Seeded]) -> None:
    client, seeded = api
    response = buy(client, seeded, "kwh-1", kwh="12.5")
    assert response.status_code == 200, response.text
    # 12.5 kWh at 2.00 = 25.00 from the 500.00 float.
    assert response.json()["float"]["balance"] == "475.00"
    assert response.json()["receipt"]["units"] == 125


def test_refusals_have_one_shape(api: tuple[httpx.Client, Seeded]) -> None:
    client, seeded = api
    body = {"id": "x-1", "meter": seeded.meter, "money": "10"}
    error(client.post("/v1/purchases", json=body), 401, "unauthorized")
    bad_key = {"X-API-Key": seeded.keys["vend"][:-2] + "xx"}
    error(client.post("/v1/purchases", json=body, headers=bad_key), 401, "unauthorized")
    elsewhere = {**body, "meter": UNREGISTERED}
    unknown = error(
        client.post("/v1/purchases", json=elsewhere, headers=seeded.headers()),
        404,
        "unknown_meter",
    )
    assert (unknown["field"], unknown["value"]) == ("meter", UNREGISTERED)
    fmt = error(
        client.post("/v1/purchases", json={**body, "meter": "123"}, headers=seeded.headers()),
        400,
        "format_error",
    )
    assert (fmt["field"], fmt["value"]) == ("meter", "123")
    luhn = {**body, "meter": "01234567890"}  # check digit should be 7
    error(client.post("/v1/purchases", json=luhn, headers=seeded.headers()), 400, "format_error")
    zero = error(buy(client, seeded, "x-3", money="0"), 400, "invalid_amount")
    assert (zero["field"], zero["value"]) == ("money", "0")
    error(buy(client, seeded, "x-4", money="1000.01"), 400, "amount_too_high")
    error(buy(client, seeded, "x-5", money="10", kwh="5"), 400, "format_error")
    error(buy(client, seeded, "x-6"), 400, "format_error")
    error(buy(client, seeded, "x 7", money="10"), 400, "format_error")
    short = error(buy(client, seeded, "x-8", money="600"), 402, "insufficient_float")
    assert (short["field"], short["value"]) == ("money", "600")
    error(
        client.get("/v1/reports/cashup?day=2024-03-01", headers=seeded.headers()), 403, "forbidden"
    )
    error(client.get("/v1/nothing", headers=seeded.headers()), 404, "function_not_supported")
    huge = {**body, "id": "x-9", "padding": "0" * 20_000}
    error(client.post("/v1/purchases", json=huge, headers=seeded.headers()), 413, "format_error")
    as_number = {**body, "id": "x-10", "money": 10}
    numeric = error(
        client.post("/v1/purchases", json=as_number, headers=seeded.headers()), 400, "format_error"
    )
    assert numeric["field"] == "money"
    # Nothing above was sold.
    assert client.get("/v1/float", headers=seeded.headers()).json()["balance"] == "500.00"


def test_amount_below_the_charges_due_is_too_low(
    database_url: str, backend: Backend, clock: Clock
) -> None:
    from vending import registry
    from vending.tariff import Block, FixedCharge, Tariff

    seeded = seed(backend)
    registry.add_tariff(
        backend,
        Tariff(
            name="Fixed",
            currency="ZAR",
            blocks=(Block(None, Decimal("2.00")),),
            fixed_charges=(FixedCharge("Service", Decimal("12.50")),),
        ),
    )
    registry.update_meter(backend, seeded.meter, tariff="Fixed")
    app = create_app(database_url, TEST_MASTER_KEY, clock, random.Random(7))
    with serving(app) as server, httpx.Client(base_url=server.url) as client:
        low = error(buy(client, seeded, "low-1", money="12.50"), 400, "amount_too_low")
        assert "12.50" in low["message"]


def test_advices_out_of_order(api: tuple[httpx.Client, Seeded]) -> None:
    client, seeded = api
    h = seeded.headers()
    early = client.post("/v1/purchases/lost-1/reversal", headers=h)
    assert early.status_code == 200 and early.json()["status"] == "reversed"
    error(buy(client, seeded, "lost-1", money="10"), 409, "duplicate_record")
    assert buy(client, seeded, "sale-2", money="30").json()["float"]["balance"] == "470.00"
    for _ in range(2):
        back = client.post("/v1/purchases/sale-2/reversal", headers=h)
        assert back.json() == {
            "id": "sale-2",
            "advice": "reversal",
            "status": "reversed",
            "float": {"vendor": "Bank", "balance": "500.00"},
        }
    assert client.post("/v1/purchases/sale-2/confirm", headers=h).json()["status"] == "reversed"
    assert buy(client, seeded, "sale-3", money="40").status_code == 200
    for _ in range(2):
        done = client.post("/v1/purchases/sale-3/confirm", headers=h)
        assert done.json()["status"] == "confirmed"
    refused = error(
        client.post("/v1/purchases/sale-3/reversal", headers=h), 409, "reversal_refused"
    )
    assert refused["value"] == "sale-3"
    assert client.get("/v1/float", headers=h).json()["balance"] == "460.00"
    pending = client.post("/v1/purchases/later-1/confirm", headers=h)
    assert pending.json()["status"] == "awaiting_purchase"


def test_reprints(api: tuple[httpx.Client, Seeded]) -> None:
    client, seeded = api
    sold = buy(client, seeded, "r-1", money="20").json()
    boss = seeded.headers("supervise")
    by_id = client.get("/v1/purchases/r-1", headers=boss)
    assert by_id.json() == sold
    last = client.get(f"/v1/meters/{seeded.meter}/last-sale", headers=boss)
    assert last.json() == sold
    error(client.get("/v1/purchases/r-1", headers=seeded.headers()), 403, "forbidden")
    missing = error(client.get("/v1/purchases/r-2", headers=boss), 404, "unknown_record")
    assert missing["value"] == "r-2"


def test_management_tokens_and_key_change(api: tuple[httpx.Client, Seeded]) -> None:
    client, seeded = api
    admin = seeded.headers("administer")
    body = {"id": "m-1", "meter": seeded.meter, "kind": "clear_tamper"}
    error(
        client.post("/v1/management-tokens", json=body, headers=seeded.headers()), 403, "forbidden"
    )
    made = client.post("/v1/management-tokens", json=body, headers=admin)
    assert made.status_code == 200, made.text
    (token,) = made.json()["receipt"]["tokens"]
    assert isinstance(sts.decode(token["digits"], DK), ClearTamper)
    assert made.json()["float"]["balance"] == "500.00"  # no charge
    looked = client.get(f"/v1/meters/{seeded.meter}", headers=seeded.headers())
    assert looked.json()["key_change_pending"] is False
    assert looked.json()["tariff"] == "Flat" and looked.json()["currency"] == "ZAR"
    order = client.post("/v1/key-changes", json={"meter": seeded.meter, "ti": 2}, headers=admin)
    assert order.status_code == 200, order.text
    assert len(order.json()["kcts"]) == 2  # a 64-bit key: two key change tokens
    again = client.post("/v1/key-changes", json={"meter": seeded.meter, "ti": 3}, headers=admin)
    error(again, 409, "duplicate_record")
    assert client.get(f"/v1/meters/{seeded.meter}", headers=admin).json()["key_change_pending"]
    sale = buy(client, seeded, "after-kc", money="10").json()["receipt"]
    assert [t["label"] for t in sale["tokens"]][:2] == ["Key change 1", "Key change 2"]
    assert [t["digits"] for t in sale["tokens"][:2]] == order.json()["kcts"]


def test_cashup_and_sales_reports(
    api: tuple[httpx.Client, Seeded], backend: Backend, database: Database
) -> None:
    client, seeded = api
    other = vendors.add_operator(backend, "Bank", "till-2", "vend").api_key
    buy(client, seeded, "c-1", money="100")
    buy(client, seeded, "c-2", money="50")
    # Reversed before the meter gets a later token (after that it could not be).
    assert client.post("/v1/purchases/c-2/reversal", headers=seeded.headers()).is_success
    by_other = {"id": "c-3", "meter": seeded.meter, "money": "30"}
    assert client.post("/v1/purchases", json=by_other, headers={"X-API-Key": other}).is_success
    late = client.post("/v1/purchases/c-1/reversal", headers=seeded.headers("supervise"))
    error(late, 409, "reversal_refused")
    vendors.top_up(backend, "Bank", "25")
    boss = seeded.headers("supervise")
    cash = client.get("/v1/reports/cashup?day=2024-03-01", headers=boss)
    assert cash.status_code == 200, cash.text
    report = cash.json()
    by_operator = {line["operator"]: line for line in report["operators"]}
    # vend-1 sold 100 + 50 and reversed 50: 100.00 due; till-2 sold 30.00.
    assert by_operator["vend-1"]["sold"] == "150.00"
    assert by_operator["vend-1"]["reversed"] == "50.00"
    assert by_operator["vend-1"]["cash_due"] == "100.00"
    assert by_operator["till-2"]["cash_due"] == "30.00"
    assert report["net_sales"] == "130.00"
    # The seed's 500.00 top-up was made on this day too: 0 + 525 - 130 = 395.
    assert report["float"] == {
        "opening": "0.00",
        "top_ups": "525.00",
        "adjustments": "0.00",
        "closing": "395.00",
        "balanced": True,
    }
    sales = client.get("/v1/reports/sales?since=2024-03-01&until=2024-03-31", headers=boss)
    assert sales.json()["days"] == [
        {
            "key": "2024-03-01",
            "sales": 3,
            "sold": "180.00",
            "reversals": 1,
            "reversed": "50.00",
            "refunds": 0,
            "refunded": "0.00",
            "net": "130.00",
        }
    ]
    with database.read_sessions() as session:
        assert verify_connection(session.connection(), TEST_MASTER_KEY).ok


def test_refunds_are_credit_notes(api: tuple[httpx.Client, Seeded], database: Database) -> None:
    client, seeded = api
    boss = seeded.headers("supervise")
    sold = buy(client, seeded, "f-1", money="100").json()
    assert sold["float"]["balance"] == "400.00"
    body = {"amount": "20.00", "reason": "overcharged"}
    error(
        client.post("/v1/purchases/f-1/refund", json=body, headers=seeded.headers()),
        403,
        "forbidden",
    )
    too_much = {"amount": "100.01", "reason": "x"}
    over = error(
        client.post("/v1/purchases/f-1/refund", json=too_much, headers=boss), 400, "invalid_amount"
    )
    assert (over["field"], over["value"]) == ("amount", "100.01")
    for _ in range(2):
        made = client.post("/v1/purchases/f-1/refund", json=body, headers=boss)
        assert made.status_code == 200, made.text
        assert made.json()["credit_note"]["amount"] == "20.00"
        assert made.json()["float"]["balance"] == "420.00"  # credited once
    other = {"amount": "30.00", "reason": "overcharged"}
    error(
        client.post("/v1/purchases/f-1/refund", json=other, headers=boss), 409, "duplicate_record"
    )
    error(client.post("/v1/purchases/f-9/refund", json=body, headers=boss), 404, "unknown_record")
    # The token stands: the purchase is not reversed, and now cannot be.
    error(client.post("/v1/purchases/f-1/reversal", headers=boss), 409, "reversal_refused")
    assert client.get("/v1/purchases/f-1", headers=boss).json() == sold
    last = client.get(f"/v1/meters/{seeded.meter}/last-sale", headers=boss)
    assert last.json() == sold  # the credit note has no tokens to reprint
    cash = client.get("/v1/reports/cashup?day=2024-03-01", headers=boss).json()
    # The till sold 100.00; the supervisor who refunded 20.00 paid it out of its cash.
    lines = {line["operator"]: line for line in cash["operators"]}
    assert lines["vend-1"]["cash_due"] == "100.00"
    assert (lines["supervise-1"]["refunded"], lines["supervise-1"]["cash_due"]) == (
        "20.00",
        "-20.00",
    )
    assert cash["net_sales"] == "80.00"
    assert cash["float"]["closing"] == "420.00" and cash["float"]["balanced"]
    with database.read_sessions() as session:
        assert verify_connection(session.connection(), TEST_MASTER_KEY).ok


def test_openapi_document_is_served(api: tuple[httpx.Client, Seeded]) -> None:
    client, _ = api
    doc = client.get("/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert "/v1/purchases" in doc["paths"]
    assert doc["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"


def test_a_server_fault_is_an_unknown_outcome_to_retry(
    database_url: str, backend: Backend, clock: Clock
) -> None:
    # A server started without the master key cannot open the vending key: 503, nothing
    # sold; the same id sent again to a working server sells once.
    seeded = seed(backend)
    broken = create_app(database_url, None, clock, random.Random(7))
    body = {"id": "u-1", "meter": seeded.meter, "money": "10"}
    with serving(broken) as server, httpx.Client(base_url=server.url) as client:
        fault = client.post("/v1/purchases", json=body, headers=seeded.headers())
        error(fault, 503, "upstream_unavailable")
        assert client.get("/v1/float", headers=seeded.headers()).json()["balance"] == "500.00"
    working = create_app(database_url, TEST_MASTER_KEY, clock, random.Random(7))
    with serving(working) as server, httpx.Client(base_url=server.url) as client:
        for _ in range(2):
            sold = client.post("/v1/purchases", json=body, headers=seeded.headers())
            assert sold.status_code == 200 and sold.json()["float"]["balance"] == "490.00"
