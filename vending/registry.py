"""Registering what vending works with: vending keys, supply groups, customers, tariffs, meters.

Each function runs one database transaction and returns a frozen summary
(never a key's bytes). Bad input is refused before anything is written: an
unknown tariff or key, a DRN with a wrong check digit, a duplicate meter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sts.amounts import parse_amount
from sts.codec import algorithm_for
from sts.crypto.dkga import KeyParameters
from sts.crypto.keys import VendingKey
from sts.errors import FormatError, RangeError, shown
from sts.tokens.meter_number import compact, meter_pan, validate_drn
from sts.tokens.tid import BaseDate
from vending import ledger, limits, storage
from vending.backend import Backend, MeterKeyParameters, derive, key_record_associated_data
from vending.errors import (
    ConflictError,
    DuplicateError,
    NotFoundError,
    PaymentError,
    UnknownMeter,
    VendingError,
    WrongService,
)
from vending.keystore import seal
from vending.kinds import Service, TokenKind, parse_service, parse_token_kind
from vending.models import (
    Customer,
    Meter,
    SupplyGroup,
    TariffRecord,
    TokenRecord,
    Transaction,
    VendingKeyRecord,
)
from vending.tariff import Tariff

DEFAULT_BASE_DATE = BaseDate.Y2014

# Text lengths, from the columns that store them.
LABEL_LENGTH = limits.column_length(VendingKeyRecord.__table__.c.label)
GROUP_NAME_LENGTH = limits.column_length(SupplyGroup.__table__.c.name)
CUSTOMER_NAME_LENGTH = limits.column_length(Customer.__table__.c.name)
TARIFF_NAME_LENGTH = limits.column_length(TariffRecord.__table__.c.name)


# --- summaries ---------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyInfo:
    """A vending key's record, without the key."""

    label: str
    sgc: int
    krn: int
    kt: int
    dkga: str
    base_date: int | None
    bits: int
    created_at: datetime
    retired_at: datetime | None

    @classmethod
    def of(cls, record: VendingKeyRecord) -> KeyInfo:
        return cls(
            record.label,
            record.sgc,
            record.krn,
            record.kt,
            record.dkga,
            record.base_date,
            record.bits,
            record.created_at,
            record.retired_at,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "sgc": f"{self.sgc:06d}",
            "krn": self.krn,
            "kt": self.kt,
            "dkga": self.dkga,
            "base_date": self.base_date,
            "bits": self.bits,
            "created_at": self.created_at.isoformat(),
            "retired_at": self.retired_at.isoformat() if self.retired_at else None,
        }


@dataclass(frozen=True)
class MeterInfo:
    """A meter's record: number, key parameters, tariff, customer, TID state."""

    drn: str
    pan: str
    sgc: int
    krn: int
    kt: int
    ti: int
    ea: str
    dkga: str
    base_date: int
    ken: int
    tariff: str | None
    customer: str | None
    last_tid: int | None
    key_revision: int
    created_at: datetime
    service: str = Service.ELECTRICITY.value
    token_kind: str = TokenKind.UNITS.value

    @classmethod
    def of(cls, meter: Meter) -> MeterInfo:
        return cls(
            meter.drn,
            meter.pan,
            meter.sgc,
            meter.krn,
            meter.kt,
            meter.ti,
            meter.ea,
            meter.dkga,
            meter.base_date,
            meter.ken,
            meter.tariff.name if meter.tariff else None,
            meter.customer.name if meter.customer else None,
            meter.last_tid,
            meter.key_revision,
            meter.created_at,
            meter.service,
            meter.token_kind,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "drn": self.drn,
            "pan": self.pan,
            "service": self.service,
            "token_kind": self.token_kind,
            "sgc": f"{self.sgc:06d}",
            "krn": self.krn,
            "kt": self.kt,
            "ti": self.ti,
            "ea": self.ea,
            "dkga": self.dkga,
            "base_date": self.base_date,
            "ken": self.ken,
            "tariff": self.tariff,
            "customer": self.customer,
            "last_tid": self.last_tid,
            "key_revision": self.key_revision,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class CustomerInfo:
    name: str
    debt: Decimal
    meters: tuple[str, ...]
    free_units_kwh: Decimal | None = None  # the customer's own; None: the tariff's

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "debt": str(self.debt),
            "meters": list(self.meters),
            "free_units_kwh": None if self.free_units_kwh is None else str(self.free_units_kwh),
        }


# --- vending keys and supply groups -------------------------------------------------------


