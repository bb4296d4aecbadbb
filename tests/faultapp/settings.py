"""Settings for the example-like deployment the fault tests run under gunicorn.

The database is the test run's own (``FAULT_DB_NAME``); ``FAULT_DB_PORT`` can point it
at an address that never answers. The spool, the time budget and the connect timeout
come from the environment too, so each test deploys what it needs.
"""

import os

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES, INSTALLED_APPS

DATABASES["default"]["NAME"] = os.environ["FAULT_DB_NAME"]
DATABASES["default"]["PORT"] = os.environ.get("FAULT_DB_PORT", DATABASES["default"]["PORT"])
DATABASES["default"]["OPTIONS"] = {
    "connect_timeout": int(os.environ.get("FAULT_CONNECT_TIMEOUT", "2"))
}
DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("FAULT_CONN_MAX_AGE", "0"))
INSTALLED_APPS = [*INSTALLED_APPS, "tests.faultapp"]
BW_NOTIFICATIONS_TIME_BUDGET = float(os.environ.get("FAULT_TIME_BUDGET", "3"))
BW_NOTIFICATIONS_SPOOL_DIR = os.environ.get("FAULT_SPOOL_DIR") or None
# What a Prometheus scrape job presents (tests/deployment/test_faults.py scrapes).
BW_NOTIFICATIONS_METRICS_BASIC_AUTH = [("prometheus", "scrape-password-for-the-faults")]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["stderr"], "level": "INFO"},
}
