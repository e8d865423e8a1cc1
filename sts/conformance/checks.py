"""Checks for the small kinds of vector line: decoder keys, amounts, CRCs, TIDs, Luhn, ciphers.

Each ``check_<kind>(data, report)`` reads the line's ``input`` and ``expect``,
runs the engine and records in ``report`` every figure that differs. The key
derivation helper :func:`derive_key` is shared with the token checks, whose
``key.derive`` and ``new_key.derive`` objects have the same fields as a
``decoder_key`` line's ``input``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sts.codec import BlockCipher
from sts.conformance.report import (
    MalformedLine,
    Report,
    get,
    hex4,
    hex16,
    hex_value,
    need,
    need_hex,
    need_hex_bytes,
    need_int,
    need_mapping,
    need_text,
)
from sts.crypto.des import Des
from sts.crypto.dkga import KeyParameters, derive_decoder_key
from sts.crypto.keys import DecoderKey, VendingKey
from sts.crypto.misty1 import Misty1
from sts.crypto.sta import Sta
from sts.crypto.sta_tables import PRODUCTION
from sts.tokens.amount import decode_amount, encode_amount
from sts.tokens.crc import crc_field
from sts.tokens.meter_number import luhn_check_digit
from sts.tokens.tid import BaseDate, vending_tid


def key_parameters(spec: Mapping[str, Any], where: str) -> tuple[str, VendingKey, KeyParameters]:
    """(DKGA code, vending key, parameters) from a derivation object at ``where``."""
    dkga = need_text(spec, "dkga", where)
    vk = VendingKey(need_hex_bytes(spec, "vk", where))
    sgc = need(spec, "sgc", where)
    if isinstance(sgc, str) and sgc.isdigit():
        sgc = int(sgc)
    if not isinstance(sgc, int) or isinstance(sgc, bool):
        raise MalformedLine(f"field '{where}.sgc' is {sgc!r}; expected 6 digits")
    params = KeyParameters(
        pan=need_text(spec, "pan", where),
        sgc=sgc,
        kt=need_int(spec, "kt", where),
        ti=need_int(spec, "ti", where),
        krn=need_int(spec, "krn", where),
        base_date=BaseDate.parse(get(spec, "bd", 1993)),
        ea=str(get(spec, "ea", "07")),
    )
    return dkga, vk, params


def derive_key(spec: Mapping[str, Any], where: str) -> DecoderKey:
    """The decoder key a derivation object describes (engine errors propagate)."""
    dkga, vk, params = key_parameters(spec, where)
    return derive_decoder_key(dkga, vk, params)


def check_decoder_key(data: Mapping[str, Any], report: Report) -> None:
    spec = need_mapping(data, "input")
    expected = need_hex_bytes(data, "expect.dk")
    with report.step("dk", expected.hex().upper()):
        key = derive_key(spec, "input")
        report.compare("dk", expected.hex().upper(), key.reveal_hex())


def check_amount(data: Mapping[str, Any], report: Report) -> None:
    units = need_int(data, "input.units")
    field = need_hex(data, "expect.field")
    decoded = need_int(data, "expect.decoded")
    with report.step(f"field for {units} units", hex4(field)):
        report.compare(f"field for {units} units", field, encode_amount(units), hex4)
    with report.step(f"units of field {hex4(field)}", str(decoded)):
        report.compare(f"units of field {hex4(field)}", decoded, decode_amount(field))


def check_crc(data: Mapping[str, Any], report: Report) -> None:
    raw = need_hex_bytes(data, "input.bytes")
    expected = need_hex(data, "expect.crc")
    report.compare(f"crc of {raw.hex().upper()}", expected, crc_field(raw), hex4)


def _issued(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise MalformedLine(
            f"field 'input.issued' is {text!r}; expected 'YYYY-MM-DD HH:MM'"
        ) from None
    # Naive times in vector files are UTC (Edition 3 defines the base dates in UTC).
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def check_tid(data: Mapping[str, Any], report: Report) -> None:
    issued = need_text(data, "input.issued")
    when = _issued(issued)
    base = need(data, "input.base")
    expected = need_int(data, "expect.tid")
    what = f"tid of {issued} on base {base}"
    with report.step(what, str(expected)):
        report.compare(what, expected, vending_tid(when, BaseDate.parse(base)))


def check_luhn(data: Mapping[str, Any], report: Report) -> None:
    digits = need_text(data, "input.digits")
    expected = need_int(data, "expect.check")
    with report.step(f"check digit of {digits}", str(expected)):
        report.compare(f"check digit of {digits}", expected, luhn_check_digit(digits))


def _cipher(alg: str, key: bytes, tables: str) -> BlockCipher:
    if alg == "sta":
        return Sta(key, tables)
    if alg == "misty1":
        return Misty1(key)
    if alg == "des":
        return Des(key)
    raise MalformedLine(f"field 'input.alg' is {alg!r}; expected 'sta', 'misty1' or 'des'")


def check_cipher(data: Mapping[str, Any], report: Report) -> None:
    alg = need_text(data, "input.alg").lower()
    key = need_hex_bytes(data, "input.key")
    block = need_hex(data, "input.block")
    tables = get(data, "input.tables", None) or PRODUCTION.name
    expected = hex_value(need(data, "expect.out"), "expect.out")
    what = f"{alg} encryption of {hex16(block)}"
    with report.step(what, hex16(expected)):
        cipher = _cipher(alg, key, str(tables))
        if report.compare(what, expected, cipher.encrypt_block(block), hex16):
            back = cipher.decrypt_block(expected)
            report.compare(f"{alg} decryption of {hex16(expected)}", block, back, hex16)
