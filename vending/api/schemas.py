"""Request and response bodies of the API (pydantic), the source of its OpenAPI document.

Money and kWh travel as decimal strings ("100.00", "12.5"), never JSON numbers,
so that no amount passes through binary floating point. Responses are built
from the services' ``to_dict`` forms; these models describe them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from vending.sales import CLIENT_ID_PATTERN

DRN_PATTERN = r"^[0-9]{11}([0-9]{2})?$"
#: A positive decimal amount of at most 12 whole digits and 5 decimals.
AMOUNT_PATTERN = r"^[0-9]{1,12}(\.[0-9]{1,5})?$"
SIGNED_AMOUNT = r"^-?[0-9]+(\.[0-9]+)?$"

ClientId = Field(
    pattern=CLIENT_ID_PATTERN,
    min_length=1,
    max_length=64,
    description="The client's own id for this request: the same id again is a retry.",
)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PurchaseIn(_In):
    id: str = ClientId
    meter: str = Field(pattern=DRN_PATTERN, description="The 11- or 13-digit meter number.")
    money: str | None = Field(
        default=None, pattern=AMOUNT_PATTERN, description="Money to spend (give this or kwh)."
    )
    kwh: str | None = Field(
        default=None, pattern=AMOUNT_PATTERN, description="kWh to buy (give this or money)."
    )


class FreeUnitsIn(_In):
    id: str = ClientId
    meter: str = Field(pattern=DRN_PATTERN, description="The 11- or 13-digit meter number.")


class ManagementIn(_In):
    id: str = ClientId
    meter: str = Field(pattern=DRN_PATTERN)
    kind: Literal["clear_credit", "clear_tamper", "power_limit", "meter_test"]
    clear_register: (
        Literal[
            "all",
            "electricity",
            "water",
            "gas",
            "time",
            "electricity_currency",
            "water_currency",
            "gas_currency",
            "time_currency",
        ]
        | None
    ) = Field(default=None, description="For clear_credit: the register to clear (default all).")
    watts: int | None = Field(
        default=None, ge=0, le=100_000_000, description="For power_limit: the limit in watts."
    )


class KeyChangeIn(_In):
    meter: str = Field(pattern=DRN_PATTERN)
    sgc: int | None = Field(default=None, ge=0, le=999_999)
    krn: int | None = Field(default=None, ge=1, le=9)
    kt: int | None = Field(default=None, ge=0, le=3)
    ti: int | None = Field(default=None, ge=0, le=99)
    base_date: Literal[1993, 2014, 2035] | None = None


class RefundIn(_In):
    amount: str = Field(pattern=AMOUNT_PATTERN, description="Money given back to the customer.")
    reason: str = Field(min_length=1, max_length=200)


class TokenOut(BaseModel):
    label: str
    digits: str = Field(pattern=r"^[0-9]{20}$")
    grouped: str
    units: int | None
    kwh: str | None


class LineOut(BaseModel):
    label: str
    amount: str
    kwh: str | None


class BreakdownOut(BaseModel):
    tariff_name: str
    currency: str
    tendered: str
    lines: list[LineOut]
    fixed_charges: str
    debt_recovered: str
    energy_money: str
    vat: str
    levies: str
    change: str
    energy_kwh: str
    free_kwh: str
    kwh: str
    units: int
    month_after: dict[str, Any]
    unit: str = Field(default="kWh", description="The unit of the kWh figures: kWh or m3.")
    currency_credit: str | None = Field(
        default=None, description="For a currency token: the money it carries to the meter."
    )


class ReceiptOut(BaseModel):
    transaction_id: int | str
    kind: str
    meter: str
    customer: str | None
    tariff: str | None
    client_reference: str | None
    time: str
    units: int | None
    kwh: str | None
    tokens: list[TokenOut]
    breakdown: BreakdownOut | None


class FloatOut(BaseModel):
    vendor: str
    balance: str | None = Field(description="The vendor's float after this transaction.")


class SaleOut(BaseModel):
    receipt: ReceiptOut
    float: FloatOut


class AdviceOut(BaseModel):
    id: str
    advice: Literal["confirm", "reversal"]
    status: Literal["confirmed", "reversed", "awaiting_purchase"]
    float: FloatOut


class CreditNoteOut(BaseModel):
    purchase: str
    meter: str
    amount: str
    reason: str
    time: str


class RefundOut(BaseModel):
    credit_note: CreditNoteOut
    float: FloatOut


class VendorFloatOut(BaseModel):
    vendor: str
    operator: str
    role: Literal["vend", "supervise", "administer"]
    balance: str
    credit_limit: str
    available: str


class MeterOut(BaseModel):
    meter: str
    service: Literal["electricity", "water", "gas"]
    token_kind: Literal["units", "currency"]
    customer: str | None
    tariff: str | None
    currency: str | None
    key_change_pending: bool


class KeyChangeOut(BaseModel):
    id: int
    meter: str
    status: str
    rollover: bool
    kcts: list[str]
    created_at: str
    model_config = ConfigDict(extra="allow")


class SalesLineOut(BaseModel):
    key: str
    sales: int
    sold: str
    reversals: int
    reversed: str
    refunds: int
    refunded: str
    net: str


class SalesReportOut(BaseModel):
    vendor: str
    since: str
    until: str
    days: list[SalesLineOut]


class OperatorCashUpOut(SalesLineOut):
    operator: str
    cash_due: str


class CashUpFloatOut(BaseModel):
    opening: str
    top_ups: str
    adjustments: str
    closing: str
    balanced: bool


class CashUpOut(BaseModel):
    vendor: str
    day: str
    operators: list[OperatorCashUpOut]
    net_sales: str
    float: CashUpFloatOut
