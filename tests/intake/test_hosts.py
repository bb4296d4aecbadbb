"""The endpoint behaves the same in strict host projects."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from django_bw_notifications import signals
from django_bw_notifications.models import Notification, ProcessingState
from django_bw_notifications.views import webhook
from tests.support import payload

pytestmark = pytest.mark.django_db


def test_login_required_middleware_does_not_guard_the_endpoint(
    client: Any, post: Any, settings: Any
) -> None:
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE,
        "django.contrib.auth.middleware.LoginRequiredMiddleware",
    ]
    assert client.get("/admin/").status_code == 302  # the middleware is active
    assert post(payload("01")).status_code == 200
    assert post(payload("02"), auth=None).status_code == 401  # our challenge, not a redirect


def test_restrictive_rest_framework_defaults_do_not_apply(post: Any, settings: Any) -> None:
    settings.REST_FRAMEWORK = {
        "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
        "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
        "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
        "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    }
    response = post(payload("01"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")


def test_use_tz_off_stores_naive_utc_dates(post: Any, settings: Any) -> None:
    settings.USE_TZ = False
    assert post(payload("16")).status_code == 200
    notification = Notification.objects.get()
    assert notification.last_modified_date == datetime(2023, 9, 12, 15, 11, 31, 705000)
    assert notification.actual_foc_date == datetime(2023, 9, 12)


def test_the_view_opts_out_of_atomic_requests_on_every_database() -> None:
    assert set(webhook._non_atomic_requests) >= {"default"}  # type: ignore[attr-defined]


@pytest.mark.django_db(transaction=True)
def test_under_atomic_requests_receivers_run_after_our_commit(
    post: Any, monkeypatch: Any, connect: Any
) -> None:
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)
    depth: list[tuple[int, int]] = []

    def receiver(**kwargs: Any) -> None:
        # The dispatch's transaction and the receiver's savepoint, nothing of the
        # request's: the notification was committed before the receivers ran.
        depth.append((len(connection.atomic_blocks), len(connection.savepoint_ids)))
        raise RuntimeError("receiver failed")

    connect(signals.notification_received, receiver)
    assert post(payload("01")).status_code == 200
    assert depth == [(1, 1)]
    notification = Notification.objects.get()
    assert notification.processing_state == ProcessingState.FAILED


@pytest.mark.django_db(transaction=True)
def test_under_atomic_requests_a_receiver_closing_the_connection_loses_nothing(
    post: Any, monkeypatch: Any, connect: Any
) -> None:
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)
    connect(signals.notification_received, lambda **kwargs: connection.close())
    assert post(payload("01")).status_code == 200
    assert Notification.objects.filter(order_id="a8ef295b-fcf4-44a7-945c-0520c8f49123").exists()


@pytest.mark.parametrize(
    "auto_field", ["django.db.models.AutoField", "django.db.models.BigAutoField"]
)
def test_migrations_are_complete_whatever_the_hosts_default_auto_field(auto_field: str) -> None:
    with override_settings(DEFAULT_AUTO_FIELD=auto_field):
        call_command("makemigrations", "bw_notifications", check=True, dry_run=True, verbosity=0)
