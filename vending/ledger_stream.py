"""The rows verify streams for keyed entries on PostgreSQL, each with the body text its
rows give, rendered by the server.

Verify (vending.ledger_check) checks a keyed transaction entry whose HMAC holds by
comparing its body, as text, with the canonical body its transaction's, meter's and
tokens' rows would give. On PostgreSQL the server renders those rows into that text,
in the one ordered query below, and sends five columns where it sent some twenty-five
values; the client then only checks the HMAC and compares text (its CPU time halved
on a 1,000,000-entry ledger; see benchmarks/README.md). On SQLite the same rendering
in SQL cost about twice what it saved, so verify renders there in Python.

====  ==================================================================================
col   value
====  ==================================================================================
0-5   the entry: seq, transaction_id, created_at, body, prev_hash, hash
6     ``middle``: the body from ``,"debt_recovered":`` to ``"state":`` (both ends
      included, the details' SHA-256 within), or NULL when the rows cannot give a
      canonical body (see below)
7     the meter's DRN
8     one token (one row per token, in position order): its JSON object; '' for a
      transaction with no token; NULL when the token is on another meter than its
      transaction
====  ==================================================================================

Every table value is rendered as the JSON literal of its type, as vending.ledger's
canonical JSON writes it (``to_json``: a text as a JSON string with the same escapes
as Python's json, an integer as digits; NULL as ``null``), and an amount (an integer
count of 0.00001) as vending.ledger.amount_text writes it. An amount beyond
``AMOUNT_BOUND``, a transaction whose time is not its entry's or whose day is not
that time's UTC day, or no transaction at all makes ``middle`` NULL, and the caller
then compares the entry field by field. So equal text still means equal facts, by
the argument in vending.ledger_check's ``_Walk._fast``.
"""

from __future__ import annotations

from vending.models import AMOUNT_SCALE

#: Amounts beyond this (in 0.00001) are left to the field-by-field comparison; it keeps
#: abs() clear of the 64-bit edge, where PostgreSQL raises an error instead.
AMOUNT_BOUND = 10**17
_UNIT = 10**AMOUNT_SCALE


def _literal(x: str) -> str:
    # The columns are typed: to_json gives a string's or an integer's JSON, NULL stays NULL.
    return f"coalesce(to_json({x})::text, 'null')"


def _amount(x: str) -> str:
    """SQL for vending.ledger.amount_text of a stored amount: "12.5", "0", "-3"."""
    return (
        f"(CASE WHEN {x} BETWEEN -{AMOUNT_BOUND} AND {AMOUNT_BOUND}"
        f" THEN (CASE WHEN {x} < 0 THEN '-' ELSE '' END) || (abs({x}) / {_UNIT})::text || "
        f"(CASE WHEN mod(abs({x}), {_UNIT}) = 0 THEN '' ELSE "
        f"'.' || rtrim(lpad(mod(abs({x}), {_UNIT})::text, {AMOUNT_SCALE}, '0'), '0') END) END)"
    )


_DIGEST = "encode(sha256(convert_to(coalesce(t.details::text, ''), 'UTF8')), 'hex')"

#: The body from ``,"debt_recovered":`` to ``"state":`` (keys in canonical order).
_MIDDLE = (
    f"""',"debt_recovered":"' || {_amount("t.debt_recovered")} """
    f"""|| '","details_sha256":"' || {_DIGEST} """
    f"""|| '","energy_kwh":"' || {_amount("t.energy")} || '","entry":"transaction",' """
    f"""|| '"fixed_charges":"' || {_amount("t.fixed_charges")} """
    f"""|| '","free_kwh":"' || {_amount("t.free_energy")} || '","kind":' || {_literal("t.kind")} """
    f"""|| ',"meter":' || {_literal("m.drn")} || ',"money":"' || {_amount("t.money")} """
    f"""|| '","reference":' || {_literal("t.client_reference")} """
    f"""|| ',"reverses":' || {_literal("r.client_reference")} || ',"state":'"""
)

#: One token's JSON object.
_TOKEN = (
    "CASE WHEN k.transaction_id IS NULL THEN '' WHEN k.meter_id = t.meter_id THEN "
    f"""'{{"class":' || {_literal("k.token_class")} """
    f"""|| ',"description":' || {_literal("k.description")} """
    f"""|| ',"digits":' || {_literal("k.digits")} """
    f"""|| ',"key_revision":' || {_literal("k.key_revision")} """
    f"""|| ',"subclass":' || {_literal("k.subclass")} """
    f"""|| ',"tid":' || {_literal("k.tid")} || ',"units":' || {_literal("k.units")} || '}}' END"""
)

#: The fast form applies: a transaction at its entry's time, on that time's UTC day.
_RENDERABLE = (
    "t.id IS NOT NULL AND t.created_at = e.created_at "
    "AND t.day = (t.created_at AT TIME ZONE 'UTC')::date"
)

#: Entries with seq in (%s, %s], in order, a row per token.
POSTGRESQL = (
    "SELECT e.seq, e.transaction_id, e.created_at, e.body, e.prev_hash, e.hash, "
    f"CASE WHEN {_RENDERABLE} THEN {_MIDDLE} END, m.drn, {_TOKEN} "
    "FROM ledger_entries e "
    "LEFT OUTER JOIN transactions t ON t.id = e.transaction_id "
    "LEFT OUTER JOIN transactions r ON r.id = t.reverses_id "
    "LEFT OUTER JOIN meters m ON m.id = t.meter_id "
    "LEFT OUTER JOIN tokens k ON k.transaction_id = t.id "
    "WHERE e.seq > %s AND e.seq <= %s ORDER BY e.seq, k.position"
)
