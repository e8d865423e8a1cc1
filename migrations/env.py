"""Alembic environment: runs the schema versions against the engine vending.db passes in.

``vending.db.upgrade`` puts its engine in ``config.attributes["engine"]``; run by hand
(``alembic -c migrations/alembic.ini upgrade head``) the URL comes from the ini file.
SQLite runs in batch mode so that later versions can alter tables.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

import vending.vendor_models  # noqa: F401  (the vendor tables, in Base.metadata)
from vending.db import make_engine
from vending.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine: Engine | None = config.attributes.get("engine")
    owned = engine is None
    if engine is None:
        engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            raw = connection.connection.driver_connection if sqlite else None
            if raw is not None:
                # Batch mode rebuilds a table (copy, drop, rename), and dropping a table
                # other tables refer to fails while foreign keys are enforced. SQLite takes
                # this setting only outside a transaction, so it is set here, and set back.
                raw.execute("PRAGMA foreign_keys=OFF")
            try:
                context.configure(
                    connection=connection,
                    target_metadata=target_metadata,
                    render_as_batch=sqlite,
                    compare_type=True,
                )
                with context.begin_transaction():
                    context.run_migrations()
            finally:
                if raw is not None:
                    raw.execute("PRAGMA foreign_keys=ON")
    finally:
        if owned:
            engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