def _supply_group(session: Session, sgc: int, name: str | None, now: datetime) -> SupplyGroup:
    if not isinstance(sgc, int) or not 0 <= sgc <= 999_999:
        raise RangeError(f"SGC {sgc!r} is not a 6-digit supply group code")
    group = session.get(SupplyGroup, sgc)
    if group is None:
        group = SupplyGroup(sgc=sgc, name=name or "", created_at=now)
        session.add(group)
    elif name:
        group.name = name
    return group


def add_vending_key(
    backend: Backend,
    label: str,
    key: VendingKey,
    sgc: int,
    krn: int,
    kt: int = 2,
    base_date: int | None = None,
    group_name: str | None = None,
) -> KeyInfo:
    """Seal ``key`` under the master key and store it for (SGC, KRN, KT).

    The DKGA follows from the key's size: 64 bits is DKGA02, 160 bits DKGA04.
    ``base_date`` says which base date a DKGA02 key was issued for (DKGA04 keys
    take the base date as an input and serve all three).
    """
    if isinstance(label, str) and not label.strip():
        raise VendingError("key label is empty; expected a name such as 'sgc123456-krn1'")
    label = limits.check_text(label, "key label", LABEL_LENGTH)
    if group_name is not None and group_name.strip():
        group_name = limits.check_text(group_name, "supply group name", GROUP_NAME_LENGTH)
    dkga = "02" if key.bits == 64 else "04"
    KeyParameters("600727000000000009", sgc, kt, 1, krn)  # checks SGC, KT and KRN ranges
    base = int(BaseDate.parse(base_date)) if base_date is not None else None
    now = backend.now()
    with storage.write(backend) as session:
        chain = backend.ledger_key(session.connection())  # refuses another master key
        if session.execute(
            select(VendingKeyRecord.id).where(VendingKeyRecord.label == label)
        ).first():
            raise DuplicateError(f"a vending key labelled {label!r} already exists")
        clash = session.execute(
            select(VendingKeyRecord.label).where(
                VendingKeyRecord.sgc == sgc, VendingKeyRecord.krn == krn, VendingKeyRecord.kt == kt
            )
        ).scalar_one_or_none()
        if clash is not None:
            raise DuplicateError(
                f"SGC {sgc:06d} KRN {krn} KT {kt} already has a vending key ({clash!r})"
            )
        _supply_group(session, sgc, group_name, now)
        record = VendingKeyRecord(
            label=label,
            sgc=sgc,
            krn=krn,
            kt=kt,
            dkga=dkga,
            base_date=base,
            bits=key.bits,
            sealed=b"",
            created_at=now,
        )
        record.sealed = seal(backend.sealing_key(), key, key_record_associated_data(record))
        session.add(record)
        session.flush()
        ledger.record_vending_key(session.connection(), chain, record.id, now)
        return KeyInfo.of(record)


def list_vending_keys(backend: Backend, include_retired: bool = True) -> list[KeyInfo]:
    with storage.read(backend) as session:
        query = select(VendingKeyRecord).order_by(
            VendingKeyRecord.sgc, VendingKeyRecord.krn, VendingKeyRecord.kt
        )
        if not include_retired:
            query = query.where(VendingKeyRecord.retired_at.is_(None))
        return [KeyInfo.of(r) for r in session.execute(query).scalars()]


def _key_by_label(session: Session, label: str) -> VendingKeyRecord:
    label = limits.check_text(label, "key label", LABEL_LENGTH)
    record = session.execute(
        select(VendingKeyRecord).where(VendingKeyRecord.label == label)
    ).scalar_one_or_none()
    if record is None:
        raise NotFoundError(f"no vending key is labelled {shown(label)}; see `sts keys list`")
    return record


def retire_vending_key(backend: Backend, label: str) -> KeyInfo:
    """Mark a key retired: no new meter or key change may use it."""
    label = limits.check_text(label, "key label", LABEL_LENGTH)
    now = backend.now()
    with storage.write(backend) as session:
        record = _key_by_label(session, label)
        if record.retired_at is not None:
            raise VendingError(f"vending key {label!r} was already retired")
        record.retired_at = now
        session.flush()
        connection = session.connection()
        ledger.record_vending_key(connection, backend.ledger_key(connection), record.id, now)
        return KeyInfo.of(record)


