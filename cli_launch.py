"""The `sts` command's entry point: Ctrl-C while the CLI loads ends in one line, exit 130.

Loading :mod:`cli` (click, rich, the token engine) takes a moment; a Ctrl-C
during it would otherwise print a KeyboardInterrupt traceback. Here it prints
one line on stderr and exits 130 (128 + SIGINT), as shells expect. Once a
command runs, click handles Ctrl-C itself ("Aborted!", exit 1), and a sale
being recorded finishes first (see ``cli._finish_once_started``).
"""

from __future__ import annotations

import sys

INTERRUPTED_EXIT = 130  # 128 + SIGINT


def _interrupted(when: str) -> SystemExit:
    sys.stderr.write(f"sts: interrupted{when}\n")
    return SystemExit(INTERRUPTED_EXIT)


def run() -> None:
    """Load the CLI and run it; a KeyboardInterrupt outside a command exits 130 quietly."""
    try:
        from cli import main
    except KeyboardInterrupt:
        raise _interrupted(" while starting") from None
    try:
        main()
    except KeyboardInterrupt:
        raise _interrupted("") from None
