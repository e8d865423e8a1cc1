"""The key store (vending.keystore): sealing vending keys and keeping the master key safe.

Ciphertexts are checked against the AES-GCM test cases of McGrew and Viega,
"The Galois/Counter Mode of Operation" (test cases 14 and 15, 256-bit keys):
GCM encrypts in counter mode, so the first bytes of a published ciphertext are
the ciphertext of the first bytes of its plaintext.
"""

from __future__ import annotations

import os
import pickle
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from sts.crypto.keys import VendingKey
from vending.errors import KeyStoreError
from vending.keystore import (
    MasterKey,
    associated_data,
    create_key_file,
    load_master_key,
    open_sealed,
    seal,
)

# GCM test case 15: key, IV and plaintext; ciphertext starts 522dc1f0 99567d07 ...
TC15_KEY = bytes.fromhex("feffe9928665731c6d6a8f9467308308" * 2)
TC15_IV = bytes.fromhex("cafebabefacedbaddecaf888")
TC15_PLAIN_20 = bytes.fromhex("d9313225f88406e5a55909c5aff5269a86a7a953")
TC15_CIPHER_20 = bytes.fromhex("522dc1f099567d07f47f37a32a84427d643a8cdc")
# GCM test case 14: all-zero key, IV and plaintext; ciphertext starts cea7403d 4d606b6e.
TC14_CIPHER_8 = bytes.fromhex("cea7403d4d606b6e")

MASTER = MasterKey(bytes(range(32)))
OTHER_MASTER = MasterKey(bytes(range(1, 33)))
DKGA02_KEY = VendingKey.from_hex("0123456789ABCDEF")
DKGA04_KEY = VendingKey(TC15_PLAIN_20)
RECORD = associated_data("demo key", 123456, 1)


def fixed(value: bytes) -> Callable[[int], bytes]:
    """A randomness source that always gives ``value``."""

    def randbytes(n: int) -> bytes:
        assert n == len(value)
        return value

    return randbytes


# --- sealing ----------------------------------------------------------------------


def test_seal_layout_is_nonce_ciphertext_tag_for_a_160_bit_key() -> None:
    blob = seal(MasterKey(TC15_KEY), DKGA04_KEY, b"", randbytes=fixed(TC15_IV))
    assert len(blob) == 12 + 20 + 16
    assert blob[:12] == TC15_IV
    assert blob[12:32] == TC15_CIPHER_20


def test_seal_layout_for_a_64_bit_key() -> None:
    blob = seal(MasterKey(bytes(32)), VendingKey(bytes(8)), b"", randbytes=fixed(bytes(12)))
    assert len(blob) == 12 + 8 + 16
    assert blob[12:20] == TC14_CIPHER_8


@pytest.mark.parametrize("key", [DKGA02_KEY, DKGA04_KEY])
def test_round_trip(key: VendingKey) -> None:
    blob = seal(MASTER, key, RECORD)
    assert open_sealed(MASTER, blob, RECORD) == key


def test_each_seal_uses_a_fresh_nonce() -> None:
    assert seal(MASTER, DKGA02_KEY, RECORD) != seal(MASTER, DKGA02_KEY, RECORD)


def test_wrong_master_key_is_refused() -> None:
    blob = seal(MASTER, DKGA02_KEY, RECORD)
    with pytest.raises(KeyStoreError, match="does not open under master key") as caught:
        open_sealed(OTHER_MASTER, blob, RECORD)
    assert OTHER_MASTER.fingerprint in str(caught.value)


@pytest.mark.parametrize("position", [0, 11, 12, 19, 20, 35])  # nonce, ciphertext, tag
def test_tampered_blob_is_refused(position: int) -> None:
    blob = bytearray(seal(MASTER, DKGA02_KEY, RECORD))
    blob[position] ^= 0x01
    with pytest.raises(KeyStoreError, match="the master key is wrong or the record was altered"):
        open_sealed(MASTER, bytes(blob), RECORD)


def test_blob_moved_to_another_record_is_refused() -> None:
    blob = seal(MASTER, DKGA02_KEY, associated_data("demo key", 123456, 1))
    with pytest.raises(KeyStoreError):
        open_sealed(MASTER, blob, associated_data("demo key", 123456, 2))


