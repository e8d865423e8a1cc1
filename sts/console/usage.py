"""Errors as the `sts` command shows them: one sentence, one line.

:func:`refusals` turns the library's errors into a ClickException (exit 1);
:func:`one_line_usage` makes every usage error below the `sts` group one bounded
line (exit 2), as the README promises, instead of click's Usage/Try lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from sts.errors import StsError


@contextmanager
def refusals() -> Iterator[None]:
    """Turn the library's errors into a one-sentence ClickException (exit 1)."""
    try:
        yield
    except StsError as exc:
        raise click.ClickException(str(exc)) from exc


class OneLineUsageError(click.UsageError):
    """A usage error shown as the one sentence the README promises (no Usage/Try lines)."""

    def show(self, file: Any = None) -> None:
        click.echo(f"Error: {self.format_message()}", file=file, err=file is None)


_MAX_MESSAGE = 500
_LONG_QUOTED = re.compile(r"'([^']{41,})'")


def one_line_message(message: str) -> str:
    """An error message as one bounded line: long quoted input cut short (click quotes
    the value it refuses whole), control characters escaped, no line breaks."""
    from sts.errors import shown

    text = _LONG_QUOTED.sub(lambda m: shown(m.group(1)), message)
    text = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text.replace("\n", " "))
    return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE] + "..."


@contextmanager
def one_line_usage() -> Iterator[None]:
    """Usage errors raised inside become :class:`OneLineUsageError`; other click errors
    keep their kind with the message made one line."""
    no_args_help = getattr(click.exceptions, "NoArgsIsHelpError", ())
    try:
        yield
    except click.UsageError as exc:
        if isinstance(exc, OneLineUsageError | no_args_help):
            raise
        raise OneLineUsageError(one_line_message(exc.format_message()), exc.ctx) from exc
    except click.ClickException as exc:
        exc.message = one_line_message(exc.message)
        raise


class OneLineGroup(click.Group):
    """The `sts` group: usage errors anywhere below it print one line and exit 2."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        with one_line_usage():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        with one_line_usage():
            return super().invoke(ctx)
