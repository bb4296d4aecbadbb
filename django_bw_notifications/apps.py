"""App configuration: label, pinned primary key type, system checks."""

from __future__ import annotations

from django.apps import AppConfig


class BwNotificationsConfig(AppConfig):
    """``django_bw_notifications``: store Bandwidth notifications and signal them."""

    name = "django_bw_notifications"
    #: Names the tables (``bw_notifications_notification``); fixed for good.
    label = "bw_notifications"
    verbose_name = "Bandwidth notifications"
    # Pinned so a host's DEFAULT_AUTO_FIELD (whose default changed in Django 6.0) never
    # makes Django want a migration inside this package.
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the checks)
