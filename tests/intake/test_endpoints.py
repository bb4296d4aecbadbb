"""Every kind of endpoint is as safe as the packaged one, and every place that needs an
endpoint's credentials gets them from ``accounts`` (the view, the checks, the testing
helpers, the send command).

The security cases run against the plain endpoint, an account's, a host-routed
``WebhookView.as_view()`` and a host's subclass, with a client that enforces CSRF.
"""

from __future__ import annotations

import base64
from io import StringIO
from typing import Any

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.test import Client, RequestFactory
from django.urls import resolve, reverse

from django_bw_notifications.accounts import endpoint, endpoints
from django_bw_notifications.intake.addresses import normalise_address
from django_bw_notifications.models import Notification, RejectedDelivery
from django_bw_notifications.testing import build_order_notification, post_notification
from tests.support import payload

pytestmark = pytest.mark.django_db

OLD, NEW = ("bandwidth", "old-password-rotating-out"), ("bandwidth", "new-password-rotating-in")
EAST = ("east-user", "east-password-long-enough")

KINDS = {
    "plain": lambda: reverse("bw_notifications:webhook"),
    "account": lambda: reverse("bw_notifications:account_webhook", kwargs={"account": "east"}),
    "host-routed": lambda: reverse("hosted_webhook"),
    "subclass": lambda: reverse("subclassed_webhook"),
    "subclass overriding dispatch": lambda: reverse("hooked_webhook"),
}


def auth(pair: tuple[str, str]) -> str:
    return "Basic " + base64.b64encode(f"{pair[0]}:{pair[1]}".encode()).decode()


@pytest.fixture
def configured(settings: Any) -> None:
    settings.BW_NOTIFICATIONS_BASIC_AUTH = [OLD, NEW]
    settings.BW_NOTIFICATIONS_ACCOUNTS = {"east": {"BASIC_AUTH": [EAST, OLD, NEW]}}


@pytest.fixture
def csrf_client() -> Client:
    return Client(enforce_csrf_checks=True)


@pytest.mark.parametrize("kind", KINDS)
def test_no_credentials_get_a_challenge_and_nothing_is_stored(
    kind: str, configured: None, csrf_client: Client
) -> None:
    response = csrf_client.post(KINDS[kind](), payload("01"), content_type="application/xml")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith('Basic realm="')
    assert Notification.objects.count() == 0


@pytest.mark.parametrize("kind", KINDS)
def test_a_wrong_pair_is_challenged(kind: str, configured: None, csrf_client: Client) -> None:
    response = csrf_client.post(
        KINDS[kind](),
        payload("01"),
        content_type="application/xml",
        HTTP_AUTHORIZATION=auth(("bandwidth", "nope")),
    )
    assert response.status_code == 401
    assert "WWW-Authenticate" in response


@pytest.mark.parametrize("kind", KINDS)
def test_both_pairs_of_a_rotation_are_accepted_despite_csrf(
    kind: str, configured: None, csrf_client: Client
) -> None:
    for pair, name in ((OLD, "01"), (NEW, "07")):
        response = csrf_client.post(
            KINDS[kind](),
            payload(name),
            content_type="application/xml",
            HTTP_AUTHORIZATION=auth(pair),
        )
        assert response.status_code == 200, response.content
    expected_account = "east" if kind == "account" else ""
    assert set(Notification.objects.values_list("account", flat=True)) == {expected_account}


@pytest.mark.parametrize("kind", KINDS)
def test_no_body_is_read_before_authentication(kind: str, configured: None) -> None:
    class Untouchable:
        def read(self, *args: Any) -> bytes:
            raise AssertionError("the body was read before authentication")

        readline = read

    url = KINDS[kind]()
    request = RequestFactory().post(url, b"<x/>", content_type="application/xml")
    request._stream = Untouchable()  # type: ignore[assignment]  # not a file, by design
    request.META["CONTENT_LENGTH"] = "50000000"
    response = resolve(url).func(request, **resolve(url).kwargs)
    assert response.status_code == 401


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_is_outside_atomic_requests_and_login_required(kind: str) -> None:
    view = resolve(KINDS[kind]()).func
    assert "default" in view._non_atomic_requests  # type: ignore[attr-defined]
    assert view.csrf_exempt  # type: ignore[attr-defined]
    assert getattr(view, "login_required", True) is False


