"""Settings for the test suite. The database comes from the environment:

``DB=sqlite`` (default) or ``DB=postgres`` with ``PGHOST``/``PGPORT``/``PGUSER``/
``DB_NAME`` (defaults 127.0.0.1, 5432, postgres, bw_notifications).
"""

import os
from importlib.util import find_spec
from typing import Any

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "tests.urls"
STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"  # the package must not care

DATABASES: dict[str, dict[str, Any]]
if os.environ.get("DB", "sqlite") == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ.get("DB_NAME", "bw_notifications"),
            "USER": os.environ.get("PGUSER", "postgres"),
            "HOST": os.environ.get("PGHOST", "127.0.0.1"),
            "PORT": os.environ.get("PGPORT", "5432"),
            "TEST": {"NAME": "test_" + os.environ.get("DB_NAME", "bw_notifications")},
            # Within half the time budget (check W009): an address that never answers
            # fails in time to spool.
            "OPTIONS": {"connect_timeout": 5},
        }
    }
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "rest_framework",
    "django_tasks_db",
    "django_bw_notifications",
]

# Django 6.0+ has django.tasks; 5.2 uses the django-tasks backport. Dispatch is inline
# unless a test says otherwise; the dummy backend records what task mode enqueues.
TASKS_PACKAGE = "django.tasks" if find_spec("django.tasks") else "django_tasks"
TASKS = {"default": {"BACKEND": f"{TASKS_PACKAGE}.backends.dummy.DummyBackend"}}

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # The endpoint also at its URL without the trailing slash (Bandwidth does not follow redirects).
    "django_bw_notifications.middleware.EndpointWithoutSlashMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

BW_NOTIFICATIONS_BASIC_AUTH = [("bandwidth", "correct-horse-battery-staple")]
