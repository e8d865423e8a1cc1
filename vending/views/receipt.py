"""The receipt panel of a sale (vend, management or key change tokens, reprints), and
the demo's story of a sale keyed in on a simulated meter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sts.console.output import Part, rule

if TYPE_CHECKING:
    from sts.meter.meter import TokenOutcome


def receipt_view(receipt: Any, copy: bool = False) -> Part:
    """A receipt as a panel: meter, customer, charges, units or credit, the tokens."""
    from rich.panel import Panel
    from rich.table import Table

    from vending.render import money_text
    from vending.views.tables import local

    body = Table.grid(padding=(0, 2))
    body.add_column(style="bold")
    body.add_column()
    body.add_row("Meter", receipt.meter_drn)
    if receipt.customer:
        body.add_row("Customer", receipt.customer)
    if receipt.tariff_name:
        body.add_row("Tariff", receipt.tariff_name)
    body.add_row("Reference", receipt.client_reference or "")
    body.add_row("Time", local(receipt.time))
    if receipt.breakdown is not None:
        lines = Table(box=None, show_header=False, pad_edge=False)
        lines.add_column()
        lines.add_column(justify="right")
        lines.add_column(justify="right")
        currency = receipt.breakdown.currency
        for line in receipt.breakdown.lines:
            lines.add_row(
                line.label,
                "" if line.kwh is None else f"{line.kwh} {receipt.breakdown.unit}",
                money_text(line.amount, currency),
            )
        tendered = money_text(receipt.breakdown.tendered, currency)
        lines.add_row("[bold]Tendered", "", f"[bold]{tendered} {currency}")
        body.add_row("Charges", lines)
    credit = receipt.breakdown.currency_credit if receipt.breakdown is not None else None
    if credit is not None:
        body.add_row("Credit", f"{credit} {receipt.breakdown.currency} (the token carries it)")
    elif receipt.kwh is not None:
        unit = receipt.breakdown.unit if receipt.breakdown is not None else "kWh"
        body.add_row("Units", f"{receipt.kwh} {unit}")
    tokens = "\n".join(f"[bold green]{t.grouped}[/]  {t.label}" for t in receipt.tokens)
    body.add_row("Token" if len(receipt.tokens) == 1 else "Tokens", tokens)
    title = f"{receipt.kind} receipt, transaction {receipt.transaction_id}"
    if copy:
        title = f"COPY (reprint) of {title}"
    return Part(Panel(body, title=title, title_align="left", expand=False), highlight=False)


def demo_view(
    drn: str,
    where: str,
    paid: str,
    currency: str | None,
    receipt: Any,
    outcomes: Sequence[TokenOutcome],
    wallet: Sequence[str],
) -> list[Part]:
    """`sts demo`: the sale and its receipt, then the meter's answer to each token."""
    from sts.console.meter_views import outcome_view

    return [
        rule("[bold]1. The vending point sells credit"),
        Part(
            f"Demo key (the public STS test key), tariff and meter {drn} registered in "
            f"{where}; {paid} {currency or ''} paid.",
            highlight=False,
        ),
        receipt_view(receipt),
        rule("[bold]2. The customer keys the token in on the meter"),
        *(outcome_view(outcome) for outcome in outcomes),
        Part("Short code 1 (energy wallet): " + "; ".join(wallet), highlight=False),
    ]
