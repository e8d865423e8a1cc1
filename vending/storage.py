"""The one place vending transactions begin, and where database errors become sentences.

Every public vending function opens its transaction through :func:`write`,
:func:`connect` or :func:`read` instead of the session makers directly, so
that nothing from SQLAlchemy or the driver reaches a caller:

- a lock that could not be had in time, a lost connection or any other
  operational failure is a :class:`~vending.errors.StorageError` that says
  nothing was written;
- a unique constraint that a concurrent writer got to first is a
  :class:`ConcurrentWriteError` (a :class:`~vending.errors.ConflictError`),
  which the vend retries once;
- a project error raised while SQLAlchemy converted a value (an amount finer
  than the column's scale) comes out as itself, not wrapped;
- anything else the database refused is a StorageError naming the driver's
  first line of complaint.

The transaction is rolled back before the error leaves, so a refusal never
leaves anything half-written.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError, StatementError

from sts.errors import StsError
from vending.errors import ConflictError, StorageError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from vending.backend import Backend


class ConcurrentWriteError(ConflictError):
    """A unique row was written by a concurrent transaction first; trying again may succeed."""


def _reason(exc: SQLAlchemyError) -> str:
    orig = exc.orig if isinstance(exc, DBAPIError) else None
    text = str(orig if orig is not None else exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return first[:200]


@contextmanager
def storage_errors() -> Iterator[None]:
    """Turn SQLAlchemy's and the driver's exceptions into the project's own."""
    try:
        yield
    except IntegrityError as exc:
        raise ConcurrentWriteError(
            f"the database refused the write because a concurrent one got there first "
            f"({_reason(exc)}); nothing was written, try again"
        ) from None
    except StatementError as exc:
        if isinstance(exc.orig, StsError):
            raise exc.orig from None
        if isinstance(exc, DBAPIError) and not exc.connection_invalidated and _is_data(exc):
            raise StorageError(
                f"the database refused a value ({_reason(exc)}); nothing was written"
            ) from None
        raise StorageError(
            f"the database failed or is busy ({_reason(exc)}); nothing was written, try again"
        ) from None
    except SQLAlchemyError as exc:
        raise StorageError(
            f"the database failed ({_reason(exc)}); nothing was written, try again"
        ) from None


def _is_data(exc: DBAPIError) -> bool:
    return type(exc).__name__ in ("DataError", "ProgrammingError")


@contextmanager
def write(backend: Backend) -> Iterator[Session]:
    """A write session in one transaction, committed at the end of the block."""
    with storage_errors(), backend.sessions.begin() as session:
        yield session


@contextmanager
def connect(backend: Backend) -> Iterator[Connection]:
    """A write connection in one transaction (the vend's hot path), committed at the end."""
    with storage_errors(), backend.engine.begin() as connection:
        yield connection


@contextmanager
def read(backend: Backend) -> Iterator[Session]:
    """A read session."""
    with storage_errors(), backend.read_sessions() as session:
        yield session
