"""Checks for ``token`` and ``reject`` lines: every figure a token line states.

For a token line, in order:

1. the decoder key: derived from ``key.derive`` (and compared with
   ``expect.dk``) or taken from ``key.dk``; class 1 lines have none;
2. the token built from ``fields`` (class and subclass pick its type), whose
   optional ``units`` / ``units_1e5`` must encode to the stated amount, must
   rebuild ``block`` exactly and carry ``expect.crc``;
3. encrypting it gives ``expect.encrypted`` and ``expect.token``;
4. decoding ``expect.token`` with the same key gives back ``class``,
   ``subclass``, ``block`` and ``fields``;
5. for key change tokens with ``new_key``: the new key derives to
   ``new_key.dk`` and the token's fields carry its sections (and its KRN, KT,
   TI and SGC when the derivation names them).

A ``reject`` line passes only when decoding its token is refused with an
:class:`~sts.errors.StsError`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from sts.codec import cipher_for, decode_full, encrypt_token
from sts.conformance.checks import derive_key, key_parameters
from sts.conformance.report import (
    MalformedLine,
    Report,
    get,
    has,
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
from sts.crypto.keys import DecoderKey
from sts.crypto.sta_tables import PRODUCTION
from sts.errors import StsError
from sts.tokens.amount import encode_amount, encode_currency
from sts.tokens.base import Token, TokenClass
from sts.tokens.block import layout_for
from sts.tokens.credit import CreditKind, CurrencyCredit, TransferCredit
from sts.tokens.digits import format_token
from sts.tokens.keychange import KeyChangeToken
from sts.tokens.raw import RawToken

#: Fields a line may add to a credit token's payload fields: the quantity asked for.
_QUANTITY_FIELDS = {"units", "units_1e5"}
#: Constructor arguments that come from the subclass rather than from ``fields``.
_FROM_SUBCLASS = {"kind", "variant"}
#: Payload fields written as 8 hex digits (the key sections of a KCT).
_HEX_FIELDS = {"nk_ho", "nk_lo", "nk_mo1", "nk_mo2"}


def _line_key(data: Mapping[str, Any], report: Report) -> DecoderKey | None:
    """The line's decoder key (None for class 1 lines, or when its derivation failed)."""
    spec = get(data, "key", None)
    if spec is None:
        return None
    if not isinstance(spec, Mapping):
        raise MalformedLine(f"field 'key' is {spec!r}; expected an object")
    want = None if get(data, "expect.dk", None) is None else _key_hex(data, "expect.dk")
    if "derive" in spec:
        key: DecoderKey | None = None
        with report.step("dk", want or "a derived key"):
            key = derive_key(need_mapping(spec, "derive", "key"), "key.derive")
        if key is None:
            return None
    else:
        key = DecoderKey.from_hex(_key_hex(data, "key.dk"))
    if want is not None:
        report.compare("dk", want, key.reveal_hex())
    return key


def _key_hex(data: Mapping[str, Any], path: str) -> str:
    """A decoder key's hex at ``path``: 8 or 16 bytes, upper case."""
    raw = need_hex_bytes(data, path)
    if len(raw) not in (8, 16):
        raise MalformedLine(f"field '{path}' has {len(raw)} bytes; expected 8 or 16")
    return raw.hex().upper()


def _field_value(fields: Mapping[str, Any], name: str) -> int:
    value = need(fields, name, "fields")
    if name in _HEX_FIELDS:
        return hex_value(value, f"fields.{name}")
    if not isinstance(value, int) or isinstance(value, bool):
        raise MalformedLine(f"field 'fields.{name}' is {value!r}; expected an integer")
    return value


def payload_names(token_class: int, subclass: int) -> tuple[str, ...]:
    """The ``fields`` names of a class/subclass, as sts/conformance/FORMAT.md lists them."""
    layout = layout_for(token_class, subclass)
    if layout is None:
        return ("payload",)
    return tuple(
        f.name for f in dataclasses.fields(layout) if f.init and f.name not in _FROM_SUBCLASS
    )


