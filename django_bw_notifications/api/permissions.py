"""Who may read and who may replay, as configured in settings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.utils.module_loading import import_string
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from ..conf import app_settings


class CanView(BasePermission):
    """A staff user who holds ``bw_notifications.view_notification`` (as in the admin)."""

    message = "Reading needs a staff user with the bw_notifications.view_notification permission."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        # As the admin's has_view_permission: view, or change (which implies it).
        return bool(
            user
            and user.is_active
            and user.is_staff
            and (
                user.has_perm("bw_notifications.view_notification")
                or user.has_perm("bw_notifications.change_notification")
            )
        )


class CanReplay(BasePermission):
    """The user holds ``bw_notifications.replay_notification`` (as in the admin)."""

    message = "Replaying needs the bw_notifications.replay_notification permission."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.has_perm("bw_notifications.replay_notification"))


def read_permissions() -> list[BasePermission]:
    """Instances of ``BW_NOTIFICATIONS_API_PERMISSION_CLASSES``."""
    return _instances(app_settings.API_PERMISSION_CLASSES)


def replay_permissions() -> list[BasePermission]:
    """Read permissions plus ``BW_NOTIFICATIONS_API_REPLAY_PERMISSION_CLASSES``: replaying
    needs both, as in the admin (view and replay)."""
    return [*read_permissions(), *_instances(app_settings.API_REPLAY_PERMISSION_CLASSES)]


def _instances(paths: Sequence[str | type[BasePermission]]) -> list[BasePermission]:
    return [(import_string(path) if isinstance(path, str) else path)() for path in paths]
