"""What every vending service needs: the database, the master key, a clock and randomness.

A :class:`Backend` is built once by the caller (``cli.py`` passes the system clock
and ``random.SystemRandom()``; tests pass a fixed clock and a seeded generator)
and handed to the service functions in ``vending.registry``, ``vending.vend``,
``vending.keychange``, ``vending.migration`` and ``vending.reports``. It also
keeps, for the life of the process, the vending keys it has unsealed and the
decoder keys it has derived, so a busy vending point does not repeat the AES-GCM
and DKGA work for every token.

Before its first write to the ledger it checks, once, that its master key is the
one this database's vending keys are sealed under (:func:`check_master_key`):
a second master key would seal keys no one else can open and chain entries that
do not verify, so it is refused at once.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import Connection, Engine, select

from sts.crypto.dkga import KeyParameters, derive_decoder_key
from sts.crypto.keys import DecoderKey, VendingKey
from sts.tokens.tid import BaseDate
from vending.db import Database
from vending.errors import KeyStoreError, VendingError
from vending.keystore import MasterKey, associated_data, check_value, ledger_key, open_sealed
from vending.tables import master_key_check, vending_keys

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

DECODER_KEY_CACHE_SIZE = 10_000


class RandomBits(Protocol):
    """A source of random bits: ``random.SystemRandom()`` or a seeded ``random.Random``."""

    def getrandbits(self, k: int, /) -> int: ...


class SealedKey(Protocol):
    """A vending key record (ORM object or row): what identifies it, and the sealed key."""

    id: int
    sgc: int
    krn: int
    kt: int
    dkga: str
    sealed: bytes


class KeyedMeter(Protocol):
    """A meter (ORM object or vending.tids.LockedMeter): its key parameters."""

    vending_key_id: int
    pan: str
    sgc: int
    kt: int
    ti: int
    krn: int
    base_date: int
    ea: str
    dkga: str


_KEYS = vending_keys
_CHECK = master_key_check
CHECK_ID = 1


def key_record_associated_data(record: SealedKey) -> bytes:
    """The associated data a vending key is sealed with: what identifies its record."""
    return associated_data("vending-key", record.sgc, record.krn, record.kt, record.dkga)


@dataclass(frozen=True)
class MeterKeyParameters:
    """Everything a meter's decoder key is derived from, besides the vending key."""

    pan: str
    sgc: int
    kt: int
    ti: int
    krn: int
    base_date: int
    ea: str
    dkga: str

    @classmethod
    def of(cls, meter: KeyedMeter) -> MeterKeyParameters:
        return cls(
            meter.pan,
            meter.sgc,
            meter.kt,
            meter.ti,
            meter.krn,
            meter.base_date,
            meter.ea,
            meter.dkga,
        )

    def key_parameters(self) -> KeyParameters:
        return KeyParameters(
            self.pan, self.sgc, self.kt, self.ti, self.krn, BaseDate(self.base_date), self.ea
        )


