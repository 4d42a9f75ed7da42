"""Run Alembic migrations from code (``quorum migrate``, and ``quorum serve`` on SQLite)."""

from pathlib import Path

from alembic import command
from alembic.config import Config

from quorum.settings import Settings

ALEMBIC_INI = Path(__file__).resolve().parents[1] / "alembic.ini"


def upgrade(settings: Settings, revision: str = "head") -> None:
    config = Config(str(ALEMBIC_INI))
    config.cmd_opts = None
    config.attributes["configure_logger"] = False
    config.set_main_option("sqlalchemy.url", settings.db_url.replace("%", "%%"))
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    command.upgrade(config, revision)
