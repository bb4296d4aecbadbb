"""A host project as a user would write it: SQLite, admin, our app, one receiver app."""

import os
from pathlib import Path

import django

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-project-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "example.urls"
WSGI_APPLICATION = "example.wsgi.application"
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("EXAMPLE_DB", BASE_DIR / "db.sqlite3"),
        # Tests get a file too, not Django's shared in-memory database: receivers run after
        # the answer, so under a live server a dispatch and the next delivery overlap, and
        # an in-memory database's table locks fail at once where a file's wait (README,
        # "Testing your receivers").
        "TEST": {"NAME": str(BASE_DIR / "test-db.sqlite3")},
    }
}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_bw_notifications",
    "inventory",
    "receivers",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # The endpoint also at its URL without the trailing slash (Bandwidth does not follow redirects).
    "django_bw_notifications.middleware.EndpointWithoutSlashMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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

# The pair given to Bandwidth as the subscription's CallbackCredentials.
BW_NOTIFICATIONS_BASIC_AUTH = [
    (
        os.environ.get("BW_USERNAME", "bandwidth"),
        os.environ.get("BW_PASSWORD", "demo-password-change-me"),
    )
]

# Bandwidth's side (README, "Setting up Bandwidth"): set BW_ACCOUNT_ID, BW_API_USERNAME,
# BW_API_PASSWORD and BW_CALLBACK_URL, then run
#   python manage.py bw_notifications_subscriptions ensure --dry-run
# Without them the demo only receives.
if os.environ.get("BW_ACCOUNT_ID"):
    BW_NOTIFICATIONS_ACCOUNTS = {
        "default": {
            "ACCOUNT_ID": os.environ["BW_ACCOUNT_ID"],
            "API_USERNAME": os.environ.get("BW_API_USERNAME", ""),
            "API_PASSWORD": os.environ.get("BW_API_PASSWORD", ""),
            "CALLBACK_URL": os.environ.get("BW_CALLBACK_URL", ""),
            "EVENT_TYPES": ["MESSAGING_LOST"],
        }
    }

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "django_bw_notifications": {"handlers": ["console"], "level": "INFO"},
        "receivers": {"handlers": ["console"], "level": "INFO"},
        # Unexpected errors anywhere in the stack, with their tracebacks: Django's default
        # sends them only to mail_admins when DEBUG is off.
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}

# Alerts from the cookbook's receivers are printed, not sent. Django 6.1 configures email
# through MAILERS and refuses EMAIL_BACKEND beside it; older versions know only the latter.
if django.VERSION >= (6, 1):
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
