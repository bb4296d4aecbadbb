"""The scrape reports each account's subscriptions and their expiry (issue 24, item 2),
listed from the fake Bandwidth at most every METRICS_SUBSCRIPTIONS_EVERY seconds, and
never waits long on Bandwidth."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from django_bw_notifications.ops import subscriptions
from tests.support import PASSWORD, USERNAME

pytestmark = pytest.mark.django_db

ACCOUNT = "9900001"
OURS = "https://example.com/bandwidth/"


@pytest.fixture(autouse=True)
def fresh_listings() -> Iterator[None]:
    subscriptions.forget()
    yield
    subscriptions.forget()


def scrape(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get(reverse("bw_notifications_ops:metrics"))
    assert response.status_code == 200
    found = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def listing_calls(fake: Any) -> int:
    return sum(1 for call in fake.calls if call.method == "GET" and "subscriptions" in call.path)


def test_subscriptions_and_their_expiry_are_reported(
    admin_client: Client, fake_bandwidth: Any
) -> None:
    week = 7 * 24 * 3600
    one = fake_bandwidth.add_subscription(
        ACCOUNT, order_type="portins", url=OURS, expiry=week, username=USERNAME, password=PASSWORD
    )
    fake_bandwidth.add_subscription(
        ACCOUNT,
        order_type="orders",
        url=OURS,
        expiry=365 * 24 * 3600,
        username=USERNAME,
        password=PASSWORD,
    )
    samples = scrape(admin_client)
    assert samples[("bw_notifications_subscriptions_listed", (("account", "default"),))] == 1
    assert (
        samples[
            ("bw_notifications_subscriptions", (("account", "default"), ("kind", "order:portins")))
        ]
        == 1
    )
    left = samples[
        (
            "bw_notifications_subscription_expiry_seconds",
            (("account", "default"), ("kind", "order:portins"), ("subscription_id", one.id)),
        )
    ]
    assert week - 60 < left <= week
    # The portins one expires within RENEW_BEFORE (30 days); disconnects and
    # MESSAGING_LOST, wanted by the account, have no subscription: three problems, as
    # `bw_notifications_subscriptions status` reports them.
    assert samples[("bw_notifications_subscription_problems", (("account", "default"),))] == 3


def test_bandwidth_is_listed_once_per_interval_and_the_expiry_counts_down(
    admin_client: Client, fake_bandwidth: Any, settings: Any
) -> None:
    one = fake_bandwidth.add_subscription(
        ACCOUNT, order_type="portins", url=OURS, expiry=86400, username=USERNAME, password=PASSWORD
    )
    key = (
        "bw_notifications_subscription_expiry_seconds",
        (("account", "default"), ("kind", "order:portins"), ("subscription_id", one.id)),
    )
    first = scrape(admin_client)[key]
    calls = listing_calls(fake_bandwidth)
    time.sleep(1.1)
    second = scrape(admin_client)[key]
    assert listing_calls(fake_bandwidth) == calls  # the listing was reused
    assert second < first  # counted down from when it was listed
    settings.BW_NOTIFICATIONS_METRICS_SUBSCRIPTIONS_EVERY = 0.5
    time.sleep(0.6)
    scrape(admin_client)
    assert listing_calls(fake_bandwidth) == calls + 1


def test_a_failed_listing_is_reported_and_does_not_stall_the_scrape(
    admin_client: Client, fake_bandwidth: Any
) -> None:
    fake_bandwidth.fail("GET", "subscriptions", 503, times=10)
    started = time.monotonic()
    samples = scrape(admin_client)
    assert time.monotonic() - started < 3  # no retries, no backoff
    assert samples[("bw_notifications_subscriptions_listed", (("account", "default"),))] == 0
    assert not [key for key in samples if key[0] == "bw_notifications_subscription_problems"]
    # The database's figures are there all the same.
    assert ("bw_notifications_healthy", ()) in samples


def test_a_bandwidth_that_does_not_answer_is_waited_on_briefly(
    admin_client: Client, fake_bandwidth: Any, settings: Any
) -> None:
    settings.BW_NOTIFICATIONS_API_TIMEOUT = 0.5
    fake_bandwidth.fail("GET", "subscriptions", 0, delay=3, times=1)
    started = time.monotonic()
    samples = scrape(admin_client)
    assert time.monotonic() - started < 2.5
    assert samples[("bw_notifications_subscriptions_listed", (("account", "default"),))] == 0


def test_off_or_without_api_credentials_bandwidth_is_not_called(
    admin_client: Client, fake_bandwidth: Any, settings: Any
) -> None:
    settings.BW_NOTIFICATIONS_METRICS_SUBSCRIPTIONS_EVERY = 0
    samples = scrape(admin_client)
    assert listing_calls(fake_bandwidth) == 0
    assert not [key for key in samples if key[0] == "bw_notifications_subscriptions_listed"]
    settings.BW_NOTIFICATIONS_METRICS_SUBSCRIPTIONS_EVERY = 300
    settings.BW_NOTIFICATIONS_ACCOUNTS = {"default": {"BASIC_AUTH": [("bw", "pw")]}}
    samples = scrape(admin_client)
    assert listing_calls(fake_bandwidth) == 0
    assert not [key for key in samples if key[0] == "bw_notifications_subscriptions_listed"]
