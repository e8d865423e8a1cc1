"""Views of the simulated meter: its status (registers, wallets, lockout, recent
events) and the panel of a keyed-in token's outcome.

Money figures are shown by the ``money`` function the caller passes (cli.py gives
the vending layer's money_text), so that ``sts`` does not import ``vending``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sts.console.output import Part, rule

if TYPE_CHECKING:
    from sts.meter.credit import CreditStatus
    from sts.meter.meter import MeterStatus, TokenOutcome

Money = Callable[[Decimal], str]


def shown_time(when: datetime | None) -> str:
    """A time as the CLI shows it: local, with its offset."""
    return "-" if when is None else when.astimezone().strftime("%Y-%m-%d %H:%M:%S %z")


def wallets(credit: CreditStatus, money: Money) -> str:
    """The two wallets on one line."""
    return f"energy wallet {credit.energy_kwh} kWh, money wallet {money(credit.money)}"


def credit_rows(credit: CreditStatus, money: Money) -> list[tuple[str, str]]:
    """What the credit engine shows, as (name, value) rows."""
    relay = "closed" if credit.relay_closed else "open"
    emergency = (
        f"{credit.emergency_used_kwh} of {credit.emergency_limit_kwh} kWh used"
        if credit.emergency_active
        else ("available" if credit.emergency_available else "not available")
    )
    rows = [
        ("energy wallet", f"{credit.energy_kwh} kWh"),
        ("money wallet", money(credit.money)),
        ("relay", f"{relay} ({credit.relay_reason.value})"),
        ("load", f"{credit.demand_w} W demanded, {credit.power_w} W supplied"),
        ("power limit", f"{credit.power_limit_w} W" if credit.power_limit_w else "none"),
        ("emergency credit", emergency),
        ("owed", f"{credit.debt_kwh} kWh debt, {money(credit.debt_money)} charges"),
        ("low-credit alarm", f"level {credit.alarm_level}" if credit.alarm_level else "none"),
        ("tamper", credit.tamper_reason or "set" if credit.tamper else "none"),
        ("energy used", f"{credit.total_kwh} kWh, this month {credit.month_kwh} kWh"),
    ]
    if credit.price_per_kwh is not None:
        rows.append(("price now", f"{money(credit.price_per_kwh)} per kWh"))
    return rows


def wallets_of(status: MeterStatus, money: Money) -> str:
    """The two wallets on one line, the first in the meter's own unit (kWh or m3)."""
    if status.service == "electricity":
        return wallets(status.credit, money)
    volume = f"{status.credit.energy_kwh} {status.service.unit}"
    return f"volume wallet {volume}, money wallet {money(status.credit.money)}"


def volume_rows(status: MeterStatus, money: Money) -> list[tuple[str, str]]:
    """What a water or gas meter's credit engine shows: its volume in m3, its valve."""
    from sts.meter.service import load_flow

    credit, unit = status.credit, status.service.unit
    valve = "open" if credit.relay_closed else "closed"  # the valve is the meter's relay
    rows = [
        ("service", f"{status.service} (unit tokens in 0.1 {unit})"),
        ("volume wallet", f"{credit.energy_kwh} {unit}"),
        ("money wallet", money(credit.money)),
        ("valve", f"{valve} ({credit.relay_reason.value})"),
        ("flow", f"{load_flow(credit.demand_w)} {unit}/h"),
        ("owed", f"{credit.debt_kwh} {unit} debt, {money(credit.debt_money)} charges"),
        ("low-credit alarm", f"level {credit.alarm_level}" if credit.alarm_level else "none"),
        ("volume used", f"{credit.total_kwh} {unit}, this month {credit.month_kwh} {unit}"),
    ]
    if credit.price_per_kwh is not None:
        rows.append(("price now", f"{money(credit.price_per_kwh)} per {unit}"))
    return rows


def _entries(count: int) -> str:
    return "entry" if count == 1 else "entries"


def meter_view(status: MeterStatus, events: list[Any], money: Money) -> list[Part]:
    """The meter's status as a table of rows, then its recent events, if any."""
    from rich.table import Table

    keys = status.keys
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    rows = [
        ("meter number", f"{status.drn} (MeterPAN {status.pan}, manufacturer {status.mfr_code})"),
        ("clock", shown_time(status.clock)),
        (
            "key",
            f"{keys.key_bits}-bit EA{keys.ea}, fingerprint {keys.key_fingerprint}; SGC "
            f"{keys.sgc:06d} KRN {keys.krn} KT {keys.kt} TI {keys.ti:02d} KEN {keys.ken}",
        ),
        ("base date", str(keys.base_date)),
        (
            "TID memory",
            f"{status.tid_count} of {status.tid_capacity}, oldest {status.tid_oldest}, "
            f"newest {status.tid_newest}",
        ),
        (
            "lockout",
            f"locked until {shown_time(status.locked_until)}"
            if status.locked
            else f"{status.lockout_failures} wrong {_entries(status.lockout_failures)} in a row",
        ),
    ]
    if status.kct_held:
        rows.append(
            (
                "key change",
                f"{status.kct_held} of {status.kct_needed} tokens held since "
                f"{shown_time(status.kct_started)}",
            )
        )
    rows.extend(
        credit_rows(status.credit, money)
        if status.service == "electricity"
        else volume_rows(status, money)
    )
    rows.append(
        (
            "load control",
            f"{status.payment_mode}, disconnect control {status.control_state.replace('_', ' ')}",
        )
    )
    if status.alarms:
        rows.append(("alarm", f"{status.alarms[-1]} ({len(status.alarms)} unacknowledged)"))
    for name, value in rows:
        table.add_row(name, value)
    parts = [Part(table)]
    if events:
        parts.append(rule("recent events"))
        parts.extend(
            Part(f"{shown_time(event.at)}  {event.kind.value}: {event.detail}", highlight=False)
            for event in events
        )
    return parts


def outcome_view(outcome: TokenOutcome) -> Part:
    """A keyed-in token's outcome: the meter's display in a panel titled by its result."""
    from rich.panel import Panel

    colour = "green" if outcome.accepted else "red"
    body = "\n".join(outcome.display)
    if outcome.detail and not outcome.accepted:
        body += f"\n[dim]{outcome.detail}[/]"
    title = f"[{colour}]{outcome.text} ({int(outcome.result)})[/]"
    return Part(Panel(body, title=title, expand=False), highlight=False)


def keys_view(run: Any) -> list[Part]:
    """`sts meter keys`: each entry keyed with what the display answered, then the display."""
    from rich.markup import escape

    from sts.console.token_views import group_digits

    parts = []
    for entry in run.submissions:
        colour = "red" if entry.rejected else "green"
        parts.append(
            Part(
                f"[bold]{group_digits(entry.entry)}[/] E -> [{colour}]{escape(entry.lines[0])}[/]"
                + "".join(f"\n    {escape(line)}" for line in entry.lines[1:]),
                highlight=False,
            )
        )
    parts.append(
        Part(
            f"display: {escape(' / '.join(run.final.lines)) or '(blank)'}"
            + ("  [yellow](beep)[/]" if run.final.beep else ""),
            highlight=False,
        )
    )
    return parts
