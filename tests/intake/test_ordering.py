"""Out-of-order delivery: an older LastModifiedDate after a newer one is flagged stale."""

from __future__ import annotations

from typing import Any

import pytest

from django_bw_notifications import signals
from django_bw_notifications.models import Notification
from django_bw_notifications.testing import build_order_notification, post_notification

pytestmark = pytest.mark.django_db


def deliver(
    status: str, when: str | None, *, order_id: str = "p-1", order_type: str = "portins"
) -> Notification:
    return post_notification(
        build_order_notification(order_type, status, order_id=order_id, last_modified_date=when)
    )


def test_an_older_state_arriving_late_is_stored_dispatched_and_flagged(connect: Any) -> None:
    seen: list[tuple[str, bool]] = []
    connect(
        signals.portins,
        lambda notification, **kw: seen.append((notification.status, notification.is_stale)),
    )
    deliver("COMPLETE", "2024-03-02T10:00:00.000Z")
    deliver("FOC", "2024-03-01T10:00:00.000Z")
    assert seen == [("COMPLETE", False), ("FOC", True)]
    assert dict(Notification.objects.values_list("status", "is_stale")) == {
        "COMPLETE": False,
        "FOC": True,
    }


def test_in_order_deliveries_are_not_stale() -> None:
    results = [
        deliver(status, when).is_stale
        for status, when in [
            ("SUBMITTED", "2024-03-01T10:00:00.000Z"),
            ("FOC", "2024-03-02T10:00:00.000Z"),
            ("COMPLETE", "2024-03-03T10:00:00.000Z"),
        ]
    ]
    assert results == [False, False, False]


def test_order_type_case_does_not_matter_but_the_order_does() -> None:
    deliver("COMPLETE", "2024-03-02T10:00:00.000Z", order_type="portins")
    assert deliver("FOC", "2024-03-01T10:00:00.000Z", order_type="PORTINS").is_stale
    assert not deliver("FOC", "2024-03-01T10:00:00.000Z", order_id="other").is_stale
    assert not deliver("FOC", "2024-03-01T10:00:00.000Z", order_type="orders").is_stale


def test_without_a_date_or_an_order_id_nothing_is_stale() -> None:
    deliver("COMPLETE", "2024-03-02T10:00:00.000Z")
    assert not deliver("FOC", None).is_stale
    assert not deliver("FOC", "2024-03-01T10:00:00.000Z", order_id="").is_stale


def test_the_same_moment_is_not_stale() -> None:
    deliver("COMPLETE", "2024-03-02T10:00:00.000Z")
    assert not deliver("COMPLETE", "2024-03-02T10:00:00.000Z").is_stale
    assert not deliver("NOTE", "2024-03-02T10:00:00.000Z").is_stale
