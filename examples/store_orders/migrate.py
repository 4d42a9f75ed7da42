"""The example's migrations, run from code: its own script directory and its own version
table, so that it can share a database with Quorum (whose is ``alembic_version``) or not."""

from pathlib import Path

from alembic import command
from alembic.config import Config

from examples.store_orders.models import metadata
from examples.store_orders.settings import load_settings

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "store_orders_alembic_version"


def only_ours(name: str | None, type_: str, parent_names: object) -> bool:
    """Autogenerate looks at the example's tables only, never at Quorum's beside them."""
    return type_ != "table" or name in metadata.tables


def config(url: str) -> Config:
    alembic_config = Config()
    alembic_config.set_main_option("script_location", str(MIGRATIONS))
    alembic_config.set_main_option("path_separator", "os")
    alembic_config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return alembic_config


def upgrade() -> None:
    settings = load_settings()
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    command.upgrade(config(settings.db_url), "head")
