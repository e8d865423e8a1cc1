"""How many requests one worker of the vending API runs at once (``sts serve --threads``).

Kept apart from :mod:`vending.api` so that the CLI can show the default without
importing FastAPI.

Sync routes run on a thread pool, one request a thread, each on its own database
connection. Measured with ``benchmarks/api.py`` on PostgreSQL with 4 workers on a
2-core machine: with anyio's default of 40 threads a worker's requests queued
for Python's GIL while one of them held the ledger head's lock, and the server
sold 220-250 purchases/s; with 1 to 4 threads, 290-400/s, 3 the best of them.
"""

DEFAULT_THREADS = 3
MAX_THREADS = 64
