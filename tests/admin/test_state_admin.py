"""The order board and the numbers list: what state each order and number is in."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_bw_notifications.models import AccountNumber, Notification, Order
from django_bw_notifications.testing import build_order_notification

pytestmark = pytest.mark.django_db

BOARD = reverse("admin:bw_notifications_order_changelist")
NUMBERS = reverse("admin:bw_notifications_accountnumber_changelist")


@pytest.fixture
def book(deliver: Any) -> dict[str, Order]:
    """A port-in with a FOC and a late copy of it, a completed order, a disconnect."""
    deliver(
        build_order_notification(
            "portins",
            "SUBMITTED",
            order_id="pi-1",
            numbers=[],
            last_modified_date="2026-11-30T09:00:00Z",
        )
    )
    deliver(
        build_order_notification(
            "portins",
            "FOC",
            order_id="pi-1",
            numbers=[],
            actual_foc_date="2026-12-20T15:00:00Z",
            last_modified_date="2026-12-01T10:00:00Z",
        )
    )
    # The same FOC again (another subscription's copy): stored, marked, not dispatched.
    deliver(
        build_order_notification(
            "portins",
            "FOC",
            order_id="pi-1",
            numbers=[],
            subscription_id="other-subscription",
            actual_foc_date="2026-12-20T15:00:00Z",
            last_modified_date="2026-12-01T10:00:00Z",
        )
    )
    deliver(
        build_order_notification(
            "orders", "COMPLETE", order_id="o-1", numbers=["9195550901", "9195550902"]
        )
    )
    deliver(
        build_order_notification("disconnects", "COMPLETE", order_id="d-1", numbers=["9195550902"])
    )
    return {order.order_id: order for order in Order.objects.all()}


def test_the_board_lists_open_orders_first(admin_client: Client, book: dict[str, Order]) -> None:
    response = admin_client.get(BOARD)
    assert response.status_code == 200
    listed = [order.order_id for order in response.context["cl"].result_list]
    assert listed[0] == "pi-1"  # the only open one
    assert set(listed) == {"pi-1", "o-1", "d-1"}
    assert b"FOC" in response.content


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"open": "yes"}, {"pi-1"}),
        ({"open": "no"}, {"o-1", "d-1"}),
        ({"order_type": "portins"}, {"pi-1"}),
        ({"order_type": "orders", "status": "COMPLETE"}, {"o-1"}),
        ({"status": "complete"}, {"o-1", "d-1"}),
        ({"q": "o-1"}, {"o-1"}),
    ],
)
def test_the_board_filters(
    admin_client: Client, book: dict[str, Order], query: dict[str, str], expected: set[str]
) -> None:
    response = admin_client.get(BOARD, query)
    assert response.status_code == 200
    assert {order.order_id for order in response.context["cl"].result_list} == expected


def test_no_news_for_n_days_finds_the_quiet_open_orders(
    admin_client: Client, book: dict[str, Order]
) -> None:
    assert not admin_client.get(BOARD, {"quiet_days": "3"}).context["cl"].result_list
    Order.objects.filter(order_id="pi-1").update(
        last_notified_at=timezone.now() - timedelta(days=4)
    )
    Order.objects.filter(order_id="o-1").update(last_notified_at=timezone.now() - timedelta(days=9))
    quiet = admin_client.get(BOARD, {"quiet_days": "3"}).context["cl"].result_list
    assert [order.order_id for order in quiet] == ["pi-1"]  # o-1 is closed


def test_an_orders_page_shows_its_timeline_and_changes(
    admin_client: Client, book: dict[str, Order]
) -> None:
    order = book["pi-1"]
    response = admin_client.get(reverse("admin:bw_notifications_order_change", args=[order.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    notifications = list(Notification.objects.filter(order_id="pi-1").order_by("id"))
    assert len(notifications) == 3
    for notification in notifications:
        url = reverse("admin:bw_notifications_notification_change", args=[notification.pk])
        assert url in page
    # The late copy is marked as one; the changes are the ones that happened.
    assert f"copy of {notifications[1].pk}" in page
    assert "(new) → SUBMITTED" in page
    assert "SUBMITTED → FOC" in page
    assert "2026-12-20" in page


def test_a_notification_links_to_its_order_and_a_copy_to_its_first(
    admin_client: Client, book: dict[str, Order]
) -> None:
    copy = Notification.objects.filter(order_id="pi-1").order_by("id").last()
    assert copy is not None
    assert copy.copy_of_id is not None
    response = admin_client.get(
        reverse("admin:bw_notifications_notification_change", args=[copy.pk])
    )
    page = response.content.decode()
    assert reverse("admin:bw_notifications_order_change", args=[book["pi-1"].pk]) in page
    assert "a copy of <a href=" in page
    assert f"notification {copy.copy_of_id}</a>" in page


@pytest.mark.parametrize("typed", ["919-555-0901", "+1 (919) 555 0901", "9195550901"])
def test_the_numbers_list_finds_a_number_typed_any_way(
    admin_client: Client, book: dict[str, Order], typed: str
) -> None:
    response = admin_client.get(NUMBERS, {"q": typed})
    assert response.status_code == 200
    assert [n.e164 for n in response.context["cl"].result_list] == ["+19195550901"]


def test_the_numbers_list_filters_by_state(admin_client: Client, book: dict[str, Order]) -> None:
    response = admin_client.get(NUMBERS, {"state": "disconnected"})
    assert [n.e164 for n in response.context["cl"].result_list] == ["+19195550902"]


def test_a_numbers_page_shows_its_history_and_links_both_ways(
    admin_client: Client, book: dict[str, Order]
) -> None:
    number = AccountNumber.objects.get(e164="+19195550902")
    response = admin_client.get(
        reverse("admin:bw_notifications_accountnumber_change", args=[number.pk])
    )
    page = response.content.decode()
    assert "(new) → in_service" in page
    assert "in_service → disconnected" in page
    assert f"{BOARD}?q=d-1" in page  # the order that set its state
    assert "?q=%2B19195550902" in page  # its notifications
    # And the notification list, searched for it, finds both of its notifications.
    found = admin_client.get(
        reverse("admin:bw_notifications_notification_changelist"), {"q": "+19195550902"}
    )
    assert {n.order_id for n in found.context["cl"].result_list} == {"o-1", "d-1"}


def test_the_state_is_read_only(admin_client: Client, book: dict[str, Order]) -> None:
    order = book["o-1"]
    url = reverse("admin:bw_notifications_order_change", args=[order.pk])
    admin_client.post(url, {"status": "FAILED"})
    order.refresh_from_db()
    assert order.status == "COMPLETE"
    assert admin_client.get(reverse("admin:bw_notifications_order_add")).status_code == 403


def test_detail_pages_cost_a_fixed_number_of_queries(
    admin_client: Client, book: dict[str, Order], django_assert_max_num_queries: Any
) -> None:
    order = book["pi-1"]
    number = AccountNumber.objects.get(e164="+19195550902")
    with django_assert_max_num_queries(12):
        admin_client.get(reverse("admin:bw_notifications_order_change", args=[order.pk]))
    with django_assert_max_num_queries(12):
        admin_client.get(reverse("admin:bw_notifications_accountnumber_change", args=[number.pk]))
    with django_assert_max_num_queries(12):
        admin_client.get(BOARD)
    with django_assert_max_num_queries(12):
        admin_client.get(NUMBERS)