def active_key(session: Session, sgc: int, krn: int, kt: int) -> VendingKeyRecord:
    """The unretired vending key for (SGC, KRN, KT)."""
    record = session.execute(
        select(VendingKeyRecord).where(
            VendingKeyRecord.sgc == sgc, VendingKeyRecord.krn == krn, VendingKeyRecord.kt == kt
        )
    ).scalar_one_or_none()
    if record is None:
        raise NotFoundError(
            f"no vending key for SGC {sgc:06d} KRN {krn} KT {kt}; add one with `sts keys add`"
        )
    if record.retired_at is not None:
        raise VendingError(
            f"the vending key for SGC {sgc:06d} KRN {krn} KT {kt} ({record.label!r}) is retired"
        )
    return record


# --- customers -------------------------------------------------------------------------------


def _customer_name(name: object) -> str:
    if isinstance(name, str) and not name.strip():
        raise VendingError("customer name is empty")
    return limits.check_text(name, "customer name", CUSTOMER_NAME_LENGTH)


def _customer(session: Session, name: str, now: datetime) -> Customer:
    name = _customer_name(name)
    customer = session.execute(select(Customer).where(Customer.name == name)).scalar_one_or_none()
    if customer is None:
        customer = Customer(name=name, debt=Decimal(0), created_at=now)
        session.add(customer)
    return customer


def set_customer(
    backend: Backend, name: str, debt: Decimal | None = None, free_units: Decimal | None = None
) -> CustomerInfo:
    """Create the customer if new; set the debt outstanding when given, and the free
    basic units a month it is granted instead of its meters' tariffs' (``free_units``)."""
    name = _customer_name(name)
    if debt is not None:
        debt = parse_amount(debt, limits.DEBT, PaymentError)
    if free_units is not None:
        free_units = parse_amount(free_units, limits.FREE_UNITS, PaymentError)
    now = backend.now()
    with storage.write(backend) as session:
        customer = _customer(session, name, now)
        if debt is not None:
            customer.debt = debt
        if free_units is not None:
            customer.free_units_kwh = free_units
        session.flush()
        connection = session.connection()
        ledger.record_customer(connection, backend.ledger_key(connection), customer.id, now)
        drns = session.execute(
            select(Meter.drn).where(Meter.customer_id == customer.id).order_by(Meter.drn)
        ).scalars()
        own = customer.free_units_kwh
        own = None if own is None else own.quantize(Decimal("0.1"))
        return CustomerInfo(customer.name, customer.debt, tuple(drns), own)


# --- tariffs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TariffInfo:
    name: str
    tariff: Tariff
    meters: int

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "meters": self.meters, "definition": self.tariff.to_dict()}


def add_tariff(backend: Backend, tariff: Tariff, replace: bool = False) -> TariffInfo:
    """Store ``tariff`` under its name; ``replace`` updates an existing one."""
    now = backend.now()
    with storage.write(backend) as session:
        record = session.execute(
            select(TariffRecord).where(TariffRecord.name == tariff.name)
        ).scalar_one_or_none()
        if record is not None and not replace:
            raise DuplicateError(f"a tariff named {tariff.name!r} already exists")
        if record is None:
            record = TariffRecord(name=tariff.name, definition=tariff.to_dict(), created_at=now)
            session.add(record)
        else:
            record.definition = tariff.to_dict()
        session.flush()
        connection = session.connection()
        ledger.record_tariff(connection, backend.ledger_key(connection), record.id, now)
        return TariffInfo(tariff.name, tariff, _tariff_meters(session, record.id))


def _tariff_meters(session: Session, tariff_id: int) -> int:
    return len(session.execute(select(Meter.id).where(Meter.tariff_id == tariff_id)).all())


def tariff_record(session: Session, name: str) -> TariffRecord:
    name = limits.check_text(name, "tariff name", TARIFF_NAME_LENGTH)
    record = session.execute(
        select(TariffRecord).where(TariffRecord.name == name)
    ).scalar_one_or_none()
    if record is None:
        raise NotFoundError(f"tariff {shown(name)} is unknown; see `sts tariffs list`")
    return record


def get_tariff(backend: Backend, name: str) -> TariffInfo:
    with storage.read(backend) as session:
        record = tariff_record(session, name)
        return TariffInfo(
            record.name, Tariff.from_dict(record.definition), _tariff_meters(session, record.id)
        )


def list_tariffs(backend: Backend) -> list[TariffInfo]:
    with storage.read(backend) as session:
        records = session.execute(select(TariffRecord).order_by(TariffRecord.name)).scalars()
        return [
            TariffInfo(r.name, Tariff.from_dict(r.definition), _tariff_meters(session, r.id))
            for r in records
        ]


