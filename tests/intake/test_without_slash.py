"""The endpoint's URL without its trailing slash reaches the same view (issue 24, item 6).

Bandwidth does not follow redirects and never sends again, so a subscription whose URL
lost its slash must not meet ``APPEND_SLASH``'s ``301`` (or, with ``DEBUG``, its ``500``).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import run_checks

from django_bw_notifications.middleware import EndpointWithoutSlashMiddleware
from django_bw_notifications.models import Notification
from tests.support import basic, payload

pytestmark = pytest.mark.django_db

MIDDLEWARE = "django_bw_notifications.middleware.EndpointWithoutSlashMiddleware"


def send(client: Any, path: str, body: bytes, *, auth: str | None = basic()) -> Any:
    extra = {"HTTP_AUTHORIZATION": auth} if auth else {}
    return client.post(path, data=body, content_type="application/xml", **extra)


@pytest.mark.parametrize("debug", [False, True], ids=["debug-off", "debug-on"])
def test_a_post_without_the_slash_is_stored_like_one_with_it(
    client: Any, settings: Any, debug: bool
) -> None:
    settings.DEBUG = debug
    bare = send(client, "/bandwidth/notifications", payload("01"))
    slashed = send(client, "/bandwidth/notifications/", payload("02"))
    assert (bare.status_code, bare.content) == (slashed.status_code, slashed.content)
    assert bare.status_code == 200
    assert Notification.objects.count() == 2
    assert Notification.objects.filter(raw_body=payload("01").decode()).exists()


def test_refusals_are_the_same_at_both_urls(client: Any) -> None:
    bare = send(client, "/bandwidth/notifications", payload("01"), auth=None)
    slashed = send(client, "/bandwidth/notifications/", payload("01"), auth=None)
    assert bare.status_code == slashed.status_code == 401
    assert bare["WWW-Authenticate"] == slashed["WWW-Authenticate"]
    assert client.get("/bandwidth/notifications").status_code == 405
    assert Notification.objects.count() == 0


def test_an_account_endpoint_without_its_slash(client: Any, settings: Any) -> None:
    settings.BW_NOTIFICATIONS_ACCOUNTS = {"east": {"BASIC_AUTH": [("east", "east-password")]}}
    response = send(
        client, "/bandwidth/notifications/east", payload("01"), auth=basic("east", "east-password")
    )
    assert response.status_code == 200
    assert Notification.objects.get().account == "east"
    unknown = send(client, "/bandwidth/notifications/west", payload("01"))
    assert (unknown.status_code, unknown.content) == (404, b"no such account endpoint\n")


def test_a_host_routed_view_without_its_slash(client: Any) -> None:
    assert send(client, "/subclassed/notifications", payload("01")).status_code == 200
    assert Notification.objects.count() == 1


def test_other_urls_are_left_to_django(client: Any, admin_client: Any) -> None:
    # APPEND_SLASH still redirects the admin, and an unknown path is still a 404.
    assert admin_client.get("/admin").status_code == 301
    assert client.post("/nowhere", data=b"x", content_type="text/plain").status_code == 404
    assert Notification.objects.count() == 0


def test_without_the_middleware_a_post_is_redirected_and_the_check_says_so(
    client: Any, settings: Any
) -> None:
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != MIDDLEWARE]
    response = send(client, "/bandwidth/notifications", payload("01"))
    assert response.status_code == 301  # what Bandwidth would not follow
    warnings = [m for m in run_checks() if m.id == "bw_notifications.W011"]
    assert len(warnings) == 1
    assert "/bandwidth/notifications " in warnings[0].msg
    assert MIDDLEWARE in str(warnings[0].hint)


def test_the_check_is_quiet_with_the_middleware_or_a_route_of_its_own(
    settings: Any, tmp_path: Any
) -> None:
    assert not [m for m in run_checks() if m.id == "bw_notifications.W011"]
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != MIDDLEWARE]
    settings.ROOT_URLCONF = "tests.urls_both_forms"
    assert not [m for m in run_checks() if m.id == "bw_notifications.W011"]


def test_the_check_says_404_when_django_would_not_redirect(client: Any, settings: Any) -> None:
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != MIDDLEWARE]
    settings.APPEND_SLASH = False
    assert send(client, "/bandwidth/notifications", payload("01")).status_code == 404
    [warning] = [m for m in run_checks() if m.id == "bw_notifications.W011"]
    assert "answered 404" in warning.msg
    assert "redirect" not in warning.msg


class HostsOwnSlashMiddleware(EndpointWithoutSlashMiddleware):
    """A host's subclass (say, with its own logging), under its own dotted path."""


def test_a_subclass_of_the_middleware_counts_for_the_checks_and_the_routes(
    client: Any, settings: Any
) -> None:
    from django_bw_notifications.routes import endpoint_at

    settings.MIDDLEWARE = [
        f"{__name__}.HostsOwnSlashMiddleware" if m == MIDDLEWARE else m for m in settings.MIDDLEWARE
    ]
    assert send(client, "/bandwidth/notifications", payload("01")).status_code == 200
    assert not [m for m in run_checks() if m.id == "bw_notifications.W011"]
    assert endpoint_at("/bandwidth/notifications") is not None