@pytest.mark.parametrize("kind", KINDS)
def test_login_required_middleware_lets_bandwidth_through(
    kind: str, configured: None, settings: Any
) -> None:
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE,
        "django.contrib.auth.middleware.LoginRequiredMiddleware",
    ]
    response = Client().post(
        KINDS[kind](), payload("01"), content_type="application/xml", HTTP_AUTHORIZATION=auth(NEW)
    )
    assert response.status_code == 200


# -- one owner for endpoints -------------------------------------------------------------


def test_endpoints_lists_the_plain_one_and_each_accounts(configured: None) -> None:
    listed = {(e.url_name, tuple(e.url_kwargs.items()), e.account) for e in endpoints()}
    assert listed == {
        ("bw_notifications:webhook", (), ""),
        ("bw_notifications:account_webhook", (("account", "east"),), "east"),
    }
    east = endpoint("east")
    assert east is not None
    assert east.credentials == (EAST, OLD, NEW)
    assert "east" in east.label


@pytest.mark.parametrize(
    "value",
    ["bandwidth:password", [("bandwidth", "")], [("", "")], [("bandwidth", None)], [("b",)]],
)
def test_a_malformed_credential_setting_fails_closed(settings: Any, post: Any, value: Any) -> None:
    # E001 says so at startup, but gunicorn runs no checks: an unset environment
    # variable (an empty password) must not open the endpoint, nor accept "bandwidth:".
    settings.BW_NOTIFICATIONS_BASIC_AUTH = value
    plain = endpoint(None)
    assert plain is not None
    assert plain.credentials  # not "no authentication"
    for pair in (("bandwidth", "password"), ("bandwidth", ""), ("", ""), ("bandwidth", "None")):
        assert post(payload("01"), auth=auth(pair)).status_code == 401
    assert post(payload("01"), auth=None).status_code == 401


@pytest.mark.parametrize("value", [None, [("east", "")], "east:pw"])
def test_a_malformed_account_credential_setting_fails_closed(settings: Any, value: Any) -> None:
    settings.BW_NOTIFICATIONS_ACCOUNTS = {"east": {"BASIC_AUTH": value}}
    east = endpoint("east")
    assert east is not None
    assert east.credentials
    response = Client().post(KINDS["account"](), payload("01"), content_type="application/xml")
    assert response.status_code == 401


def test_post_notification_follows_the_accounts_rule(settings: Any, recorder: Any) -> None:
    settings.BW_NOTIFICATIONS_BASIC_AUTH = []
    settings.BW_NOTIFICATIONS_ACCOUNTS = {
        "default": {"BASIC_AUTH": [OLD]},
        "east": {"BASIC_AUTH": [EAST]},
    }
    rec = recorder()
    plain = post_notification(build_order_notification(order_id="p"))
    east = post_notification(build_order_notification(order_id="e"), account="east")
    assert (plain.account, east.account) == ("default", "east")
    assert len(rec.calls) == 2
    with pytest.raises(AssertionError, match="no account 'west'"):
        post_notification(build_order_notification(), account="west")


def test_send_command_uses_the_accounts_credentials(settings: Any, live_server: Any) -> None:
    settings.BW_NOTIFICATIONS_BASIC_AUTH = []
    settings.BW_NOTIFICATIONS_ACCOUNTS = {"east": {"BASIC_AUTH": [EAST]}}
    url = live_server.url + reverse("bw_notifications:account_webhook", kwargs={"account": "east"})
    out = StringIO()
    call_command("bw_notifications_send", url, "--account", "east", stdout=out, stderr=out)
    assert f"with credentials for {EAST[0]!r}" in out.getvalue()
    assert EAST[1] not in out.getvalue()


def test_send_command_takes_the_credentials_of_the_account_the_url_reaches(
    settings: Any, live_server: Any
) -> None:
    # The plain endpoint has its own pair; east's URL wants east's, without --account.
    settings.BW_NOTIFICATIONS_BASIC_AUTH = [("plain-user", "plain-password-long-enough")]
    settings.BW_NOTIFICATIONS_ACCOUNTS = {"east": {"BASIC_AUTH": [EAST]}}
    url = live_server.url + reverse("bw_notifications:account_webhook", kwargs={"account": "east"})
    out = StringIO()
    call_command("bw_notifications_send", url, stdout=out, stderr=out)
    assert f"with credentials for {EAST[0]!r}" in out.getvalue()
    assert Notification.objects.get().account == "east"
    plain = live_server.url + reverse("bw_notifications:webhook")
    out = StringIO()
    call_command("bw_notifications_send", plain, stdout=out, stderr=out)
    assert "with credentials for 'plain-user'" in out.getvalue()


