"""Start-up discipline: what a command loads before it does anything (issue 8, start-up time).

No test here measures a time (benchmarks/startup.py does). They pin down the
causes instead, each in a fresh interpreter: ``sts --help`` and the token
commands load no database, meter, conformance or native-cipher module; cipher
tables are built on first use, not at import; ``import sts`` resolves its
names on first access and still offers every one of them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import sts

ROOT = Path(__file__).resolve().parent.parent

#: Heavy packages (or parts of this project) no command may load unless it uses them.
HEAVY = (
    "sqlalchemy",
    "alembic",
    "mako",
    "vending",
    "psycopg",
    "textual",
    "fastapi",
    "pydantic",
    "starlette",
    "uvicorn",
    "cffi",
    "Crypto",
    "sts.meter",
    "sts.conformance",
    "platformdirs",
)


def _loaded_after(code: str) -> list[str]:
    """The HEAVY modules in sys.modules after running ``code`` in a fresh interpreter."""
    probe = (
        "import json, sys\n"
        f"{code}\n"
        f"heavy = {HEAVY!r}\n"
        "found = sorted({h for h in heavy for m in sys.modules if m == h or "
        "m.startswith(h + '.')})\n"
        "print(json.dumps(found))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _run_cli(*args: str) -> str:
    """Python code that runs `sts ARGS` in-process the way the console script does."""
    return (
        "import contextlib, io\n"
        "from cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    try: main({list(args)!r})\n"
        "    except SystemExit as exit: assert exit.code in (0, None), exit.code\n"
    )


def test_sts_help_loads_nothing_heavy() -> None:
    assert _loaded_after(_run_cli("--help")) == []


def test_sts_help_makes_no_rich_console() -> None:
    # click prints the help; rich.console is loaded by the first command that renders.
    code = _run_cli("--help") + "assert 'rich.console' not in sys.modules\n"
    assert _loaded_after(code) == []


#: A vend on SQLite loads the database core (vending.tables) and the ledger, and nothing of
#: the ORM, another dialect, the vendor tables, the HTTP service, Alembic or cffi (issue 8:
#: each of these was loaded by `sts vend credit` and cost it start-up time).
NOT_ON_A_VEND = (
    "sqlalchemy.orm",
    "sqlalchemy.ext",
    "vending.models",
    "vending.registry",
    "alembic",
    "mako",
    "fastapi",
    "pydantic",
    "uvicorn",
    "starlette",
    "httpx",
    "textual",
    "cffi",
    "pycparser",
    "platformdirs",
    "psycopg",
    "sqlalchemy.dialects.postgresql",
    "vending.vendor_models",
    "vending.vendors",
    "vending.api",
    "sts.meter",
    "sts.conformance",
)


def test_a_vend_on_sqlite_loads_only_what_it_uses(tmp_path: Path) -> None:
    import random

    from conftest import TEST_MASTER_KEY, Clock

    from sts.crypto.keys import VendingKey
    from vending import registry
    from vending.backend import Backend
    from vending.db import open_database

    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    backend = Backend.open(open_database(url), TEST_MASTER_KEY, Clock(), random.Random(8))
    try:
        key = VendingKey.from_hex("ABABABABABABABAB")
        registry.add_vending_key(backend, "k", key, 123456, krn=1, kt=2, base_date=2014)
        registry.add_meter(backend, "47500150231", 123456, krn=1, base_date=2014)
    finally:
        backend.close()
    vend = (
        "import os\n"
        f"os.environ['STS_DATABASE_URL'] = {url!r}\n"
        f"os.environ['STS_MASTER_KEY'] = {TEST_MASTER_KEY.secret_bytes().hex()!r}\n"
        "os.environ.pop('STS_MASTER_KEY_FILE', None)\n"
        + _run_cli("vend", "credit", "--meter", "47500150231", "--units", "1")
    )
    assert _loaded_after(vend) == ["Crypto", "sqlalchemy", "vending"]
    # ... and starts no other program (pycryptodome's ctypes backend would run `file`).
    probe = (
        "import json, subprocess, sys\n"
        "started = []\n"
        "popen = subprocess.Popen.__init__\n"
        "def spy(self, *args, **kwargs):\n"
        "    started.append(repr(args[:1]))\n"
        "    popen(self, *args, **kwargs)\n"
        "subprocess.Popen.__init__ = spy\n"
        + vend
        + f"print(json.dumps(sorted({{h for h in {NOT_ON_A_VEND!r} for m in sys.modules "
        "if m == h or m.startswith(h + '.')}) + started))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


@pytest.mark.parametrize(
    "args",
    [
        ("token", "encode", "credit", "--kwh", "1", "--dk", "E653341F9D5BF36F", "--tid", "1"),
        ("token", "decode", "5090", "1894", "2098", "6026", "3092", "--dk", "E653341F9D5BF36F"),
        ("vend", "--help"),
        ("meter", "--help"),
    ],
    ids=["token encode", "token decode", "vend --help", "meter --help"],
)
def test_token_commands_and_group_help_load_nothing_heavy(args: tuple[str, ...]) -> None:
    assert _loaded_after(_run_cli(*args)) == []


def test_a_key_derivation_loads_the_des_library_it_needs() -> None:
    code = _run_cli(
        "key", "derive", "--dkga", "02", "--vk", "ABABABABABABABAB", "--pan",
        "600727000000000009", "--sgc", "123456", "--kt", "2", "--ti", "1", "--krn", "1",
    )  # fmt: skip
    assert _loaded_after(code) == ["Crypto"]


def test_cipher_tables_are_built_on_first_use_not_at_import() -> None:
    code = (
        "import sts.codec\n"
        "from sts.crypto import misty1, sta\n"
        "built = lambda: (misty1._shared_fi_tables.cache_info().currsize,\n"
        "                 sta._table_set.cache_info().currsize)\n"
        "assert built() == (0, 0), built()\n"
        "key = sts.DecoderKey.from_hex('E653341F9D5BF36F')\n"
        "sts.codec.encode(sts.SetPowerLimit.for_watts(1000, tid=5910301, rnd=5), key)\n"
        "assert built() == (0, 1), built()\n"
        "assert 'decrypt_round' not in vars(sta._table_set('production')), 'decrypt built'\n"
        "misty1.Misty1(bytes(16))\n"
        "assert built() == (1, 1), built()\n"
    )
    assert _loaded_after(code) == []


def test_import_sts_is_lazy_and_offers_every_name_it_lists() -> None:
    assert _loaded_after("import sts") == []
    assert _loaded_after("import sts.errors, sts.tokens.tid") == []
    for name in sts.__all__:
        assert getattr(sts, name) is not None
    assert set(sts.__all__) <= set(dir(sts))
    with pytest.raises(AttributeError, match="no attribute 'Nonesuch'"):
        sts.Nonesuch  # noqa: B018


def test_import_sts_gives_the_same_objects_as_their_modules() -> None:
    from sts.codec import encode
    from sts.tokens import SetPowerLimit
    from sts.tokens.tid import BaseDate

    assert (sts.encode, sts.SetPowerLimit, sts.BaseDate) == (encode, SetPowerLimit, BaseDate)
    key = sts.DecoderKey.from_hex("E653341F9D5BF36F")
    # The public vector in the package docstring (STS 531-1-0-02, set power limit 1000 W).
    token = sts.SetPowerLimit.for_watts(1000, tid=5910301, rnd=5)
    assert sts.encode(token, key) == "50901894209860263092"