# --- meters ----------------------------------------------------------------------------------


def add_meter(
    backend: Backend,
    drn: str,
    sgc: int,
    krn: int = 1,
    kt: int = 2,
    ti: int = 1,
    ea: str = "07",
    ken: int = 255,
    base_date: int | None = None,
    tariff: str | None = None,
    customer: str | None = None,
    service: str = Service.ELECTRICITY.value,
    token_kind: str = TokenKind.UNITS.value,
) -> MeterInfo:
    """Register a meter under the vending key for its SGC, KRN and KT.

    The DRN's check digit is verified first. The DKGA is the key's; the base
    date defaults to the key's (DKGA02) or 2014. The decoder key is derived once
    to check that the key opens and fits the encryption algorithm. ``service``
    and ``token_kind`` (vending.kinds) say which class 0 subclass its credit
    tokens are; a tariff given must price the same service.
    """
    number = validate_drn(drn)
    service = parse_service(service).value
    token_kind = parse_token_kind(token_kind).value
    pan = meter_pan(number)
    if tariff is not None:
        tariff = limits.check_text(tariff, "tariff name", TARIFF_NAME_LENGTH)
    if customer is not None:
        customer = _customer_name(customer)
    ea_code = str(ea).strip().upper().removeprefix("EA").zfill(2)
    if not isinstance(ken, int) or not 0 <= ken <= 255:
        raise RangeError(f"KEN {ken!r} is not in 0..255")
    now = backend.now()
    with storage.write(backend) as session:
        if session.execute(select(Meter.id).where(Meter.drn == number)).first():
            raise DuplicateError(f"meter {number} is already registered")
        record = active_key(session, sgc, krn, kt)
        if base_date is not None:
            base = int(BaseDate.parse(base_date))
        else:
            base = record.base_date or int(DEFAULT_BASE_DATE)
        params = MeterKeyParameters(pan, sgc, kt, ti, krn, base, ea_code, record.dkga)
        try:
            KeyParameters(pan, sgc, kt, ti, krn, BaseDate(base), ea_code)
        except FormatError as exc:
            raise FormatError(f"meter {number}: {exc}") from None
        decoder_key = derive(backend.vending_key(record), params)
        algorithm_for(decoder_key, ea_code)
        meter = Meter(
            drn=number,
            pan=pan,
            sgc=sgc,
            krn=krn,
            kt=kt,
            ti=ti,
            ea=ea_code,
            dkga=record.dkga,
            base_date=base,
            ken=ken,
            vending_key=record,
            tariff=_tariff_for(session, tariff, number, service) if tariff else None,
            customer=_customer(session, customer, now) if customer else None,
            last_tid=None,
            key_revision=1,
            created_at=now,
            service=service,
            token_kind=token_kind,
        )
        session.add(meter)
        try:
            session.flush()
        except IntegrityError:
            raise DuplicateError(f"meter {number} is already registered") from None
        connection = session.connection()
        ledger.record_meter(connection, backend.ledger_key(connection), meter.id, now)
        return MeterInfo.of(meter)


def update_meter(
    backend: Backend, drn: str, tariff: str | None = None, customer: str | None = None
) -> MeterInfo:
    """Move a meter to another tariff or customer."""
    if tariff is not None:
        tariff = limits.check_text(tariff, "tariff name", TARIFF_NAME_LENGTH)
    if customer is not None:
        customer = _customer_name(customer)
    now = backend.now()
    with storage.write(backend) as session:
        meter = meter_by_drn(session, drn)
        if tariff is not None:
            meter.tariff = _tariff_for(session, tariff, meter.drn, meter.service)
        if customer is not None:
            meter.customer = _customer(session, customer, now)
        session.flush()
        connection = session.connection()
        ledger.record_meter(connection, backend.ledger_key(connection), meter.id, now)
        return MeterInfo.of(meter)


