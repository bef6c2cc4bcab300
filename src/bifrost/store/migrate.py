"""Run Alembic migrations programmatically, so `bifrost init` needs no alembic.ini on disk."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine
from sqlalchemy.engine import URL

from bifrost.settings import Settings
from bifrost.store.db import database_url

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: URL) -> Config:
    """Alembic config for this project, also for new revisions (`command.revision`)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option(
        "sqlalchemy.url", url.render_as_string(hide_password=False).replace("%", "%%")
    )
    return config


def upgrade(settings: Settings) -> None:
    """Bring the schema to the newest revision; a no-op when it is already there."""
    url = database_url(settings, asynchronous=False)
    config = alembic_config(url)
    if url.get_backend_name() == "sqlite":
        Path(url.database or "").parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    finally:
        engine.dispose()
