"""How cli.py prints: a lazily made rich Console, and a view's output as printable parts.

A view builds :class:`Part` objects (a renderable and the options of the one
``console.print`` call that shows it) and returns them; cli.py prints them in order.
Keeping the options with the renderable keeps the output exactly as when each view
printed for itself (e.g. ``highlight=False`` on lines of free text).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


class LazyConsole:
    """A rich Console made on first use: loading rich.console costs `sts --help` (which
    prints through click) a tenth of its start-up. Attributes are the Console's."""

    def __init__(self, stderr: bool = False) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    def get(self) -> Console:
        """The Console itself, for rich objects that take one (Progress)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=self._stderr)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.get(), name)


@dataclass(frozen=True)
class Part:
    """One ``console.print`` call: a renderable (or markup text) and its print options."""

    renderable: Any
    highlight: bool | None = None
    soft_wrap: bool | None = None


def rule(title: str) -> Part:
    """A horizontal rule with a title, as ``console.rule(title)`` draws it."""
    from rich.rule import Rule

    return Part(Rule(title))


def json_text(data: Any) -> str:
    """Machine output: one JSON document (what ``--json`` prints on stdout)."""
    return json.dumps(data, indent=2, default=str)