def set_meter_kind(
    backend: Backend,
    drn: str,
    service: str | None = None,
    token_kind: str | None = None,
    tariff: str | None = None,
    tokens_used: bool = False,
) -> MeterInfo:
    """Change a registered meter's service and/or token kind: which class 0 tokens it is sold.

    A change is one chained ledger entry, like any meter change; asking for what
    the meter already is changes and records nothing. A service change needs a
    tariff for the new service (``tariff``) when the meter has one. The change is
    refused while the meter may hold sold tokens it would then refuse: the
    ledger cannot tell which tokens a customer has keyed in (STS tokens go one
    way), so every credit token sold under the meter's current key and not
    reversed counts as possibly unused, unless ``tokens_used`` says they were
    all keyed in. (Tokens sold under an earlier key revision no longer decrypt on
    the meter anyway.)
    """
    if service is None and token_kind is None:
        raise VendingError("give the meter's new service or token kind", "service", None)
    new_service = None if service is None else parse_service(service).value
    new_kind = None if token_kind is None else parse_token_kind(token_kind).value
    if tariff is not None:
        tariff = limits.check_text(tariff, "tariff name", TARIFF_NAME_LENGTH)
    now = backend.now()
    with storage.write(backend) as session:
        meter = meter_by_drn(session, drn)
        after_service = new_service or meter.service
        after_kind = new_kind or meter.token_kind
        if (after_service, after_kind) == (meter.service, meter.token_kind):
            if tariff is not None:
                meter.tariff = _tariff_for(session, tariff, meter.drn, meter.service)
                session.flush()
                connection = session.connection()
                ledger.record_meter(connection, backend.ledger_key(connection), meter.id, now)
            return MeterInfo.of(meter)
        if tariff is not None:
            meter.tariff = _tariff_for(session, tariff, meter.drn, after_service)
        elif meter.tariff is not None and after_service != meter.service:
            raise WrongService(
                f"meter {meter.drn}'s tariff {meter.tariff.name!r} prices {meter.service}; "
                f"give it a {after_service} tariff with the change",
                "tariff",
                meter.tariff.name,
            )
        unused = _sold_under_current_key(session, meter)
        if unused and not tokens_used:
            raise ConflictError(
                f"meter {meter.drn} has {unused} credit token(s) of its "
                f"{meter.service} {meter.token_kind} kind sold under its current key and not "
                "reversed, which the ledger cannot tell were keyed in and the meter would refuse "
                f"as a {after_service} {after_kind} meter; change it once they are all keyed in "
                "(say so), or after its next key change",
                "service",
                after_service,
            )
        meter.service, meter.token_kind = after_service, after_kind
        session.flush()
        connection = session.connection()
        ledger.record_meter(connection, backend.ledger_key(connection), meter.id, now)
        return MeterInfo.of(meter)


def _sold_under_current_key(session: Session, meter: Meter) -> int:
    """Credit (class 0) tokens sold to ``meter`` under its current key, in vends not reversed."""
    tokens = TokenRecord.__table__
    transactions = Transaction.__table__
    reversals = transactions.alias("reversals")
    not_reversed = (
        ~select(reversals.c.id).where(reversals.c.reverses_id == tokens.c.transaction_id).exists()
    )
    return session.execute(
        select(func.count())
        .select_from(tokens)
        .where(
            tokens.c.meter_id == meter.id,
            tokens.c.key_revision == meter.key_revision,
            tokens.c.token_class == 0,
            not_reversed,
        )
    ).scalar_one()


def _tariff_for(session: Session, name: str, drn: str, service: str) -> TariffRecord:
    """The tariff named ``name``, refused when it prices another service than the meter's."""
    record = tariff_record(session, name)
    priced = Tariff.from_dict(record.definition).service
    if priced != service:
        raise WrongService(
            f"tariff {record.name!r} prices {priced} but meter {drn} is a {service} meter; "
            f"give it a {service} tariff",
            "tariff",
            record.name,
        )
    return record


def meter_by_drn(session: Session, drn: str) -> Meter:
    number = compact(drn) if isinstance(drn, str) else ""
    meter = None
    if number.isascii() and number.isdigit() and len(number) <= 13:
        meter = session.execute(select(Meter).where(Meter.drn == number)).scalar_one_or_none()
    if meter is None:
        raise UnknownMeter(f"meter {shown(drn)} is not registered; add it with `sts meters add`")
    return meter


def get_meter(backend: Backend, drn: str) -> MeterInfo:
    with storage.read(backend) as session:
        return MeterInfo.of(meter_by_drn(session, drn))


def list_meters(
    backend: Backend, sgc: int | None = None, krn: int | None = None, limit: int | None = None
) -> list[MeterInfo]:
    with storage.read(backend) as session:
        query = select(Meter).order_by(Meter.drn)
        if sgc is not None:
            query = query.where(Meter.sgc == sgc)
        if krn is not None:
            query = query.where(Meter.krn == krn)
        if limit is not None:
            query = query.limit(limit)
        return [MeterInfo.of(m) for m in session.execute(query).scalars()]
