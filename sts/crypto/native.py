"""pycryptodome's ciphers, loaded on first use through its ctypes backend.

pycryptodome calls its compiled C code through cffi when cffi can be imported and
through ctypes otherwise; both call the same C functions with the same results.
cffi is installed here only because other packages need it, and its backend
parses the C declarations of each native module with pycparser when the module
is first loaded: about 50 ms of every ``sts vend`` (issue 8, start-up time), for
the two or three calls a command makes. So the first load of pycryptodome's
raw API in a process is made with cffi hidden; a process that loaded it already
(or loaded cffi for another package first) keeps the backend it has.

The ctypes backend asks :func:`platform.architecture` whether the platform is
Windows before it loads a library, which runs the ``file`` command in a
subprocess (10-20 ms). On a POSIX system the answer is known ("ELF"), so it is
put in the backend's cache first when that cache is there and still empty.

Loading is lazy: importing this module loads nothing native.
"""

from __future__ import annotations

import importlib
import os
import struct
import sys
from types import ModuleType

_RAW_API = "Crypto.Util._raw_api"


def _known_architecture(raw_api: ModuleType) -> None:
    cache = getattr(raw_api, "cached_architecture", None)
    if os.name == "posix" and sys.platform != "cygwin" and isinstance(cache, list) and not cache:
        cache[:] = [f"{struct.calcsize('P') * 8}bit", "ELF"]


def cipher(name: str) -> ModuleType:
    """The module ``Crypto.Cipher.<name>`` (``"AES"``, ``"DES"``), loaded on first use."""
    if _RAW_API not in sys.modules and "cffi" not in sys.modules:
        sys.modules["cffi"] = None  # type: ignore[assignment]  # import cffi -> ImportError
        try:
            _known_architecture(importlib.import_module(_RAW_API))
        finally:
            del sys.modules["cffi"]
    return importlib.import_module(f"Crypto.Cipher.{name}")
