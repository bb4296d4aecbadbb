"""How people find notifications: a number typed any way, and refused credentials seen."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from django_bw_notifications.models import Notification
from django_bw_notifications.parsing import typed_number_forms
from django_bw_notifications.testing import build_order_notification
from tests.support import basic

pytestmark = pytest.mark.django_db

TYPED = [
    "919-555-0177",
    "(919) 555-0177",
    "+1 919 555 0177",
    "19195550177",
    "9195550177",
    "919.555.0177",
]


@pytest.fixture
def stored(deliver: Any) -> dict[str, Notification]:
    return {
        "legacy": deliver(build_order_notification(order_id="legacy", numbers=["9195550177"])),
        "e164": deliver(
            build_order_notification(
                order_id="e164",
                numbers=["+19195550177"],
                last_modified_date="2026-01-01T00:00:00.000Z",
            )
        ),
        "other": deliver(build_order_notification(order_id="other", numbers=["9195550999"])),
        "uk": deliver(build_order_notification(order_id="uk", numbers=["+442079460958"])),
    }


@pytest.mark.parametrize("typed", TYPED)
def test_a_number_typed_any_way_finds_both_stored_forms(
    stored: dict[str, Notification], typed: str
) -> None:
    found = set(Notification.objects.with_number(typed).values_list("order_id", flat=True))
    assert found == {"legacy", "e164"}


def test_an_international_number_typed_with_spaces(stored: dict[str, Notification]) -> None:
    assert list(
        Notification.objects.with_number("+44 20 7946 0958").values_list("order_id", flat=True)
    ) == ["uk"]
    assert typed_number_forms("  ") == frozenset()


@pytest.mark.parametrize("typed", ["919-555-0177", "+1 919 555 0177"])
def test_admin_search_and_api_filter_take_typed_numbers(
    stored: dict[str, Notification], admin_client: Client, typed: str
) -> None:
    listing = admin_client.get(
        reverse("admin:bw_notifications_notification_changelist"), {"q": typed}
    )
    shown = {n.order_id for n in listing.context["cl"].result_list}
    assert shown == {"legacy", "e164"}
    api = admin_client.get(
        reverse("bw_notifications_api:notification-list"), {"telephone_number": typed}
    )
    assert {row["order_id"] for row in api.json()["results"]} == {"legacy", "e164"}


def test_refused_credentials_are_a_warning_once_a_minute_without_the_password(
    post: Any, caplog: Any
) -> None:
    from django_bw_notifications import views

    views._refusals._last.clear()
    with caplog.at_level(logging.DEBUG, logger="django_bw_notifications"):
        for _ in range(3):
            assert post(b"<x/>", auth=basic("bandwidth", "the-old-password-xyz")).status_code == 401
        assert post(b"<x/>", auth=None).status_code == 401
    warnings = [
        r
        for r in caplog.records
        if r.levelno == logging.WARNING and "refused credentials" in r.getMessage()
    ]
    assert len(warnings) == 1
    assert "'bandwidth'" in warnings[0].getMessage()
    # Which endpoint, and which setting to compare with Bandwidth's.
    assert warnings[0].getMessage().startswith("401 at the plain endpoint: refused credentials")
    assert "and BW_NOTIFICATIONS_BASIC_AUTH differ" in warnings[0].getMessage()
    assert "the-old-password-xyz" not in caplog.text
    # The request without credentials is Bandwidth's normal first one: DEBUG only.
    assert any(
        r.levelno == logging.DEBUG and "no Authorization header" in r.getMessage()
        for r in caplog.records
    )
    views._refusals._last[("bandwidth", "127.0.0.1", "")] = (float("-inf"), 2)  # a minute later
    with caplog.at_level(logging.WARNING, logger="django_bw_notifications"):
        post(b"<x/>", auth=basic("bandwidth", "the-old-password-xyz"))
    assert "(2 more since the last such line)" in caplog.text


@pytest.mark.parametrize(
    "params", [{"status": "a\x00b"}, {"q": "\x00"}, {"subscription_id": "\x00"}]
)
def test_a_nul_in_the_admins_filters_is_a_message_not_a_500(
    stored: dict[str, Notification], admin_client: Client, params: dict[str, str]
) -> None:
    url = reverse("admin:bw_notifications_notification_changelist")
    response = admin_client.get(url, params, follow=True)
    assert response.status_code == 200
    assert "NUL character" in response.content.decode()
    assert len(response.context["cl"].result_list) == 4  # shown unfiltered


def test_health_reports_silent_endpoints_and_stuck_notifications(
    settings: Any, deliver: Any, admin_client: Client
) -> None:
    from datetime import timedelta
    from io import StringIO

    from django.core.management import CommandError, call_command
    from django.utils import timezone

    from django_bw_notifications.ops.health import check_health

    settings.BW_NOTIFICATIONS_ACCOUNTS = {"default": {}, "east": {}}
    fresh = deliver(build_order_notification(order_id="fresh"))
    Notification.objects.filter(pk=fresh.pk).update(account="default")
    assert [problem for problem in check_health().problems] == [
        "account 'east' has received nothing yet"
    ]
    east = deliver(build_order_notification(order_id="east"))
    old = timezone.now() - timedelta(days=3)
    Notification.objects.filter(pk=east.pk).update(account="east", received_at=old)
    stuck = Notification.objects.create(
        order_type="orders", fingerprint="stuck", received_at=old, account="default"
    )
    health = check_health()
    assert health.stuck == 1
    assert any("has received nothing for 3" in p for p in health.problems)
    with pytest.raises(CommandError, match="not dispatched"):
        call_command("bw_notifications_health", stdout=StringIO())
    banner = admin_client.get(reverse("admin:bw_notifications_notification_changelist"))
    assert "Needs a look" in banner.content.decode()
    api = admin_client.get(reverse("bw_notifications_api:health")).json()
    assert (api["ok"], api["stuck"]) == (False, 1)
    # All well again: the sweeper ran, east heard from Bandwidth.
    Notification.objects.filter(pk=stuck.pk).update(processing_state="processed")
    Notification.objects.filter(pk=east.pk).update(received_at=timezone.now())
    assert check_health().ok
    out = StringIO()
    call_command("bw_notifications_health", stdout=out)
    assert "last delivery" in out.getvalue()
    assert (
        "Needs a look"
        not in admin_client.get(
            reverse("admin:bw_notifications_notification_changelist")
        ).content.decode()
    )


def test_an_orders_timeline_is_one_rule_for_the_admin_and_the_api(
    deliver: Any, admin_client: Client
) -> None:
    for status, day in (("SUBMITTED", 1), ("FOC", 2)):
        deliver(
            build_order_notification(
                "portins",
                status,
                order_id="p-1",
                last_modified_date=f"2026-11-0{day}T00:00:00.000Z",
            )
        )
    # Names compare case-insensitively, as Bandwidth's do.
    assert [n.status for n in Notification.objects.of_order("p-1", "PORTINS")] == [
        "SUBMITTED",
        "FOC",
    ]
    api = admin_client.get(
        reverse("bw_notifications_api:order-timeline"), {"order_id": "p-1", "order_type": "PortIns"}
    ).json()
    assert [row["status"] for row in api["results"]] == ["SUBMITTED", "FOC"]


def test_long_values_keep_the_list_narrow(deliver: Any, admin_client: Client) -> None:
    deliver(
        build_order_notification(
            "bulkPortins" + "X" * 60,
            "VALIDATION_FAILED_" + "Y" * 40,
            customer_order_id="ACME-CORP-PORT-2024-03-01-BATCH-0043-XYZ" * 3,
        )
    )
    html = admin_client.get(
        reverse("admin:bw_notifications_notification_changelist")
    ).content.decode()
    assert "ACME-CORP-PORT-20…" in html  # cut, with the whole value on hover
    assert 'title="customer order id: ACME-CORP-PORT-2024' in html
    assert "X" * 30 not in html.split('title="bulkPortins')[1].split(">")[1]


@pytest.mark.parametrize("query", ["order_type=%00", "q=%00", "status=FOC&order_type=%00"])
def test_replay_failed_refuses_a_nul_instead_of_replaying_everything(
    stored: dict[str, Notification], admin_client: Client, query: str
) -> None:
    Notification.objects.update(processing_state="failed")
    before = sorted(Notification.objects.values_list("attempts", flat=True))
    url = reverse("admin:bw_notifications_notification_replay_failed") + "?" + query
    page = admin_client.get(url, follow=True)
    assert page.status_code == 200
    assert "NUL character" in page.content.decode()
    posted = admin_client.post(url, follow=True)
    assert "NUL character" in posted.content.decode()
    assert sorted(Notification.objects.values_list("attempts", flat=True)) == before  # none ran


@pytest.mark.parametrize(
    "value", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "9999-12-31"]
)
def test_dates_at_the_calendars_edges_are_not_a_500(
    stored: dict[str, Notification], admin_client: Client, value: str
) -> None:
    api = admin_client.get(
        reverse("bw_notifications_api:notification-list"), {"received_after": value}
    )
    assert api.status_code in (200, 400)
    listing = admin_client.get(
        reverse("admin:bw_notifications_notification_changelist"),
        {"received_at__gte": value},
        follow=True,
    )
    assert listing.status_code == 200