@dataclass
class Backend:
    """Sessions, master key, clock and random source for the vending services."""

    database: Database = field(repr=False)
    master: MasterKey | None
    clock: Callable[[], datetime]
    rng: RandomBits
    _vending_keys: dict[int, VendingKey] = field(default_factory=dict, repr=False)
    _decoder_keys: dict[tuple[int, MeterKeyParameters], DecoderKey] = field(
        default_factory=dict, repr=False
    )
    _ledger_key: bytes | None = field(default=None, repr=False)

    @classmethod
    def open(
        cls,
        database: Database,
        master: MasterKey | None,
        clock: Callable[[], datetime],
        rng: RandomBits,
    ) -> Backend:
        return cls(database, master, clock, rng)

    @property
    def sessions(self) -> sessionmaker[Session]:
        """ORM write sessions (made on first use: the vend path needs none)."""
        return self.database.sessions

    @property
    def read_sessions(self) -> sessionmaker[Session]:
        """ORM read sessions (made on first use)."""
        return self.database.read_sessions

    @property
    def engine(self) -> Engine:
        """The engine the write sessions use (the vend hot path works on it directly)."""
        return self.database.engine

    @property
    def read_engine(self) -> Engine:
        """The engine the read sessions use: reads that need no ORM work on it directly."""
        return self.database.read_engine

    def close(self) -> None:
        """Close the database's connections."""
        self.database.dispose()

    def now(self) -> datetime:
        """The clock's time in UTC; a naive time is refused."""
        when = self.clock()
        if when.tzinfo is None or when.utcoffset() is None:
            raise VendingError(f"clock gave {when.isoformat()} without a timezone; expected UTC")
        return when.astimezone(UTC)

    def random_nibble(self) -> int:
        """4 random bits for a token's RND field."""
        return self.rng.getrandbits(4)

    def sealing_key(self) -> MasterKey:
        """The master key; a KeyStoreError when none was given."""
        if self.master is None:
            raise KeyStoreError(
                "no master key: set STS_MASTER_KEY (64 hex digits) or give the master key "
                "file (`sts keys add` creates one on first use)"
            )
        return self.master

    def ledger_key(self, connection: Connection) -> bytes:
        """The key that chains ledger entries, once the master key is known to be this
        database's (checked on ``connection`` the first time; KeyStoreError if not)."""
        if self._ledger_key is None:
            master = self.sealing_key()
            check_master_key(connection, master, self.now())
            self._ledger_key = ledger_key(master)
        return self._ledger_key

    def vending_key(self, record: SealedKey) -> VendingKey:
        """The record's vending key, unsealed under the master key (cached by record id).

        Key records never change once written (retiring one leaves the key as it is).
        """
        key = self._vending_keys.get(record.id)
        if key is None:
            key = open_sealed(self.sealing_key(), record.sealed, key_record_associated_data(record))
            self._vending_keys[record.id] = key
        return key

    def vending_key_by_id(self, connection: Connection, key_id: int) -> VendingKey:
        key = self._vending_keys.get(key_id)
        if key is None:
            record = connection.execute(
                select(
                    _KEYS.c.id, _KEYS.c.sgc, _KEYS.c.krn, _KEYS.c.kt, _KEYS.c.dkga, _KEYS.c.sealed
                ).where(_KEYS.c.id == key_id)
            ).one()
            key = self.vending_key(record)
        return key

    def decoder_key(
        self, connection: Connection, key_id: int, params: MeterKeyParameters
    ) -> DecoderKey:
        """The decoder key for ``params`` under vending key ``key_id`` (cached)."""
        cache_key = (key_id, params)
        key = self._decoder_keys.get(cache_key)
        if key is None:
            key = derive(self.vending_key_by_id(connection, key_id), params)
            if len(self._decoder_keys) >= DECODER_KEY_CACHE_SIZE:
                self._decoder_keys.clear()
            self._decoder_keys[cache_key] = key
        return key

    def meter_key(self, connection: Connection, meter: KeyedMeter) -> DecoderKey:
        """The meter's current decoder key."""
        return self.decoder_key(connection, meter.vending_key_id, MeterKeyParameters.of(meter))


def derive(vending_key: VendingKey, params: MeterKeyParameters) -> DecoderKey:
    """The decoder key by the meter's DKGA (no caching)."""
    return derive_decoder_key(params.dkga, vending_key, params.key_parameters())


def check_master_key(connection: Connection, master: MasterKey, now: datetime) -> None:
    """Refuse a master key that is not the one the database's vending keys are sealed under.

    The database keeps the master key's check value (vending.keystore.check_value).
    Where it has none yet (a new database, or one from before schema 0003) the first
    vending key, if any, must open under ``master``; then the check value is stored.
    """
    expected = check_value(master)
    stored = connection.execute(
        select(_CHECK.c.value).where(_CHECK.c.id == CHECK_ID)
    ).scalar_one_or_none()
    if stored is not None:
        if not hmac.compare_digest(stored, expected):
            raise KeyStoreError(
                f"master key {master.fingerprint} is not this database's master key (its "
                "vending keys and ledger are sealed under another); nothing was written"
            )
        return
    sample = connection.execute(
        select(_KEYS.c.id, _KEYS.c.sgc, _KEYS.c.krn, _KEYS.c.kt, _KEYS.c.dkga, _KEYS.c.sealed)
        .order_by(_KEYS.c.id)
        .limit(1)
    ).first()
    if sample is not None:
        try:
            open_sealed(master, sample.sealed, key_record_associated_data(sample))
        except KeyStoreError:
            raise KeyStoreError(
                f"master key {master.fingerprint} does not open this database's vending keys: "
                "they are sealed under another master key; nothing was written"
            ) from None
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    connection.execute(
        insert(_CHECK)
        .values(id=CHECK_ID, value=expected, created_at=now)
        .on_conflict_do_nothing(index_elements=["id"])
    )
    # Another writer may have stored its value first: it must be the same.
    stored = connection.execute(select(_CHECK.c.value).where(_CHECK.c.id == CHECK_ID)).scalar_one()
    if not hmac.compare_digest(stored, expected):
        raise KeyStoreError(
            f"master key {master.fingerprint} is not this database's master key; "
            "nothing was written"
        )
