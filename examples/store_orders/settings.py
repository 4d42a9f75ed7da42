"""The example's configuration is the core's (``quorum.settings.Settings``, read from
``QUORUM_*`` variables: database, Redis, heartbeat, poll interval), with its own default
database: ``data/store_orders.db`` rather than Quorum's."""

import os

from quorum.settings import Settings

UNUSED_SECRET = "store-orders-signs-nothing-" + "x" * 16  # the core needs none; Quorum does


def load_settings() -> Settings:
    settings = Settings(secret_key=os.environ.get("QUORUM_SECRET_KEY") or UNUSED_SECRET)
    if not os.environ.get("QUORUM_DATABASE_URL"):
        settings.database_url = f"sqlite+aiosqlite:///{settings.data_dir / 'store_orders.db'}"
    return settings
