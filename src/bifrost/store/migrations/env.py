"""Alembic environment: runs on the URL given by bifrost.store.migrate, SQLite or PostgreSQL."""

from alembic import context
from sqlalchemy import create_engine

from bifrost.store.models import Base

url = context.config.get_main_option("sqlalchemy.url")
connectable = context.config.attributes.get("connection") or create_engine(url)


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


if hasattr(connectable, "connect"):
    with connectable.connect() as conn:
        _run(conn)
else:
    _run(connectable)
