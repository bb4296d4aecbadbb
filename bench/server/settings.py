"""The benchmark's Django project: our app beside three anchor endpoints (``anchors``).

``BENCH_DB=postgres`` (default; database ``BENCH_DB_NAME``, default ``bw_bench``) or
``BENCH_DB=sqlite`` (``bench/bench.sqlite3``, WAL). A typical middleware stack, DEBUG off,
persistent connections: the same for every endpoint.
"""

import os
from pathlib import Path

SECRET_KEY = "bench-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "bench.server.urls"
WSGI_APPLICATION = "bench.server.wsgi.application"
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if os.environ.get("BENCH_DB", "postgres") == "sqlite":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get(
                "BENCH_SQLITE", str(Path(__file__).resolve().parent.parent / "bench.sqlite3")
            ),
            "CONN_MAX_AGE": 60,
            # Two workers write at once: WAL, IMMEDIATE transactions, and a wait on locks.
            "OPTIONS": {
                "timeout": 30,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
            },
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ.get("BENCH_DB_NAME", "bw_bench"),
            "USER": os.environ.get("PGUSER", "postgres"),
            "HOST": os.environ.get("PGHOST", "127.0.0.1"),
            "PORT": os.environ.get("PGPORT", "5432"),
            "CONN_MAX_AGE": 60,
        }
    }

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django_bw_notifications",
    "bench.server.anchors",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

BENCH_USERNAME, BENCH_PASSWORD = "bandwidth", "bench-password-long-enough-1234"
BW_NOTIFICATIONS_BASIC_AUTH = [(BENCH_USERNAME, BENCH_PASSWORD)]
# The order book (on by default); BENCH_KEEP_STATE=0 runs the same endpoint without it,
# on a second server, to measure what it costs side by side.
BW_NOTIFICATIONS_KEEP_STATE = os.environ.get("BENCH_KEEP_STATE", "1") != "0"
# Bodies of 5,000 numbers are about 300 kB; the default 1 MiB cap is kept.

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"null": {"class": "logging.NullHandler"}},
    # The per-notification INFO line is formatted and dropped, as a quiet production would.
    "loggers": {
        "django_bw_notifications": {"handlers": ["null"], "level": "INFO", "propagate": False}
    },
}
