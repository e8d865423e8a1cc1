"""Views of tokens: a token's name in the standard, what its fields mean, its record
for machine output and the grid the CLI shows for it."""

from __future__ import annotations

from typing import Any

from sts.console.output import Part
from sts.tokens import (
    ClearCredit,
    ClearTamper,
    CurrencyCredit,
    KeyChange1,
    KeyChange2,
    KeyChange3,
    KeyChange4,
    KeyChangeToken,
    ManagementToken,
    MeterTestToken,
    RawToken,
    Register,
    SetPhaseUnbalanceLimit,
    SetPowerLimit,
    SetTariffRate,
    SetWaterMeterFactor,
    TestControl,
    Token,
    TransferCredit,
)
from sts.tokens.tid import BaseDate, datetime_from_tid

_KEY_TYPE_NAMES = {
    0: "DITK, initialisation",
    1: "DDTK, default",
    2: "DUTK, unique",
    3: "DCTK, common",
}
_STS_NAMES = {
    "SetPowerLimit": "SetMaximumPowerLimit",
    "ClearTamper": "ClearTamperCondition",
    "SetPhaseUnbalanceLimit": "SetMaximumPhasePowerUnbalanceLimit",
    "MeterTestToken": "InitiateMeterTest/Display",
    "KeyChange1": "Set1stSectionDecoderKey (KCT 1)",
    "KeyChange2": "Set2ndSectionDecoderKey (KCT 2)",
    "KeyChange3": "Set3rdSectionDecoderKey (KCT 3)",
    "KeyChange4": "Set4thSectionDecoderKey (KCT 4)",
}


def group_digits(digits: str) -> str:
    """A 20-digit token in groups of four."""
    return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))


def sts_name(token: Token) -> str:
    """The token's name in the standard."""
    if isinstance(token, TransferCredit | CurrencyCredit):
        return f"TransferCredit ({token.kind.name.lower().replace('_', ' ')})"
    if isinstance(token, RawToken):
        return "no known layout"
    return _STS_NAMES.get(token.name, token.name)


def test_functions(token: MeterTestToken) -> str:
    """The tests and displays a meter test token runs, named."""
    if token.runs_all:
        return "all tests and displays"
    names = [flag.name.lower().replace("_", " ") for flag in TestControl if flag in token.functions]
    unnamed = token.control & ~int(token.functions)
    if unnamed:
        names.append(f"reserved bits {unnamed:#x}")
    return ", ".join(names) or "none"


def meaning(token: Token, base: BaseDate) -> list[tuple[str, str]]:
    """What a token's fields mean, as (label, text) rows."""
    rows: list[tuple[str, str]] = []
    if isinstance(token, TransferCredit):
        rows.append(("credit", f"{token.quantity} {token.kind.unit}"))
    elif isinstance(token, CurrencyCredit):
        rows.append(("credit", f"{token.value} currency units"))
    elif isinstance(token, SetPowerLimit | SetPhaseUnbalanceLimit):
        what = "power limit" if isinstance(token, SetPowerLimit) else "phase unbalance limit"
        rows.append((what, f"{token.watts} W"))
    elif isinstance(token, ClearCredit):
        register = token.register
        named = isinstance(register, Register)
        text = register.name.lower().replace("_", " ") if named else f"{token.value} (no such)"
        rows.append(("clears register", text))
    elif isinstance(token, ClearTamper):
        rows.append(("action", "clear the tamper condition"))
    elif isinstance(token, SetTariffRate | SetWaterMeterFactor):
        what = "tariff rate" if isinstance(token, SetTariffRate) else "water meter factor"
        rows.append((what, f"{token.value} (16 bits reserved by the STSA)"))
    elif isinstance(token, MeterTestToken):
        rows.append(("runs", test_functions(token)))
        width = 2 if token.subclass == 0 else 4
        rows.append(("manufacturer code", f"{token.mfr:0{width}d}"))
    elif isinstance(token, KeyChange1):
        rows.append(("new key revision", str(token.krn)))
        rows.append(("new key type", f"{token.kt} ({_KEY_TYPE_NAMES[token.kt]})"))
        rows.append(("rollover", "yes: the meter clears its TID memory" if token.ro else "no"))
        rows.append(("key expiry, high nibble", f"{token.ken_ho:X}"))
    elif isinstance(token, KeyChange2):
        rows.append(("new tariff index", f"{token.ti:02d}"))
        rows.append(("key expiry, low nibble", f"{token.ken_lo:X}"))
    elif isinstance(token, KeyChange3 | KeyChange4):
        half = "low" if isinstance(token, KeyChange3) else "high"
        value = token.sgc_lo if isinstance(token, KeyChange3) else token.sgc_ho
        rows.append((f"new SGC, {half} 12 bits", f"{value} ({value:03X})"))
    elif isinstance(token, RawToken):
        rows.append(("payload", f"{token.raw_payload:011X} (only the CRC can be checked)"))
    if isinstance(token, TransferCredit | CurrencyCredit | ManagementToken):
        when = datetime_from_tid(token.tid, base)
        rows.append(("issued", f"{when:%Y-%m-%d %H:%M} UTC (TID {token.tid}, base {int(base)})"))
    return rows


def token_record(token: Token, digits: str, base: BaseDate, reveal: bool) -> dict[str, Any]:
    """A token as machine output; a KCT's key sections are hidden unless revealed."""
    hide = isinstance(token, KeyChangeToken) and not reveal
    fields = {
        name: "hidden" if hide and name.startswith("nk_") else value
        for name, value in token.fields().items()
    }
    return {
        "digits": digits,
        "grouped": group_digits(digits),
        "class": int(token.token_class),
        "subclass": token.subclass,
        "type": sts_name(token),
        "fields": fields,
        "block": "hidden" if hide else f"{token.to_block():016X}",
        "meaning": dict(meaning(token, base)),
    }


def token_view(record: dict[str, Any], title: str | None = None) -> list[Part]:
    """A token record as a grid of its digits, type, fields, block and meaning."""
    from rich.markup import escape
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim")
    grid.add_column()
    grid.add_row("token", f"[bold green]{record['grouped']}[/]")
    kind = f"{record['type']}, class {record['class']} subclass {record['subclass']}"
    grid.add_row("type", escape(kind))
    grid.add_row("fields", ", ".join(f"{name} {value}" for name, value in record["fields"].items()))
    grid.add_row("block", record["block"])
    for label, text in record["meaning"].items():
        grid.add_row(label, escape(text))
    parts = [Part(f"[bold]{escape(title)}[/]")] if title else []
    parts.append(Part(grid, highlight=False))
    if record["block"] == "hidden":
        parts.append(Part("[dim]the new key's sections are hidden; --reveal-key shows them[/]"))
    return parts
