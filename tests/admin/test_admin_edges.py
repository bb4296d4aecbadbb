"""The notification admin at its edges: the date drill-down down to one day, the
replay-failed page naming its conditions as the filter panel does, dates at the
calendar's edge there, a detail page for a notification that is gone, and the capped
paginator on a plain list."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from django_bw_notifications.admin import CappedCountPaginator
from django_bw_notifications.models import Notification, ProcessingState
from tests.support import notification_xml

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:bw_notifications_notification_changelist")
REPLAY_FAILED = reverse("admin:bw_notifications_notification_replay_failed")


@pytest.fixture
def january(deliver: Any) -> list[Notification]:
    stored = [deliver(notification_xml(order_id=f"jan-{day}", status="FAILED")) for day in (5, 6)]
    for notification, day in zip(stored, (5, 6), strict=True):
        Notification.objects.filter(pk=notification.pk).update(
            received_at=datetime(2026, 1, day, 12, tzinfo=UTC),
            processing_state=ProcessingState.FAILED,
        )
    return stored


def test_the_date_drill_down_reaches_one_day(admin_client: Client, january: Any) -> None:
    response = admin_client.get(
        CHANGELIST,
        {"received_at__year": "2026", "received_at__month": "1", "received_at__day": "5"},
    )
    assert [n.order_id for n in response.context["cl"].result_list] == ["jan-5"]
    html = response.content.decode()
    # Back to the month, and the chosen day shown (not a list of days to choose from).
    assert "January 2026" in html
    assert "January 5" in html
    assert "January 6" not in html


def test_replay_failed_names_search_and_date_conditions_like_the_panel(
    admin_client: Client, january: Any
) -> None:
    page = admin_client.get(REPLAY_FAILED, {"q": "jan-5", "received_at__year": "2026"})
    assert page.status_code == 200
    assert page.context["failed_count"] == 1
    assert page.context["conditions"] == ["search: jan-5", "received year: 2026"]


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_replay_failed_with_a_date_at_the_calendars_edge_is_not_a_500(
    admin_client: Client, january: Any, value: str
) -> None:
    page = admin_client.get(REPLAY_FAILED, {"received_at__gte": value}, follow=True)
    assert page.status_code == 200
    if page.redirect_chain:
        # The database could not take the date (SQLite): back to the list, with the reason.
        assert page.redirect_chain[-1][0] == CHANGELIST
        assert "a date out of range; the filters were cleared" in page.content.decode()
    else:  # PostgreSQL's calendar reaches further: the date is simply used
        assert page.context["failed_count"] == (2 if value.startswith("0001") else 0)


def test_the_detail_of_a_notification_that_is_gone_says_so(admin_client: Client) -> None:
    url = reverse("admin:bw_notifications_notification_change", args=[999_999])
    response = admin_client.get(url, follow=True)
    assert response.status_code == 200
    # Django's message, with its typographic apostrophe.
    assert "with ID “999999” doesn\N{RIGHT SINGLE QUOTATION MARK}t exist" in (
        response.content.decode()
    )


def test_the_capped_paginator_counts_a_plain_list_exactly() -> None:
    paginator = CappedCountPaginator(list(range(25)), 10)
    assert paginator.count == 25
    assert paginator.num_pages == 3
