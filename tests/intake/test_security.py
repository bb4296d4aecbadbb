"""Security posture: IP allow-list, trusted proxy header, Authorization diagnostics, no cap."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from django_bw_notifications import views
from django_bw_notifications.intake.addresses import client_address
from django_bw_notifications.models import Notification
from tests.support import payload

pytestmark = pytest.mark.django_db


def test_allow_list_refuses_other_addresses_before_anything_else(
    post: Any, settings: Any, caplog: Any
) -> None:
    settings.BW_NOTIFICATIONS_ALLOWED_IPS = ["203.0.113.0/24", "2001:db8::/32"]
    with caplog.at_level(logging.WARNING):
        response = post(payload("01"), auth=None)
    assert response.status_code == 403
    assert "WWW-Authenticate" not in response
    assert "127.0.0.1 is not in BW_NOTIFICATIONS_ALLOWED_IPS" in caplog.text
    assert post(payload("01"), REMOTE_ADDR="203.0.113.9").status_code == 200
    assert post(payload("02"), REMOTE_ADDR="2001:db8::1").status_code == 200
    assert Notification.objects.count() == 2


def test_forwarded_headers_are_ignored_unless_configured(post: Any, settings: Any) -> None:
    settings.BW_NOTIFICATIONS_ALLOWED_IPS = ["203.0.113.0/24"]
    assert post(payload("01"), HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 403


def test_trusted_proxy_header_gives_the_client_address(post: Any, settings: Any) -> None:
    settings.BW_NOTIFICATIONS_ALLOWED_IPS = ["203.0.113.0/24"]
    settings.BW_NOTIFICATIONS_CLIENT_IP_HEADER = "X-Forwarded-For"
    # A client may send its own X-Forwarded-For; the proxy appends the real address.
    assert post(payload("01"), HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.9").status_code == 200
    assert Notification.objects.get().remote_addr == "203.0.113.9"
    assert post(payload("02"), HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.1").status_code == 403
    assert post(payload("03")).status_code == 403  # header missing: not through the proxy
    settings.BW_NOTIFICATIONS_TRUSTED_PROXY_COUNT = 2
    assert post(payload("04"), HTTP_X_FORWARDED_FOR="203.0.113.5, 10.0.0.2").status_code == 200


@pytest.mark.parametrize("value", ["", "unix:/run/gunicorn.sock", "999.1.1.1", "b''"])
def test_a_remote_address_that_is_not_an_ip_is_stored_as_none(value: str) -> None:
    assert client_address({"REMOTE_ADDR": value}) is None


def test_stripped_authorization_is_diagnosed_once(post: Any, monkeypatch: Any, caplog: Any) -> None:
    monkeypatch.setattr(views, "_authorization_watch", views._AuthorizationWatch())
    with caplog.at_level(logging.WARNING, logger="django_bw_notifications"):
        for _ in range(5):
            assert post(payload("01"), auth=None).status_code == 401
    warnings = [r for r in caplog.records if "WSGIPassAuthorization" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING


def test_no_diagnosis_once_credentials_have_arrived(
    post: Any, monkeypatch: Any, caplog: Any
) -> None:
    monkeypatch.setattr(views, "_authorization_watch", views._AuthorizationWatch())
    with caplog.at_level(logging.WARNING, logger="django_bw_notifications"):
        post(payload("01"), auth=None)
        post(payload("01"))
        for _ in range(5):
            post(payload("02"), auth=None)
    assert "WSGIPassAuthorization" not in caplog.text


def test_without_a_cap_large_bodies_are_read(post: Any, settings: Any) -> None:
    settings.BW_NOTIFICATIONS_MAX_BODY_SIZE = None
    numbers = "".join(f"<TelephoneNumber>+1919{i:07d}</TelephoneNumber>" for i in range(40_000))
    body = f"<Notification><OrderType>orders</OrderType><CompletedTelephoneNumbers>{numbers}</CompletedTelephoneNumbers></Notification>"
    assert len(body) > 1024 * 1024
    assert post(body.encode()).status_code == 200


def test_every_delivery_logs_one_structured_line(post: Any, caplog: Any) -> None:
    with caplog.at_level(logging.INFO, logger="django_bw_notifications"):
        post(payload("01"))
    [record] = [r for r in caplog.records if r.getMessage().startswith("Notification ")]
    assert record.levelno == logging.INFO
    assert record.outcome == "stored"
    assert record.order_type == "orders"
    assert record.notification_id == Notification.objects.get().pk
    assert isinstance(record.duration_ms, float)
