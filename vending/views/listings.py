"""Tables of what the ledger registers: vending keys, tariffs, meters, vendors,
operators, and the TID rollover migrations' progress."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sts.console.output import Part
from vending.views.tables import local, table

if TYPE_CHECKING:
    from rich.table import Table


def keys_view(infos: Sequence[Any], prints: Mapping[str, str | None]) -> list[Part]:
    """The stored vending keys (never the keys), and what a '?' fingerprint means."""
    rows = [
        (
            i.label,
            f"{i.sgc:06d}",
            i.krn,
            i.kt,
            f"DKGA{i.dkga}",
            i.base_date or "any",
            prints.get(i.label) or "?",
            "retired" if i.retired_at else "active",
        )
        for i in infos
    ]
    columns = ("label", "SGC", "KRN", "KT", "DKGA", "base", "print", "status")
    parts = [Part(table("Vending keys", columns, rows))]
    if any(prints.get(i.label) is None for i in infos):
        parts.append(
            Part(
                "? : the key cannot be opened with the master key given (none, or another one)",
                highlight=False,
            )
        )
    return parts


def tariff_table(info: Any) -> Table:
    """One tariff's steps, charges and rates."""
    from vending.render import money_text

    t = info.tariff
    unit = t.unit
    rows = [("Service", f"{t.service} (prices {unit})")]
    start = Decimal(0)
    for block in t.blocks:
        steps = (
            f"above {start} {unit}"
            if block.up_to_kwh is None
            else f"{start}-{block.up_to_kwh} {unit}"
        )
        rows.append((steps, f"{money_text(block.price_per_kwh, t.currency)} {t.currency}/{unit}"))
        start = block.up_to_kwh or start
    rows.extend(
        (f"{c.name} (monthly)", f"{money_text(c.amount, t.currency)} {t.currency}")
        for c in t.fixed_charges
    )
    rows.append(("VAT", f"{t.vat_percent}%"))
    rows.extend((levy.name, f"{levy.percent}%") for levy in t.levies)
    rows.append(("Debt recovery", f"{t.debt_recovery_percent}% of each payment"))
    rows.append(("Free basic units", f"{t.free_units_kwh} {unit} a month"))
    rows.append(("Meters", str(info.meters)))
    return table(f"Tariff {info.name}", ("", ""), rows)


def meter_info_table(info: Any) -> Table:
    """A registered meter: its number, service, key, TIDs, tariff and customer."""
    rows = [
        ("meter number", f"{info.drn} (MeterPAN {info.pan})"),
        ("service", f"{info.service}, {info.token_kind} tokens"),
        (
            "key",
            f"SGC {info.sgc:06d} KRN {info.krn} KT {info.kt} TI {info.ti:02d} EA{info.ea} "
            f"DKGA{info.dkga} KEN {info.ken}",
        ),
        ("base date", info.base_date),
        ("last TID", info.last_tid if info.last_tid is not None else "none yet"),
        ("key revision", info.key_revision),
        ("tariff", info.tariff or "none"),
        ("customer", info.customer or "none"),
    ]
    return table(f"Meter {info.drn}", ("", ""), rows)


def progress_table(items: Sequence[Any]) -> Table:
    """The TID rollover migrations: meters, orders made, handed out, pending, to order."""
    rows = [
        (
            p.name,
            f"{p.sgc:06d}",
            f"{p.from_krn} -> {p.to_krn}",
            p.to_base_date,
            p.meters,
            p.ordered,
            p.issued,
            p.pending,
            p.to_order,
        )
        for p in items
    ]
    columns = (
        "migration",
        "SGC",
        "KRN",
        "base",
        "meters",
        "ordered",
        "handed out",
        "pending",
        "to order",
    )
    return table("Migration progress", columns, rows)


def vendors_table(items: Sequence[Any]) -> Table:
    """Vendors with their float, credit limit and what is available."""
    rows = [
        (d["name"], d["balance"], d["credit_limit"], d["available"])
        for d in (i.to_dict() for i in items)
    ]
    return table("Vendors", ("vendor", "float", "credit limit", "available"), rows)


def movement_text(movement: Any) -> str:
    """One movement of a vendor's float, on one line."""
    d = movement.to_dict()
    return f"{d['vendor']}: {d['kind']} {d['amount']}, float now {d['balance_after']}"


def operators_table(items: Sequence[Any]) -> Table:
    """Operators of vendors with their role and API key id, made and revoked when."""
    rows = [
        (
            i.vendor,
            i.name,
            i.role.value,
            i.key_id,
            local(i.created_at),
            local(i.revoked_at) if i.revoked_at else "",
        )
        for i in items
    ]
    return table("Operators", ("vendor", "operator", "role", "key id", "created", "revoked"), rows)


def key_stored_text(info: Any, fingerprint: str) -> str:
    """A vending key just stored: its size, algorithm, group and fingerprint."""
    return (
        f"Stored vending key {info.label!r}: {info.bits}-bit DKGA{info.dkga}, SGC "
        f"{info.sgc:06d} KRN {info.krn} KT {info.kt}, fingerprint {fingerprint} (the "
        "first 4 hex digits of the key's SHA-256)"
    )


def order_table(info: Any) -> Table:
    """One key change order: from and to which key, and its KCTs."""
    from sts.console.token_views import group_digits

    rows = [
        ("meter", info.drn),
        ("status", info.status),
        ("from", f"KRN {info.from_krn}, base date {info.from_base_date}"),
        (
            "to",
            f"SGC {info.to_sgc:06d} KRN {info.to_krn} KT {info.to_kt} TI {info.to_ti:02d}, base "
            f"date {info.to_base_date}, KEN {info.ken}",
        ),
        ("rollover (RO)", "1: the meter clears its TID memory" if info.rollover else "0"),
    ]
    rows.extend((f"KCT {n}", group_digits(d)) for n, d in enumerate(info.kcts, start=1))
    return table(f"Key change order {info.id}", ("", ""), rows)