# -- checks per endpoint -------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _receiver_connected(project_receiver: None) -> None:
    """As in a project that reacts to its notifications (W013 looks for a receiver)."""


def _ids(**kwargs: Any) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for message in run_checks(**kwargs):
        if message.id and message.id.startswith("bw_notifications"):
            found.setdefault(message.id, []).append(message.msg)
    return found


STRONG = ("bandwidth", "Qz7vB2mK9pLr4TnW8yHs")


def test_a_correct_multi_account_setup_is_clean_under_deploy(settings: Any, tmp_path: Any) -> None:
    settings.BW_NOTIFICATIONS_SPOOL_DIR = str(tmp_path)
    settings.BW_NOTIFICATIONS_BASIC_AUTH = []
    settings.BW_NOTIFICATIONS_ACCOUNTS = {
        "default": {"BASIC_AUTH": [STRONG]},
        "east": {"BASIC_AUTH": [("east", "Hw3nX8qLs2Vb7RtZ5mKp")]},
    }
    assert _ids(include_deployment_checks=True) == {}


def test_each_broken_endpoint_is_named(settings: Any, tmp_path: Any) -> None:
    settings.BW_NOTIFICATIONS_SPOOL_DIR = str(tmp_path)
    settings.BW_NOTIFICATIONS_BASIC_AUTH = [STRONG]
    settings.BW_NOTIFICATIONS_ACCOUNTS = {
        "open": {"BASIC_AUTH": []},
        "colon": {"BASIC_AUTH": [("a:b", "Hw3nX8qLs2Vb7RtZ5mKp")]},
        "short": {"BASIC_AUTH": [("short", "tiny")]},
        "inherits": {},
    }
    found = _ids()
    assert len(found["bw_notifications.W001"]) == 1
    assert "'open'" in found["bw_notifications.W001"][0]
    assert "ACCOUNTS['colon']" in found["bw_notifications.E002"][0]
    deploy = _ids(include_deployment_checks=True)
    assert "'open'" in deploy["bw_notifications.E009"][0]
    settings.BW_NOTIFICATIONS_ACCOUNTS.pop("open")
    deploy = _ids(include_deployment_checks=True)
    assert any("ACCOUNTS['short']" in m for m in deploy["bw_notifications.W006"])
    assert "bw_notifications.E009" not in deploy  # "inherits" uses the global pair


def test_deploy_reports_every_problem_at_once(settings: Any, tmp_path: Any) -> None:
    settings.BW_NOTIFICATIONS_SPOOL_DIR = str(tmp_path)
    settings.BW_NOTIFICATIONS_BASIC_AUTH = []
    settings.BW_NOTIFICATIONS_ACCOUNTS = {
        "default": {"BASIC_AUTH": [STRONG]},
        "east": {"BASIC_AUTH": []},
        "west": {"BASIC_AUTH": [("w", "short")]},
    }
    deploy = _ids(include_deployment_checks=True)
    assert "'east'" in deploy["bw_notifications.E009"][0]
    assert any("ACCOUNTS['west']" in m for m in deploy["bw_notifications.W006"])


def test_an_unused_global_pair_is_not_judged(settings: Any, tmp_path: Any) -> None:
    settings.BW_NOTIFICATIONS_SPOOL_DIR = str(tmp_path)
    settings.BW_NOTIFICATIONS_BASIC_AUTH = [("bandwidth", "short")]
    settings.BW_NOTIFICATIONS_ACCOUNTS = {"default": {"BASIC_AUTH": [STRONG]}}
    assert _ids(include_deployment_checks=True) == {}


def test_an_unprotected_plain_endpoint_beside_accounts_is_named(settings: Any) -> None:
    settings.BW_NOTIFICATIONS_BASIC_AUTH = []
    settings.BW_NOTIFICATIONS_ACCOUNTS = {"east": {"BASIC_AUTH": [STRONG]}}
    [message] = _ids()["bw_notifications.W001"]
    assert message.startswith("the plain endpoint accepts anyone")


# -- the allow-list reads every address form ----------------------------------------------


