"""pycryptodome's ciphers, loaded on first use through its ctypes backend.

pycryptodome calls its compiled C code through cffi when cffi can be imported and
through ctypes otherwise; both call the same C functions with the same results.
cffi is installed here only because other packages need it, and its backend
parses the C declarations of each native module with pycparser when the module
is first loaded: about 50 ms of every ``sts vend`` (issue 8, start-up time), for
the two or three calls a command makes. So the first load of pycryptodome's
raw API in a process is made with cffi hidden; a process that loaded it already
(or loaded cffi for another package first) keeps the backend it has.

Loading is lazy: importing this module loads nothing native.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

_RAW_API = "Crypto.Util._raw_api"


def cipher(name: str) -> ModuleType:
    """The module ``Crypto.Cipher.<name>`` (``"AES"``, ``"DES"``), loaded on first use."""
    if _RAW_API not in sys.modules and "cffi" not in sys.modules:
        sys.modules["cffi"] = None  # type: ignore[assignment]  # import cffi -> ImportError
        try:
            importlib.import_module(_RAW_API)
        finally:
            del sys.modules["cffi"]
    return importlib.import_module(f"Crypto.Cipher.{name}")
