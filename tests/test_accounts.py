"""Several Bandwidth accounts: one endpoint each, the account recorded, checks (E012)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import run_checks
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from django_bw_notifications.accounts import AccountError, get_account
from django_bw_notifications.intake.ingest import ingest
from django_bw_notifications.models import Notification, Source
from django_bw_notifications.parsing import parse_notification
from tests.support import PASSWORD, USERNAME, basic, notification_xml

pytestmark = pytest.mark.django_db

ACCOUNTS = {
    "default": {"ACCOUNT_ID": "1"},
    "east": {"ACCOUNT_ID": "2", "BASIC_AUTH": [("east-user", "east-password")]},
    "west": {"ACCOUNT_ID": "3"},
}


@pytest.fixture(autouse=True)
def accounts(settings: Any) -> None:
    settings.BW_NOTIFICATIONS_BASIC_AUTH = [(USERNAME, PASSWORD)]
    settings.BW_NOTIFICATIONS_ACCOUNTS = ACCOUNTS


def account_url(name: str) -> str:
    return reverse("bw_notifications:account_webhook", kwargs={"account": name})


def test_each_account_endpoint_records_its_account(client: Client) -> None:
    east = client.post(
        account_url("east"),
        notification_xml(order_id="e-1"),
        content_type="application/xml",
        HTTP_AUTHORIZATION=basic("east-user", "east-password"),
    )
    west = client.post(
        account_url("west"),
        notification_xml(order_id="w-1"),
        content_type="application/xml",
        HTTP_AUTHORIZATION=basic(),  # no BASIC_AUTH of its own: the global pairs
    )
    plain = client.post(
        reverse("bw_notifications:webhook"),
        notification_xml(order_id="d-1"),
        content_type="application/xml",
        HTTP_AUTHORIZATION=basic(),
    )
    assert (east.status_code, west.status_code, plain.status_code) == (200, 200, 200)
    stored = dict(Notification.objects.values_list("order_id", "account"))
    assert stored == {"e-1": "east", "w-1": "west", "d-1": "default"}


def test_an_account_endpoint_accepts_only_its_own_credentials(client: Client) -> None:
    response = client.post(
        account_url("east"),
        notification_xml(),
        content_type="application/xml",
        HTTP_AUTHORIZATION=basic(),  # the global pair, not east's
    )
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic realm=")
    assert not Notification.objects.exists()


def test_an_unknown_account_is_a_404_before_anything_is_read(client: Client) -> None:
    response = client.post(
        account_url("north"),
        notification_xml(),
        content_type="application/xml",
        HTTP_AUTHORIZATION=basic(),
    )
    assert response.status_code == 404
    assert response.content == b"no such account endpoint\n"
    assert client.head(account_url("north")).status_code == 404
    assert client.head(account_url("east")).status_code == 200


def test_the_same_body_on_two_accounts_is_two_notifications(client: Client) -> None:
    body = notification_xml(order_id="same")
    for name in ("west", "default"):
        client.post(
            account_url(name), body, content_type="application/xml", HTTP_AUTHORIZATION=basic()
        )
    client.post(
        account_url("west"), body, content_type="application/xml", HTTP_AUTHORIZATION=basic()
    )
    rows = Notification.objects.order_by("account")
    assert [(n.account, n.duplicate_count) for n in rows] == [("default", 0), ("west", 1)]


def test_without_accounts_the_plain_endpoint_records_none(client: Client, settings: Any) -> None:
    del settings.BW_NOTIFICATIONS_ACCOUNTS
    response = client.post(
        reverse("bw_notifications:webhook"),
        notification_xml(),
        content_type="application/xml",
        HTTP_AUTHORIZATION=basic(),
    )
    assert response.status_code == 200
    assert Notification.objects.get().account == ""
    assert client.head(account_url("default")).status_code == 404


def test_get_account_fills_defaults_and_hides_secrets(settings: Any) -> None:
    settings.BW_NOTIFICATIONS_ACCOUNTS = {
        "default": {"ACCOUNT_ID": "1", "API_USERNAME": "api", "API_PASSWORD": "pw-123"}
    }
    account = get_account("default")
    assert account.expiry == 3122064000
    assert account.basic_auth == ((USERNAME, PASSWORD),)
    assert "orders" in account.order_types
    assert account.api_base_url == "https://dashboard.bandwidth.com/api"
    assert "pw-123" not in repr(account)
    assert PASSWORD not in repr(account)
    with pytest.raises(AccountError, match=r"no account 'nope'.*configured: default"):
        get_account("nope")


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (["x"], "must be a dict of account name"),
        ({"bad name!": {}}, "account names are 1-64 letters"),
        ({"a": "1234"}, "must be a dict of settings"),
        ({"a": {"ACCOUNT_ID": 1234}}, "['ACCOUNT_ID'] must be a string"),
        ({"a": {"ACOUNT_ID": "1"}}, "unknown key 'ACOUNT_ID'"),
        ({"a": {"CLIENT_ID": "x"}}, "set both CLIENT_ID and CLIENT_SECRET"),
        ({"a": {"API_USERNAME": "x"}}, "set both API_USERNAME and API_PASSWORD"),
        ({"a": {"CALLBACK_URL": "example.com/x/"}}, "must be an absolute http(s) URL"),
        ({"a": {"ORDER_TYPES": "orders"}}, "must be a list of names"),
        ({"a": {"ORDER_TYPES": ["PortIns"]}}, "does not document: PortIns"),
        ({"a": {"NUMBER_FORMAT": "e164"}}, "must be 'E164' or 'LEGACY'"),
        ({"a": {"EXPIRY": 60}}, "at least 3600"),
        ({"a": {"BASIC_AUTH": [("u",)]}}, "must be a list of (username, password) pairs"),
    ],
)
def test_e012_says_what_is_wrong(settings: Any, value: Any, fragment: str) -> None:
    settings.BW_NOTIFICATIONS_ACCOUNTS = value
    errors = [m for m in run_checks() if m.id == "bw_notifications.E012"]
    assert errors, "expected E012"
    assert any(fragment in e.msg for e in errors), [e.msg for e in errors]


def test_e012_is_quiet_for_a_good_setting(settings: Any) -> None:
    settings.BW_NOTIFICATIONS_ACCOUNTS = {
        "default": {
            "ACCOUNT_ID": "1",
            "CLIENT_ID": "c",
            "CLIENT_SECRET": "s",
            "CALLBACK_URL": "https://example.com/bw/",
            "ORDER_TYPES": ["orders", "portins"],
            "EVENT_TYPES": ["MESSAGING_LOST"],
            "NUMBER_FORMAT": "LEGACY",
            "EXPIRY": 86400 * 365,
        }
    }
    assert [m for m in run_checks() if m.id == "bw_notifications.E012"] == []


def stored(order_id: str, account: str, source: str = Source.DELIVERY) -> Notification:
    parsed = parse_notification(notification_xml(order_id=order_id))
    return ingest(parsed, account=account, source=source).notification


def test_api_filters_by_account_and_source(admin_user: Any) -> None:
    east = stored("e-1", "east")
    west = stored("w-1", "west")
    reconciled = stored("w-2", "west", Source.RECONCILED)
    api = APIClient()
    api.force_authenticate(admin_user)
    url = reverse("bw_notifications_api:notification-list")

    def ids(**query: str) -> list[int]:
        response = api.get(url, query)
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids(account="east") == [east.pk]
    assert ids(source="reconciled") == [reconciled.pk]
    assert ids(account="west", source="delivery") == [west.pk]
    bad = api.get(url, {"source": "mail"})
    assert bad.status_code == 400
    assert "is not one of delivery, reconciled" in bad.json()["source"]


def test_admin_filters_by_source_and_account(admin_client: Client) -> None:
    stored("e-1", "east")
    stored("w-2", "west", Source.RECONCILED)
    url = reverse("admin:bw_notifications_notification_changelist")
    page = admin_client.get(url)
    assert "?source=reconciled" in page.content.decode()
    assert "?account=east" in page.content.decode()
    reconciled = admin_client.get(url, {"source": "reconciled"}).content.decode()
    assert "w-2" in reconciled
    assert "e-1" not in reconciled
    east = admin_client.get(url, {"account": "east"}).content.decode()
    assert "e-1" in east
    assert "w-2" not in east