def build_token(token_class: int, subclass: int, fields: Mapping[str, Any]) -> Token:
    """The token a line's class, subclass and ``fields`` describe.

    Missing or unknown field names raise MalformedLine; values the engine
    refuses raise its StsError.
    """
    if token_class not in (0, 1, 2):
        raise MalformedLine(f"field 'class' is {token_class}; expected 0, 1 or 2")
    names = payload_names(token_class, subclass)
    extra = set(fields) - set(names) - _QUANTITY_FIELDS
    if extra:
        raise MalformedLine(
            f"field 'fields.{sorted(extra)[0]}' is not part of a class {token_class} "
            f"subclass {subclass} token (expected {', '.join(names)})"
        )
    values = {name: _field_value(fields, name) for name in names}
    layout = layout_for(token_class, subclass)
    if layout is None:
        return RawToken(TokenClass(token_class), subclass, values["payload"])
    init_names = {f.name for f in dataclasses.fields(layout) if f.init}
    if "kind" in init_names:
        values["kind"] = CreditKind(subclass)
    if "variant" in init_names:
        values["variant"] = subclass
    return layout(**values)


def _check_quantity(token: Token, fields: Mapping[str, Any], report: Report) -> None:
    """``units`` / ``units_1e5`` must encode to the amount the line carries."""
    if "units" in fields:
        units = _field_value(fields, "units")
        if not isinstance(token, TransferCredit):
            raise MalformedLine("field 'fields.units' belongs to class 0 subclasses 0-3 only")
        what = f"amount field for units {units}"
        with report.step(what, str(token.amount)):
            report.compare(what, token.amount, encode_amount(units))
    if "units_1e5" in fields:
        units = _field_value(fields, "units_1e5")
        if not isinstance(token, CurrencyCredit):
            raise MalformedLine("field 'fields.units_1e5' belongs to class 0 subclasses 4-7 only")
        what = f"se and amount fields for units_1e5 {units}"
        with report.step(what, f"se {token.se}, amount {token.amount}"):
            se, amount = encode_currency(units, token.negative)
            report.compare(what, (token.se, token.amount), (se, amount), _se_amount)


def _se_amount(pair: tuple[int, int]) -> str:
    return f"se {pair[0]}, amount {pair[1]}"


def _comparable(fields: Mapping[str, Any]) -> dict[str, int]:
    return {
        name: int(value, 16) if name in _HEX_FIELDS else value
        for name, value in fields.items()
        if name not in _QUANTITY_FIELDS
    }


def _check_decoding(
    data: Mapping[str, Any], key: DecoderKey | None, fields: Mapping[str, Any], report: Report
) -> None:
    digits = need_text(data, "expect.token")
    ea, tables = get(data, "ea", None), get(data, "tables", None) or PRODUCTION.name
    token_class, subclass = need_int(data, "class"), need_int(data, "subclass")
    block = need_hex(data, "block")
    with report.step(f"decoding {digits}", f"class {token_class} subclass {subclass}"):
        decoded = decode_full(digits, key, ea, tables)
        report.compare("decoded class", token_class, decoded.token_class)
        report.compare("decoded subclass", subclass, decoded.token.subclass)
        report.compare("decoded block", block, decoded.block, hex16)
        want = {name: _field_value(fields, name) for name in fields}
        for name in _QUANTITY_FIELDS:
            want.pop(name, None)
        got = _comparable(decoded.token.fields())
        for name in sorted(set(want) | set(got)):
            report.compare(f"decoded {name}", want.get(name), got.get(name))


def _new_key_sections(key: bytes) -> dict[str, int]:
    value = int.from_bytes(key, "big")
    top = len(key) * 8 - 32
    sections = {"nk_ho": value >> top, "nk_lo": value & 0xFFFFFFFF}
    if len(key) == 16:
        sections |= {"nk_mo2": value >> 64 & 0xFFFFFFFF, "nk_mo1": value >> 32 & 0xFFFFFFFF}
    return sections