@pytest.mark.parametrize(
    ("written", "address"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("203.0.113.7:51234", "203.0.113.7"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("2001:db8::1", "2001:db8::1"),
        ("[::ffff:203.0.113.7]:80", "203.0.113.7"),
        ("unix:/run/gunicorn.sock", None),
        ("", None),
    ],
)
def test_address_forms_proxies_write(written: str, address: str | None) -> None:
    assert normalise_address(written) == address


def test_an_allow_list_entry_written_mapped_matches_plain_addresses(
    settings: Any, post: Any
) -> None:
    settings.BW_NOTIFICATIONS_ALLOWED_IPS = ["::ffff:203.0.113.0/120"]
    assert post(payload("01"), REMOTE_ADDR="203.0.113.9").status_code == 200
    assert post(payload("07"), REMOTE_ADDR="::ffff:203.0.113.10").status_code == 200
    assert post(payload("16"), REMOTE_ADDR="198.51.100.1").status_code == 403


@pytest.mark.parametrize(
    ("meta", "status"),
    [
        ({"REMOTE_ADDR": "::ffff:203.0.113.7"}, 200),
        ({"HTTP_X_FORWARDED_FOR": "198.51.100.1, 203.0.113.7:51234"}, 200),
        ({"HTTP_X_FORWARDED_FOR": "[2001:db8::5]:443"}, 200),
        ({"HTTP_X_FORWARDED_FOR": "198.51.100.9:443"}, 403),
    ],
)
def test_the_allow_list_accepts_mapped_and_ported_forms(
    settings: Any, post: Any, meta: dict[str, str], status: int
) -> None:
    settings.BW_NOTIFICATIONS_ALLOWED_IPS = ["203.0.113.0/24", "2001:db8::/64"]
    if "HTTP_X_FORWARDED_FOR" in meta:
        settings.BW_NOTIFICATIONS_CLIENT_IP_HEADER = "X-Forwarded-For"
    assert post(payload("01"), **meta).status_code == status


def test_an_unprotected_default_account_is_reported_once_for_its_two_urls(
    settings: Any, tmp_path: Any
) -> None:
    settings.BW_NOTIFICATIONS_SPOOL_DIR = str(tmp_path)
    settings.BW_NOTIFICATIONS_BASIC_AUTH = []
    settings.BW_NOTIFICATIONS_ACCOUNTS = {"default": {}, "east": {"BASIC_AUTH": [STRONG]}}
    [warning] = _ids()["bw_notifications.W001"]
    assert warning.startswith("account 'default' (at the plain URL and at its own) accepts anyone")
    [error] = _ids(include_deployment_checks=True)["bw_notifications.E009"]
    assert "account 'default' (at the plain URL and at its own)" in error


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            {"API_USERNAME": "u", "API_PASSWORD": "p"},
            "has Numbers API credentials but no ACCOUNT_ID",
        ),
        ({"CLIENT_ID": "c", "CLIENT_SECRET": "s"}, "has Numbers API credentials but no ACCOUNT_ID"),
        ({"BASIC_AUTH": [("bandwidth", "")]}, "pairs of non-empty strings"),
    ],
)
def test_an_account_entry_that_cannot_work_says_why(
    settings: Any, entry: dict[str, Any], expected: str
) -> None:
    settings.BW_NOTIFICATIONS_ACCOUNTS = {"east": entry}
    [message] = _ids()["bw_notifications.E012"]
    assert "ACCOUNTS['east']" in message
    assert expected in message


def test_refusals_name_the_account_whose_endpoint_refused(
    configured: None, csrf_client: Client, caplog: Any, monkeypatch: Any
) -> None:
    import logging

    from django_bw_notifications import views

    monkeypatch.setattr(views, "_refusals", views._RefusalLog())
    url = KINDS["account"]()
    with caplog.at_level(logging.WARNING, logger="django_bw_notifications"):
        wrong = ("east-user", "not-the-east-password")
        response = csrf_client.post(
            url, payload("01"), content_type="application/xml", HTTP_AUTHORIZATION=auth(wrong)
        )
        assert response.status_code == 401
        garbled = csrf_client.post(
            url, b"<not xml", content_type="application/xml", HTTP_AUTHORIZATION=auth(EAST)
        )
        assert garbled.status_code == 400
    [refused] = [r for r in caplog.records if "refused credentials" in r.getMessage()]
    assert refused.getMessage().startswith("401 at the endpoint of account 'east':")
    assert "BW_NOTIFICATIONS_ACCOUNTS['east']['BASIC_AUTH'] differ" in refused.getMessage()
    assert refused.account == "east"
    assert "to account 'east': 400" in caplog.text
    assert RejectedDelivery.objects.get().account == "east"
