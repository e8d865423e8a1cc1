"""The rows verify streams for keyed entries: each entry with the body text its rows give.

Verify (vending.ledger_check) checks a keyed transaction entry whose HMAC holds by
comparing its body, as text, with the canonical body its transaction's, meter's and
tokens' rows would give. Rendering those rows into JSON text in Python, value by value,
cost more than anything else per entry; here the database renders them instead, in one
ordered query, and sends a few text columns where it sent some thirty values:

====  ==================================================================================
col   value
====  ==================================================================================
0-5   the entry: seq, transaction_id, created_at, body, prev_hash, hash
6     ``middle``: the body from ``,"debt_recovered":`` to ``"state":`` (both ends
      included), or NULL when the rows cannot give a canonical body (see below)
7     SQLite: the transaction's details as stored, as bytes (hashed by the caller,
      which puts ``"<sha256 hex>"`` between ``middle`` and col 8); PostgreSQL: NULL,
      the server hashed them into ``middle``
8     SQLite: the rest of ``middle`` after the details' digest; PostgreSQL: ''
9     the meter's DRN
10    one token (one row per token, in position order): its JSON object, '' for a
      transaction with no token, NULL when it cannot be rendered
====  ==================================================================================

Every table value is rendered as the JSON literal of its type, as vending.ledger's
canonical JSON writes it: a text as a JSON string, an integer as digits, NULL as
``null``, an amount (an integer count of 0.00001) as vending.ledger.amount_text writes
it. A value of any other type (SQLite keeps whatever a writer stores), an amount out of
range, a time not in the form vending stores, a transaction whose time is not its
entry's or whose day is not that time's UTC day, a token on another meter than its
transaction's: each makes the column NULL, and the caller then compares the entry
field by field. So equal text still means equal facts, by the argument in
vending.ledger_check's ``_Walk._fast``.
"""

from __future__ import annotations

from collections.abc import Callable

from vending.models import AMOUNT_SCALE

#: A dialect's SQL for a value rendered as JSON text, given the value's SQL.
Render = Callable[[str], str]

#: Amounts beyond this (in 0.00001) are left to the field-by-field comparison; it keeps
#: abs() clear of the 64-bit edge, where both databases raise an error instead.
AMOUNT_BOUND = 10**17
_UNIT = 10**AMOUNT_SCALE


def _sqlite_literal(x: str) -> str:
    return (
        f"(CASE typeof({x}) WHEN 'text' THEN json_quote({x}) WHEN 'integer' THEN "
        f"CAST({x} AS TEXT) WHEN 'null' THEN 'null' END)"
    )


def _postgresql_literal(x: str) -> str:
    # The columns are typed: to_json gives a string's or an integer's JSON, NULL stays NULL.
    return f"coalesce(to_json({x})::text, 'null')"


def _sqlite_amount(x: str) -> str:
    return (
        f"(CASE WHEN typeof({x}) = 'integer' AND {x} BETWEEN -{AMOUNT_BOUND} AND {AMOUNT_BOUND}"
        f" THEN (CASE WHEN {x} < 0 THEN '-' ELSE '' END) || (abs({x}) / {_UNIT}) || "
        f"(CASE WHEN abs({x}) % {_UNIT} = 0 THEN '' ELSE "
        f"'.' || rtrim(printf('%0{AMOUNT_SCALE}d', abs({x}) % {_UNIT}), '0') END) END)"
    )


def _postgresql_amount(x: str) -> str:
    return (
        f"(CASE WHEN {x} BETWEEN -{AMOUNT_BOUND} AND {AMOUNT_BOUND}"
        f" THEN (CASE WHEN {x} < 0 THEN '-' ELSE '' END) || (abs({x}) / {_UNIT})::text || "
        f"(CASE WHEN mod(abs({x}), {_UNIT}) = 0 THEN '' ELSE "
        f"'.' || rtrim(lpad(mod(abs({x}), {_UNIT})::text, {AMOUNT_SCALE}, '0'), '0') END) END)"
    )


def _before_digest(amount: Render) -> str:
    """SQL for the body from ``,"debt_recovered":`` to ``"details_sha256":``."""
    return f"""',"debt_recovered":"' || {amount("t.debt_recovered")} || '","details_sha256":'"""


