"""Settings for the admin benchmark: the test settings on a persistent database.

PostgreSQL by default (``BENCH_DB_NAME``, default ``bw_admin_bench``, created if
missing); ``BENCH_DB=sqlite`` uses ``bench/admin_bench.sqlite3`` instead.
"""

import os
from pathlib import Path

from tests.settings import *  # noqa: F403

DEBUG = False
if os.environ.get("BENCH_DB", "postgres") == "sqlite":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(Path(__file__).with_name("admin_bench.sqlite3")),
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ.get("BENCH_DB_NAME", "bw_admin_bench"),
            "USER": os.environ.get("PGUSER", "postgres"),
            "HOST": os.environ.get("PGHOST", "127.0.0.1"),
            "PORT": os.environ.get("PGPORT", "5432"),
        }
    }
