"""Accepting a refused delivery again from the admin: confirmed first, permission-gated,
with its original arrival time and its endpoint's account, exactly once under a double
submit, and recorded on both rows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_bw_notifications.intake.again import Again, accept_again
from django_bw_notifications.models import Notification, RejectedDelivery
from tests.support import payload

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:bw_notifications_rejecteddelivery_changelist"


@pytest.fixture
def refused(post: Any) -> RejectedDelivery:
    """A real refusal of a truncated body, then made acceptable as a parser fix would:
    the kept body replaced by a real one, two days old, from account east."""
    assert post(b"<Notification><Status>COMPLETE").status_code == 400
    row = RejectedDelivery.objects.get()
    # As if a parser fix now read what was refused: the kept body is a real one.
    RejectedDelivery.objects.filter(pk=row.pk).update(
        body=payload("01"), received_at=timezone.now() - timedelta(days=2), account="east"
    )
    row.refresh_from_db()
    return row


def _press(client: Client, row: RejectedDelivery, **extra: str) -> Any:
    data = {"action": "accept_again", "_selected_action": [str(row.pk)], **extra}
    return client.post(reverse(CHANGELIST), data, follow=True)


def test_it_asks_first_then_stores_once_with_the_original_time_and_account(
    admin_client: Client,
    refused: RejectedDelivery,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.BW_NOTIFICATIONS_ACCOUNTS = {"east": {}}
    asked = _press(admin_client, refused)
    assert "Yes, accept them again" in asked.content.decode()
    assert not Notification.objects.exists()  # nothing until confirmed
    with django_capture_on_commit_callbacks(execute=True):  # dispatched once committed
        done = _press(admin_client, refused, confirmed="yes")
    assert "Accepted 1 delivery again" in done.content.decode()
    notification = Notification.objects.get()
    assert notification.received_at == refused.received_at
    assert notification.account == "east"
    assert notification.processing_state == "processed"  # dispatched
    refused.refresh_from_db()
    assert refused.accepted_as == notification
    assert refused.accepted_at is not None
    assert list(notification.accepted_from.all()) == [refused]
    # A second press (a double submit) does nothing.
    again = _press(admin_client, refused, confirmed="yes")
    assert "accepted again already" in again.content.decode()
    assert Notification.objects.count() == 1


def test_a_body_that_still_does_not_parse_stays_refused(admin_client: Client, post: Any) -> None:
    assert post(b"<not xml").status_code == 400
    row = RejectedDelivery.objects.get()
    response = _press(admin_client, row, confirmed="yes")
    assert "still refused" in response.content.decode()
    row.refresh_from_db()
    assert row.accepted_at is None  # free for the next fix
    assert not Notification.objects.exists()
    assert RejectedDelivery.objects.count() == 1  # not refused a second time


def test_a_database_that_does_not_take_it_releases_the_claim(refused: RejectedDelivery) -> None:
    from django.db import OperationalError

    with mock.patch(
        "django_bw_notifications.intake.storage.store", side_effect=OperationalError("down")
    ):
        outcome = accept_again(refused.pk)
    assert outcome.result is Again.UNAVAILABLE
    refused.refresh_from_db()
    assert refused.accepted_at is None
    assert accept_again(refused.pk).result is Again.ACCEPTED


def test_only_those_with_the_permission_see_the_action(
    client: Client, refused: RejectedDelivery
) -> None:
    staff = User.objects.create_user("ops", password="pw-pw-pw-pw", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_rejecteddelivery"))
    client.force_login(staff)
    listing = client.get(reverse(CHANGELIST))
    assert "accept_again" not in listing.content.decode()
    _press(client, refused, confirmed="yes")
    assert not Notification.objects.exists()
    staff.user_permissions.add(Permission.objects.get(codename="accept_rejecteddelivery"))
    staff = User.objects.get(pk=staff.pk)  # permissions are cached per instance
    client.force_login(staff)
    assert "accept_again" in client.get(reverse(CHANGELIST)).content.decode()
    _press(client, refused, confirmed="yes")
    assert Notification.objects.count() == 1


def test_a_refusal_records_the_endpoint_it_came_to(client: Client, settings: Any) -> None:
    from tests.support import basic

    settings.BW_NOTIFICATIONS_ACCOUNTS = {"east": {"BASIC_AUTH": [("east", "east-password-long")]}}
    url = reverse("bw_notifications:account_webhook", kwargs={"account": "east"})
    response = client.post(
        url,
        b"<not xml",
        content_type="application/xml",
        HTTP_AUTHORIZATION=basic("east", "east-password-long"),
    )
    assert response.status_code == 400
    assert RejectedDelivery.objects.get().account == "east"


def test_rows_accepted_already_do_not_use_up_a_press(
    admin_client: Client, post: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr("django_bw_notifications.admin.rejected.ACCEPT_LIMIT", 2)
    for order_id in ("a-1", "a-2", "a-3"):
        assert post(b"<Notification><OrderId>" + order_id.encode()).status_code == 400
    for i, row in enumerate(RejectedDelivery.objects.order_by("id")):
        RejectedDelivery.objects.filter(pk=row.pk).update(body=payload(("01", "06", "18")[i]))
    select_all = {
        "action": "accept_again",
        "select_across": "1",
        "confirmed": "yes",
        "_selected_action": [str(r.pk) for r in RejectedDelivery.objects.all()],
    }
    admin_client.post(reverse(CHANGELIST), select_all, follow=True)
    assert Notification.objects.count() == 2  # the limit
    second = admin_client.post(reverse(CHANGELIST), select_all, follow=True)
    assert Notification.objects.count() == 3  # the third, not the first two again
    assert "2 had been accepted again already" in second.content.decode()
    waiting = admin_client.get(reverse(CHANGELIST), {"accepted": "no"})
    assert waiting.context["cl"].result_count == 0
    assert (
        admin_client.get(reverse(CHANGELIST), {"accepted": "yes"}).context["cl"].result_count == 3
    )


def test_an_empty_body_is_said_to_be_empty(post: Any) -> None:
    assert post(b"").status_code == 400
    outcome = accept_again(RejectedDelivery.objects.get().pk)
    assert outcome.result is Again.REFUSED
    assert "it was empty" in outcome.reason


def test_a_database_refusal_is_logged_with_its_error(
    refused: RejectedDelivery, caplog: Any
) -> None:
    from django.db import IntegrityError

    with mock.patch(
        "django_bw_notifications.intake.storage.store", side_effect=IntegrityError("trigger")
    ):
        outcome = accept_again(refused.pk)
    assert outcome.result is Again.UNAVAILABLE
    assert "trigger" in outcome.reason
    assert any("could not be accepted again" in r.getMessage() for r in caplog.records)


def test_the_confirmation_of_rows_all_accepted_offers_nothing_to_press(
    admin_client: Client, refused: RejectedDelivery
) -> None:
    assert accept_again(refused.pk).result is Again.ACCEPTED
    page = _press(admin_client, refused).content.decode()
    assert "accepted again already" in page
    assert "Yes, accept them again" not in page
