"""The reports as tables and lines: sales by day, month or meter, a vendor's cash-up,
the ledger check's verdict, key change orders, registered meters and a customer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sts.console.output import Part
from vending.views.tables import table

if TYPE_CHECKING:
    from rich.table import Table


def sales_table(result: Any, by: str) -> Table:
    """Credit sold by ``by`` (day, month or meter), the totals below (one a currency)."""
    currencies = result.currencies
    title = f"Sales by {by}" + (f" ({currencies[0]})" if len(currencies) == 1 else "")
    columns = [by, "vends", "rev.", "money", "VAT", "levies", "kWh", "free kWh"]
    if len(currencies) > 1:
        columns.insert(3, "cur.")
    by_service = result.services not in ((), ("electricity",))  # units in kWh and m3
    if by_service:
        columns[-2:] = ["units", "free units"]
        columns.insert(1, "service")

    def cells(sale: Any, bold: bool = False) -> list[str]:
        d = sale.to_dict()
        row = [d["key"], d["vends"], d["reversals"], d["money"], d["vat"], d["levies"]]
        row += [d["energy_kwh"], d["free_kwh"]]
        if len(currencies) > 1:
            row.insert(3, d["currency"] or "-")
        if by_service:
            row[-2:] = [f"{d['units']} {d['unit']}", f"{d['free_units']} {d['unit']}"]
            row.insert(1, d["service"])
        return [f"[bold]{cell}[/]" if bold else str(cell) for cell in row]

    rows = [cells(sale) for sale in result.rows]
    footer = [cells(total, bold=True) for total in result.totals]
    return table(title, columns, rows, footer=footer, numeric_from=1)


def cashup_view(data: dict[str, Any]) -> list[Part]:
    """A vendor's day (``data`` as the cash-up's to_dict()): each operator, then the float."""
    rows = [
        (
            d["operator"],
            d["sales"],
            d["sold"],
            d["reversals"],
            d["reversed"],
            d["refunded"],
            d["cash_due"],
        )
        for d in data["operators"]
    ]
    f = data["float"]
    return [
        Part(
            table(
                f"Cash-up of {data['vendor']} on {data['day']}",
                ("operator", "sales", "sold", "reversals", "reversed", "refunded", "cash due"),
                rows,
            )
        ),
        Part(
            f"Float: opening {f['opening']} + top-ups {f['top_ups']} + adjustments "
            f"{f['adjustments']} - net sales {data['net_sales']} = closing {f['closing']}"
            + ("" if f["balanced"] else "  [red](does not balance)[/]"),
            highlight=False,
        ),
    ]


def verified_text(result: Any) -> str:
    """The ledger check's verdict when it found nothing wrong: what it walked and noted."""
    walked = f"{result.entries} entries" + (
        f" after checkpoint entry {result.since}" if result.since is not None else ""
    )
    notes = []
    if result.checkpoint is not None:
        notes.append(f"checkpoint entry {result.checkpoint} intact")
    if result.legacy_entries:
        notes.append(f"{result.legacy_entries} unkeyed entries from before schema 0003")
    if result.not_covered:
        notes.append(f"{result.not_covered} rows last changed before the keyed ledger")
    return f"[green]Ledger intact[/]: {walked}, chain, head and tables agree" + "".join(
        f"; {note}" for note in notes
    )


def orders_table(infos: Sequence[Any]) -> Table:
    """Key change orders: meter, status, the key revision it moves from and to."""
    rows = [
        (i.id, i.drn, i.status, i.from_krn, i.to_krn, i.to_ti, i.to_base_date, int(i.rollover))
        for i in infos
    ]
    return table(
        "Key change orders", ("id", "meter", "status", "KRN", "new KRN", "TI", "base", "RO"), rows
    )


def meters_table(infos: Sequence[Any]) -> Table:
    """Registered meters, one a row."""
    rows = [
        (i.drn, f"{i.sgc:06d}", i.krn, i.ti, i.base_date, i.tariff, i.customer, i.last_tid)
        for i in infos
    ]
    return table(
        "Meters", ("DRN", "SGC", "KRN", "TI", "base", "tariff", "customer", "last TID"), rows
    )


def customer_text(info: Any) -> str:
    """A customer on one line: debt, own free units, meters."""
    from vending.render import kwh_text, money_text

    meters_text = ", ".join(info.meters) or "no meters"
    free = (
        ""
        if info.free_units_kwh is None
        else f", {kwh_text(info.free_units_kwh)} free units a month"
    )
    return f"{info.name}: debt {money_text(info.debt)}{free}, {meters_text}"


def reversal_text(reversal: Any) -> str:
    """A reversal recorded now, or found recorded before."""
    from vending.render import kwh_text, money_text
    from vending.views.tables import local

    money, kwh = money_text(reversal.money), kwh_text(reversal.energy_kwh)
    if reversal.already:
        return (
            f"{reversal.reverses!r} was already reversed at {local(reversal.time)} (entry "
            f"{reversal.reference!r}: {money} money, {kwh} kWh); nothing new was recorded"
        )
    return (
        f"Reversed {reversal.reverses!r} on meter {reversal.meter}: {money} money, "
        f"{kwh} kWh (entry {reversal.reference!r})"
    )


def schema_text(status: Any) -> str:
    """Where the database is and which schema version it holds."""
    if not status.exists:
        return (
            f"{status.location} does not exist yet: `sts keys add` or `sts tariffs add` "
            "creates it (or run `sts db upgrade`)"
        )
    state = "current" if status.current else f"needs `sts db upgrade` to {status.head}"
    return f"{status.location}: schema {status.revision or '(none)'}, {state}"


def simulated_text(made: Any, file: Any, fingerprint: str) -> str:
    """A simulated meter made from a registered meter's key (never the key itself)."""
    from sts.console.meter_views import shown_time

    return (
        f"[green]made[/] simulated meter {made.drn} in {file}: key fingerprint "
        f"{fingerprint}, SGC {made.sgc:06d} KRN {made.krn} KT {made.kt} TI "
        f"{made.ti:02d} EA{made.ea} DKGA{made.dkga}, base date {made.base_date} (key revision "
        f"{made.key_revision}); made {shown_time(made.manufactured)}, before the "
        f"{made.tokens_sold} token(s) sold under this key so far"
    )