def _after_digest(literal: Render, amount: Render) -> str:
    """SQL for the body from ``,"energy_kwh":`` to ``"state":``."""
    return (
        f"""',"energy_kwh":"' || {amount("t.energy")} || '","entry":"transaction",'"""
        f"""|| '"fixed_charges":"' || {amount("t.fixed_charges")} || '",'"""
        f"""|| '"free_kwh":"' || {amount("t.free_energy")} || '","kind":' || {literal("t.kind")}"""
        f"""|| ',"meter":' || {literal("m.drn")} || ',"money":"' || {amount("t.money")}"""
        f"""|| '","reference":' || {literal("t.client_reference")}"""
        f"""|| ',"reverses":' || {literal("r.client_reference")} || ',"state":'"""
    )


def _token(literal: Render) -> str:
    """SQL for one token's JSON object ('' for none, NULL when on another meter)."""
    return (
        "CASE WHEN k.transaction_id IS NULL THEN '' WHEN k.meter_id = t.meter_id THEN "
        f"""'{{"class":' || {literal("k.token_class")} || ',"description":' || """
        f"""{literal("k.description")} || ',"digits":' || {literal("k.digits")} || """
        f"""',"key_revision":' || {literal("k.key_revision")} || ',"subclass":' || """
        f"""{literal("k.subclass")} || ',"tid":' || {literal("k.tid")} || ',"units":' || """
        f"""{literal("k.units")} || '}}' END"""
    )


_FROM = (
    "FROM ledger_entries e "
    "LEFT OUTER JOIN transactions t ON t.id = e.transaction_id "
    "LEFT OUTER JOIN transactions r ON r.id = t.reverses_id "
    "LEFT OUTER JOIN meters m ON m.id = t.meter_id "
    "LEFT OUTER JOIN tokens k ON k.transaction_id = t.id "
)

#: SQLite: the time must be in the one form SQLAlchemy stores (UTC, microseconds), so
#: its first ten characters are its UTC day; the details must be text (or NULL).
_SQLITE_FAST = (
    "t.id IS NOT NULL AND typeof(t.created_at) = 'text' AND t.created_at = e.created_at "
    "AND length(t.created_at) = 26 AND substr(t.created_at, 11, 1) = ' ' "
    "AND substr(t.created_at, 20, 1) = '.' AND typeof(t.day) = 'text' "
    "AND t.day = substr(t.created_at, 1, 10) AND typeof(t.details) IN ('text', 'null')"
)
_POSTGRESQL_FAST = (
    "t.id IS NOT NULL AND t.created_at = e.created_at "
    "AND t.day = (t.created_at AT TIME ZONE 'UTC')::date"
)
_ORDER = "ORDER BY e.seq, k.position"

SQLITE = (
    "SELECT e.seq, e.transaction_id, e.created_at, e.body, e.prev_hash, e.hash, "
    f"CASE WHEN {_SQLITE_FAST} THEN {_before_digest(_sqlite_amount)} END, "
    "CASE WHEN t.details IS NULL THEN x'' ELSE CAST(t.details AS BLOB) END, "
    f"{_after_digest(_sqlite_literal, _sqlite_amount)}, m.drn, {_token(_sqlite_literal)} "
    f"{_FROM}WHERE e.seq > ? AND e.seq <= ? {_ORDER}"
)

_PG_DIGEST = (
    "'\"' || encode(sha256(convert_to(coalesce(t.details::text, ''), 'UTF8')), 'hex') || '\"'"
)
POSTGRESQL = (
    "SELECT e.seq, e.transaction_id, e.created_at, e.body, e.prev_hash, e.hash, "
    f"CASE WHEN {_POSTGRESQL_FAST} THEN {_before_digest(_postgresql_amount)} || {_PG_DIGEST} "
    f"|| {_after_digest(_postgresql_literal, _postgresql_amount)} END, NULL, '', m.drn, "
    f"{_token(_postgresql_literal)} {_FROM}WHERE e.seq > %s AND e.seq <= %s {_ORDER}"
)
