"""EA07, the Standard Transfer Algorithm: a 64-bit block cipher with a 64-bit key.

Sixteen rounds, each a key-selected 4-bit substitution followed by a fixed
bit permutation. The round key ``Kr`` is ``ROL64(ROR64(NOT DK, 12), r)``; bit
``4i+3`` of ``Kr`` chooses S2 (1) or S1 (0) for nibble ``i``.

Speed comes from merging substitution and permutation into byte tables: for
each byte position and each of the four S-box choices of its two nibbles, a
256-entry table maps the byte to its permuted 64-bit contribution. A round is
then eight lookups ORed together. The tables depend only on the STA table set,
so they are built once, on first use (encryption and decryption tables apart,
a few ms each); a key's schedule is just which table each byte uses in each
round, and it is cached per key.
"""

from __future__ import annotations

from functools import cache, cached_property, lru_cache

from sts.crypto.sta_tables import PRODUCTION, TABLES, StaTables
from sts.errors import FormatError

_MASK64 = (1 << 64) - 1
ROUNDS = 16

# A byte table: for one byte position and S-box choice, byte value -> 64-bit output.
_ByteTable = tuple[int, ...]


def _position_permutations(p: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    """For each byte position: byte value -> that byte, placed at the position, permuted.

    Bit ``j`` of a 64-bit value moves to bit ``p[j]``. Each entry is the entry
    without its lowest set bit, plus where that bit goes: 256 steps per position
    instead of 64 bit tests per value.
    """
    result = []
    for position in range(8):
        moved = [1 << p[8 * position + bit] for bit in range(8)]
        table = [0] * 256
        for value in range(1, 256):
            lowest = value & -value
            table[value] = table[value ^ lowest] | moved[lowest.bit_length() - 1]
        result.append(tuple(table))
    return tuple(result)


def _invert(table: tuple[int, ...]) -> tuple[int, ...]:
    inverse = [0] * len(table)
    for index, value in enumerate(table):
        inverse[value] = index
    return tuple(inverse)


def _byte_tables(
    lo_boxes: tuple[tuple[int, ...], tuple[int, ...]],
    permutation: tuple[int, ...] | None,
) -> tuple[tuple[_ByteTable, ...], ...]:
    """tables[position][choice][byte]: substitute both nibbles, then permute.

    ``choice`` bit 0 picks the box of the low nibble, bit 1 that of the high
    nibble (0 = first box, 1 = second box). ``permutation`` None means none.
    """
    moved = None if permutation is None else _position_permutations(permutation)
    result = []
    for position in range(8):
        if moved is None:
            place = tuple(byte << (8 * position) for byte in range(256))
        else:
            place = moved[position]
        per_choice = []
        for choice in range(4):
            low_box = lo_boxes[choice & 1]
            high_box = lo_boxes[choice >> 1]
            per_choice.append(
                tuple(place[high_box[byte >> 4] << 4 | low_box[byte & 15]] for byte in range(256))
            )
        result.append(tuple(per_choice))
    return tuple(result)


class _TableSet:
    """Byte tables for encryption and decryption with one STA table set.

    Each group of tables is built on first use: a process that only encrypts
    (a vend) never builds the decryption tables.
    """

    def __init__(self, tables: StaTables) -> None:
        self._tables = tables
        # Round tables by selector bits, filled as keys are scheduled.
        self.encrypt_cache: dict[int, tuple[_ByteTable, ...]] = {}
        self.decrypt_cache: dict[int, tuple[_ByteTable, ...]] = {}
        self.last_cache: dict[int, tuple[_ByteTable, ...]] = {}

    @cached_property
    def encrypt_round(self) -> tuple[tuple[_ByteTable, ...], ...]:
        return _byte_tables((self._tables.s1, self._tables.s2), self._tables.p)

    # Decryption: invP, then (invS_r then invP) for r = 15..1, then invS_0.
    @cached_property
    def _inverse_boxes(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        return _invert(self._tables.s1), _invert(self._tables.s2)

    @cached_property
    def decrypt_round(self) -> tuple[tuple[_ByteTable, ...], ...]:
        return _byte_tables(self._inverse_boxes, _invert(self._tables.p))

    @cached_property
    def decrypt_last(self) -> tuple[tuple[_ByteTable, ...], ...]:
        return _byte_tables(self._inverse_boxes, None)

    @cached_property
    def initial_inverse_p_tables(self) -> tuple[_ByteTable, ...]:
        identity = tuple(range(16))
        initial = _byte_tables((identity, identity), _invert(self._tables.p))
        return tuple(initial[b][0] for b in range(8))


@cache
def _table_set(name: str) -> _TableSet:
    return _TableSet(TABLES[name])


def _gather_table() -> tuple[tuple[int, ...], ...]:
    """For each key byte position and value: its bits regrouped by residue mod 4.

    The result packs four 16-bit fields; field ``c`` holds the key bits at
    positions ``c, c+4, ..., c+60`` in order.
    """
    table = []
    for position in range(8):
        # Each entry is the entry without its lowest set bit plus where that bit goes
        # (a quarter of a millisecond at import, for all eight positions).
        moved = [1 << (16 * (bit & 3) + 2 * position + (bit >> 2)) for bit in range(8)]
        entries = [0] * 256
        for value in range(1, 256):
            lowest = value & -value
            entries[value] = entries[value ^ lowest] | moved[lowest.bit_length() - 1]
        table.append(tuple(entries))
    return tuple(table)


_GATHER = _gather_table()


def round_selectors(key: int) -> tuple[int, ...]:
    """For each round, the 16 S-box selector bits: bit ``i`` is bit ``4i+3`` of ``Kr``.

    ``Kr = ROL64(K0, r)`` with ``K0 = ROR64(NOT key, 12)``, so bit ``4i+3`` of
    ``Kr`` is bit ``4i+3-r`` of ``K0``: the selectors of round ``r`` are the
    bits of ``K0`` in one residue class mod 4, rotated by whole nibbles.
    """
    k0 = (~key & _MASK64) >> 12 | (~key << 52 & _MASK64)
    b = k0.to_bytes(8, "little")
    g = _GATHER
    packed = (
        g[0][b[0]]
        | g[1][b[1]]
        | g[2][b[2]]
        | g[3][b[3]]
        | g[4][b[4]]
        | g[5][b[5]]
        | g[6][b[6]]
        | g[7][b[7]]
    )
    selectors = []
    for r in range(ROUNDS):
        residue = (3 - r) % 4
        shift = (r - 3 + residue) // 4  # whole nibbles the selectors rotate by
        field = packed >> (16 * residue) & 0xFFFF
        selectors.append((field << shift | field >> (16 - shift)) & 0xFFFF if shift else field)
    return tuple(selectors)


class Sta:
    """The STA cipher keyed with one 64-bit decoder key.

    The encryption and decryption schedules are built on first use, so a
    cipher made only to encrypt never pays for the decryption schedule.
    """

    __slots__ = ("_decrypt_rounds", "_encrypt_rounds", "_key", "_tables")

    def __init__(self, key: bytes, tables: str = PRODUCTION.name) -> None:
        if len(key) != 8:
            raise FormatError(f"STA key has {len(key)} bytes; expected 8 (64 bits)")
        if tables not in TABLES:
            raise FormatError(
                f"STA tables {tables!r} are unknown; expected one of {sorted(TABLES)}"
            )
        self._key = key
        self._tables = tables
        self._encrypt_rounds: tuple[_RoundTables, ...] | None = None
        self._decrypt_rounds: tuple[_RoundTables, ...] | None = None

    def __repr__(self) -> str:
        return "Sta(<64-bit key>)"

    def encrypt_block(self, block: int) -> int:
        """Encrypt one 64-bit block (an int)."""
        rounds = self._encrypt_rounds
        if rounds is None:
            rounds = self._encrypt_rounds = _encrypt_schedule(self._key, self._tables)
        x = block
        for t0, t1, t2, t3, t4, t5, t6, t7 in rounds:
            b = x.to_bytes(8, "little")
            x = (
                t0[b[0]]
                | t1[b[1]]
                | t2[b[2]]
                | t3[b[3]]
                | t4[b[4]]
                | t5[b[5]]
                | t6[b[6]]
                | t7[b[7]]
            )
        return x

    def decrypt_block(self, block: int) -> int:
        """Decrypt one 64-bit block (an int)."""
        rounds = self._decrypt_rounds
        if rounds is None:
            rounds = self._decrypt_rounds = _decrypt_schedule(self._key, self._tables)
        x = block
        for t0, t1, t2, t3, t4, t5, t6, t7 in rounds:
            b = x.to_bytes(8, "little")
            x = (
                t0[b[0]]
                | t1[b[1]]
                | t2[b[2]]
                | t3[b[3]]
                | t4[b[4]]
                | t5[b[5]]
                | t6[b[6]]
                | t7[b[7]]
            )
        return x


_RoundTables = tuple[_ByteTable, ...]


def _tables_for(
    cache: dict[int, _RoundTables], tables: tuple[tuple[_ByteTable, ...], ...], selector: int
) -> _RoundTables:
    """The eight byte tables of one round with these selector bits (memoised)."""
    found = cache.get(selector)
    if found is None:
        found = tuple(tables[b][selector >> (2 * b) & 3] for b in range(8))
        cache[selector] = found
    return found


@lru_cache(maxsize=4096)
def _encrypt_schedule(key: bytes, tables: str) -> tuple[_RoundTables, ...]:
    """The byte tables of the 16 encryption rounds for one key."""
    ts = _table_set(tables)
    cache, round_tables = ts.encrypt_cache, ts.encrypt_round
    return tuple(
        _tables_for(cache, round_tables, m) for m in round_selectors(int.from_bytes(key, "big"))
    )


@lru_cache(maxsize=4096)
def _decrypt_schedule(key: bytes, tables: str) -> tuple[_RoundTables, ...]:
    """Decryption as 17 table rounds: the inverse permutation alone, then
    (inverse substitution of round r, inverse permutation) for r = 15..1,
    then the inverse substitution of round 0 alone."""
    ts = _table_set(tables)
    selectors = round_selectors(int.from_bytes(key, "big"))
    cache, round_tables = ts.decrypt_cache, ts.decrypt_round
    middle = tuple(_tables_for(cache, round_tables, m) for m in reversed(selectors[1:]))
    last = _tables_for(ts.last_cache, ts.decrypt_last, selectors[0])
    return (ts.initial_inverse_p_tables, *middle, last)