def _check_new_key(data: Mapping[str, Any], token: Token, report: Report) -> None:
    """The KCT fields carry the new key's sections (and its KRN, KT, TI, SGC)."""
    spec = need_mapping(data, "new_key")
    if not isinstance(token, KeyChangeToken):
        raise MalformedLine("field 'new_key' belongs to key change tokens only")
    stated = need_hex_bytes(spec, "dk", "new_key") if has(spec, "dk") else None
    derived: DecoderKey | None = None
    expected_registers: dict[str, int] = {}
    if has(spec, "derive"):
        derive = need_mapping(spec, "derive", "new_key")
        with report.step("new_key.dk", stated.hex().upper() if stated else "a derived key"):
            _, _, params = key_parameters(derive, "new_key.derive")
            derived = derive_key(derive, "new_key.derive")
            expected_registers = {
                "krn": params.krn,
                "kt": params.kt,
                "ti": params.ti,
                "sgc_lo": params.sgc & 0xFFF,
                "sgc_ho": params.sgc >> 12,
            }
    elif stated is None:
        raise MalformedLine("missing field 'new_key.dk' (or 'new_key.derive')")
    if stated is not None and derived is not None:
        report.compare("new_key.dk", stated.hex().upper(), derived.reveal_hex())
    if stated is not None:
        new_key = stated
    elif derived is not None:
        new_key = derived.secret_bytes()
    else:
        return  # the derivation failed and is recorded; there is no key to compare with
    sections = _new_key_sections(new_key)
    fields = _comparable(token.fields())
    for name, value in fields.items():
        if name in _HEX_FIELDS:
            if name not in sections:
                report.add(f"fields.{name}: a {len(new_key) * 8}-bit new key has no such section")
                continue
            report.compare(
                f"fields.{name} (section of the new key)", sections[name], value, "{:08X}".format
            )
        elif name in expected_registers:
            report.compare(f"fields.{name} (the new key's)", expected_registers[name], value)


def check_token(data: Mapping[str, Any], report: Report) -> None:
    token_class, subclass = need_int(data, "class"), need_int(data, "subclass")
    fields = need_mapping(data, "fields")
    block = need_hex(data, "block")
    expected_crc = need_hex(data, "expect.crc")
    expected_encrypted = need_hex(data, "expect.encrypted")
    expected_digits = need_text(data, "expect.token")
    ea, tables = get(data, "ea", None), get(data, "tables", None) or PRODUCTION.name
    if ea is not None and not isinstance(ea, str):
        raise MalformedLine(f'field \'ea\' is {ea!r}; expected "07", "11", "09" or null')
    key = _line_key(data, report)
    if has(data, "key.derive") and key is None:
        return  # the derivation failed and is recorded; nothing else can be checked
    token: Token | None = None
    with report.step("fields", f"a class {token_class} subclass {subclass} token"):
        token = build_token(token_class, subclass, fields)
    if token is not None:
        _check_quantity(token, fields, report)
        built = token.to_block()
        report.compare("block", block, built, hex16)
        report.compare("crc", expected_crc, built & 0xFFFF, hex4)
        with report.step("encrypted", hex16(expected_encrypted)):
            cipher = cipher_for(key, ea, str(tables)) if key is not None else None
            encrypted, number = encrypt_token(token, cipher)
            report.compare("encrypted", expected_encrypted, encrypted, hex16)
            report.compare("token", expected_digits, format_token(number, grouped=False))
    _check_decoding(data, key, fields, report)
    if has(data, "new_key") and token is not None:
        _check_new_key(data, token, report)


def check_reject(data: Mapping[str, Any], report: Report) -> None:
    digits = need_text(data, "token")
    if get(data, "expect.accepted", False) is not False:
        raise MalformedLine("field 'expect.accepted' must be false on a reject line")
    ea, tables = get(data, "ea", None), get(data, "tables", None) or PRODUCTION.name
    key = _line_key(data, report)
    if has(data, "key.derive") and key is None:
        return
    try:
        decoded = decode_full(digits, key, ea, str(tables))
    except StsError:
        return  # refused, as the line expects
    token = decoded.token
    report.add(
        f"refusal of {digits}: expected the decoder to refuse it, got an accepted "
        f"{token.name} (class {decoded.token_class} subclass {token.subclass}, "
        f"block {hex16(decoded.block)})"
    )
