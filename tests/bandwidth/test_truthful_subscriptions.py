"""Checks and commands that say "fine" only when delivery can happen (issue 23, item 1):
a CALLBACK_URL that reaches its own account's endpoint, Basic credentials we accept, and
one expiry rule for status, ensure, renew and the metrics."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.checks import run_checks
from django.core.management import CommandError, call_command

from django_bw_notifications.accounts import get_account
from django_bw_notifications.bandwidth.resources import read_subscription
from django_bw_notifications.bandwidth.subscriptions import (
    expires_soon,
    health,
    plan_ensure,
    plan_renew,
)
from django_bw_notifications.parsing import parse_xml
from tests.support import PASSWORD, USERNAME, account_settings

pytestmark = pytest.mark.django_db

ACCOUNT = "9900001"
HOST = "https://example.com"
MIDDLEWARE = "django_bw_notifications.middleware.EndpointWithoutSlashMiddleware"


def w012(settings: Any, **accounts: str) -> list[str]:
    settings.BW_NOTIFICATIONS_ACCOUNTS = {
        name: {"BASIC_AUTH": [(USERNAME, PASSWORD)], "CALLBACK_URL": url}
        for name, url in accounts.items()
    }
    return [m.msg for m in run_checks() if m.id == "bw_notifications.W012"]


def test_callback_urls_that_reach_their_own_endpoint_pass(settings: Any) -> None:
    assert not w012(
        settings,
        default=f"{HOST}/bandwidth/notifications/",
        east=f"{HOST}/bandwidth/notifications/east/",
        west=f"{HOST}/bandwidth/notifications/west",  # served by the slash middleware
    )


@pytest.mark.parametrize(
    ("url", "says"),
    [
        (f"{HOST}/bandwidth/notifications/eats/", "reaches no notification endpoint"),
        (f"{HOST}/bandwidth/notification/east/", "reaches no notification endpoint"),
        (f"{HOST}/admin/", "reaches no notification endpoint"),
        (f"{HOST}/bandwidth/notifications/", "reaches the plain endpoint, not this account's"),
        (f"{HOST}/bandwidth/notifications/west/", "reaches account 'west''s endpoint"),
    ],
)
def test_a_callback_url_that_would_lose_or_misfile_everything_is_warned(
    settings: Any, url: str, says: str
) -> None:
    found = w012(settings, east=url, west=f"{HOST}/bandwidth/notifications/west/")
    assert len(found) == 1
    assert "ACCOUNTS['east']" in found[0]
    assert says in found[0]


def test_without_the_slash_middleware_a_url_without_its_slash_is_warned(settings: Any) -> None:
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != MIDDLEWARE]
    [found] = w012(settings, east=f"{HOST}/bandwidth/notifications/east")
    assert "missing trailing slash" in found


def test_force_script_name_is_the_public_prefix(settings: Any) -> None:
    settings.FORCE_SCRIPT_NAME = "/app"
    assert not w012(settings, east=f"{HOST}/app/bandwidth/notifications/east/")


def run(*args: str) -> str:
    out = StringIO()
    call_command("bw_notifications_subscriptions", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_ensure_refuses_a_callback_url_that_reaches_nothing_unless_forced(
    fake_bandwidth: Any, settings: Any
) -> None:
    settings.BW_NOTIFICATIONS_ACCOUNTS = {
        "default": account_settings(fake_bandwidth, ACCOUNT, CALLBACK_URL=f"{HOST}/bandwdith/")
    }
    with pytest.raises(CommandError, match=r"not subscribing: its CALLBACK_URL .* reaches no"):
        run("ensure")
    assert fake_bandwidth.subscriptions[ACCOUNT] == {}
    run("ensure", "--force")
    assert len(fake_bandwidth.subscriptions[ACCOUNT]) == 4


def subscription_xml(credentials: str, expiry: str = "<Expiry>31536000</Expiry>") -> str:
    return (
        "<Subscription><SubscriptionId>s-1</SubscriptionId><OrderType>portins</OrderType>"
        "<CallbackSubscription><URL>https://example.com/bandwidth/</URL>"
        f"{expiry}<Status>200 OK</Status><NumberFormat>E164</NumberFormat>{credentials}"
        "</CallbackSubscription></Subscription>"
    )


PUBLIC_KEY_ONLY = (
    "<CallbackCredentials><PublicKey>LS0tLS1CRUdJTi...</PublicKey></CallbackCredentials>"
)
BASIC = (
    "<CallbackCredentials><BasicAuthentication><Username>{}</Username>"
    "</BasicAuthentication></CallbackCredentials>"
)


@pytest.fixture
def account(fake_bandwidth: Any) -> Any:
    return get_account("default")


def test_a_public_key_alone_is_not_credentials_we_accept(account: Any) -> None:
    subscription = read_subscription(parse_xml(subscription_xml(PUBLIC_KEY_ONLY)))
    assert (subscription.has_credentials, subscription.public_key_only) == (False, True)
    [problem] = [p for p in health(account, [subscription], renew_before=0) if "s-1" in p]
    assert "only a PublicKey" in problem
    assert "401" in problem
    [change] = [
        c for c in plan_ensure(account, [subscription], renew_before=0) if c.kind == "order:portins"
    ]
    assert change.action == "update"
    assert "only a PublicKey" in change.reason


def test_a_username_our_endpoint_does_not_accept_fails_status(account: Any) -> None:
    good = read_subscription(parse_xml(subscription_xml(BASIC.format(USERNAME))))
    assert not [p for p in health(account, [good], renew_before=0) if "s-1" in p]
    other = read_subscription(parse_xml(subscription_xml(BASIC.format("someone-else"))))
    [problem] = [p for p in health(account, [other], renew_before=0) if "s-1" in p]
    assert "'someone-else'" in problem
    assert "401" in problem


def test_no_expiry_is_expiring_for_status_ensure_and_renew_alike(account: Any) -> None:
    subscription = read_subscription(parse_xml(subscription_xml(BASIC.format(USERNAME), expiry="")))
    assert subscription.expiry is None
    assert expires_soon(subscription, 3600) == "expires in unknown"
    assert "s-1 (order:portins): expires in unknown" in health(
        account, [subscription], renew_before=3600
    )
    [renewal] = plan_renew(account, [subscription], renew_before=3600)
    assert renewal.reason == "expires in unknown"
    [change] = [
        c
        for c in plan_ensure(account, [subscription], renew_before=3600)
        if c.kind == "order:portins"
    ]
    assert change.action == "update"
    assert "expires in unknown" in change.reason


def test_a_long_expiry_is_fine_everywhere(account: Any) -> None:
    subscription = read_subscription(parse_xml(subscription_xml(BASIC.format(USERNAME))))
    assert expires_soon(subscription, 3600) == ""
    assert not [p for p in health(account, [subscription], renew_before=3600) if "s-1" in p]
    assert plan_renew(account, [subscription], renew_before=3600) == []