@pytest.mark.parametrize("size", [0, 35, 37, 47, 49])
def test_blob_of_the_wrong_size_is_refused(size: int) -> None:
    with pytest.raises(KeyStoreError, match=f"sealed key has {size} bytes; expected 36 or 48"):
        open_sealed(MASTER, bytes(size), RECORD)


def test_associated_data_separates_fields() -> None:
    assert associated_data("ab", "c") != associated_data("a", "bc")
    assert associated_data(1, 23) != associated_data(12, 3)
    assert associated_data("x", 1) == associated_data("x", "1")


# --- the master key -------------------------------------------------------------------

SECRET_HEX = bytes(range(32)).hex()


def test_repr_and_str_hide_the_bytes() -> None:
    for text in (repr(MASTER), str(MASTER), f"{MASTER}"):
        assert SECRET_HEX not in text.lower()
        assert text.startswith("MasterKey(<256-bit key, fingerprint ")
    with pytest.raises(TypeError):
        pickle.dumps(MASTER)


def test_master_key_must_be_256_bits() -> None:
    with pytest.raises(KeyStoreError, match="master key has 16 bytes; expected 32 bytes"):
        MasterKey(bytes(16))


def test_from_env() -> None:
    assert MasterKey.from_env({"STS_MASTER_KEY": SECRET_HEX}) == MASTER
    assert MasterKey.from_env({"MY_KEY": SECRET_HEX.upper()}, name="MY_KEY") == MASTER


def test_from_env_refusals_do_not_echo_the_value() -> None:
    with pytest.raises(KeyStoreError, match="STS_MASTER_KEY is not set"):
        MasterKey.from_env({})
    short = SECRET_HEX[:40]
    with pytest.raises(KeyStoreError, match="has 40 hex digits; expected 64") as caught:
        MasterKey.from_env({"STS_MASTER_KEY": short})
    assert short not in str(caught.value)
    with pytest.raises(KeyStoreError, match="is not hexadecimal"):
        MasterKey.from_env({"STS_MASTER_KEY": "zz" * 32})


def test_create_key_file_writes_owner_only_hex(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "master.key"
    key = create_key_file(path, randbytes=fixed(bytes(range(32))))
    assert key == MASTER
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0
    assert path.read_text("ascii") == SECRET_HEX.upper() + "\n"
    assert MasterKey.from_file(path) == MASTER


def test_create_key_file_ignores_a_lax_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        create_key_file(tmp_path / "master.key")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "master.key").stat().st_mode) == 0o600


def test_create_key_file_never_replaces_a_key(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    first = create_key_file(path)
    with pytest.raises(KeyStoreError, match="already exists; refusing to replace it"):
        create_key_file(path)
    assert MasterKey.from_file(path) == first


def test_key_file_of_raw_bytes(tmp_path: Path) -> None:
    path = tmp_path / "raw.key"
    path.write_bytes(bytes(range(32)))
    path.chmod(0o600)
    assert MasterKey.from_file(path) == MASTER


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_key_file_open_to_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "master.key"
    path.write_text(SECRET_HEX + "\n", "ascii")
    path.chmod(mode)
    with pytest.raises(KeyStoreError, match=f"master key file {path} has mode {mode:04o}"):
        MasterKey.from_file(path)


def test_missing_key_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.key"
    with pytest.raises(KeyStoreError, match=f"master key file {path} does not exist"):
        MasterKey.from_file(path)


def test_key_file_with_garbage(tmp_path: Path) -> None:
    path = tmp_path / "bad.key"
    path.write_text("not a key\n", "ascii")
    path.chmod(0o600)
    with pytest.raises(KeyStoreError, match=f"master key file {path} .* is not hexadecimal"):
        MasterKey.from_file(path)


def test_load_prefers_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    create_key_file(path, randbytes=fixed(bytes(range(1, 33))))
    assert load_master_key({"STS_MASTER_KEY": SECRET_HEX}, path) == MASTER
    assert load_master_key({}, path) == OTHER_MASTER
    with pytest.raises(KeyStoreError, match="no master key: set STS_MASTER_KEY"):
        load_master_key({}, None)


def test_sealed_keys_survive_a_reload_of_the_master_key(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    blob = seal(create_key_file(path), DKGA04_KEY, RECORD)
    assert open_sealed(MasterKey.from_file(path), blob, RECORD) == DKGA04_KEY
