"""Run Alembic migrations from code (``quorum migrate``, and ``quorum serve`` on SQLite).

The migrations ship inside the package (quorum/migrations) and the Alembic configuration
is built here, so an installed wheel migrates from any directory: no alembic.ini is read
at run time. The alembic.ini at the root of the repository points at the same directory,
for developers' ``alembic`` commands (``alembic revision --autogenerate``, ``downgrade``).
"""

from alembic import command
from alembic.config import Config

from quorum.settings import Settings

# A package resource, which Alembic resolves through importlib.resources: the directory
# of the installed ``quorum`` package, wherever that is and whatever the current directory.
SCRIPT_LOCATION = "quorum:migrations"
# The same names as alembic.ini gives new revisions (date first, so they sort in order).
FILE_TEMPLATE = "%(year)d_%(month).2d_%(day).2d_%(hour).2d%(minute).2d-%(rev)s_%(slug)s"


def config(url: str) -> Config:
    """Alembic's configuration for the database at ``url``, without any .ini file."""
    alembic_config = Config()
    alembic_config.set_main_option("script_location", SCRIPT_LOCATION)
    # Config values go through ConfigParser interpolation: a literal % is written %%.
    alembic_config.set_main_option("file_template", FILE_TEMPLATE.replace("%", "%%"))
    alembic_config.set_main_option("path_separator", "os")
    alembic_config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    alembic_config.attributes["configure_logger"] = False  # the caller's logging stays
    return alembic_config


def upgrade(settings: Settings, revision: str = "head") -> None:
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    command.upgrade(config(settings.db_url), revision)
