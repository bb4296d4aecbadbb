"""The admin is usable: list, search by number in either form, read-only detail, replay."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from django_bw_notifications.models import Notification, ProcessingState, RejectedDelivery
from tests.support import notification_xml, payload

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:bw_notifications_notification_changelist"


@pytest.fixture
def stored(post: Any, django_capture_on_commit_callbacks: Any) -> list[Notification]:
    with django_capture_on_commit_callbacks(execute=True):
        for name in ("01", "07", "16", "21"):
            assert post(payload(name)).status_code == 200
    return list(Notification.objects.order_by("id"))


def test_list_shows_notifications(admin_client: Client, stored: list[Notification]) -> None:
    response = admin_client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    for notification in stored:
        assert notification.order_type in response.content.decode()


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("9195551234", "ee456cfb-d237-4adc-b3f8-9db03d2e62a2"),
        ("+19195551234", "ee456cfb-d237-4adc-b3f8-9db03d2e62a2"),
        ("9195550105", "7e0b9c55-3f43-4c8e-a6f2-95d1b2c0e8a4"),
        ("a8ef295b-fcf4-44a7-945c-0520c8f49123", "a8ef295b-fcf4-44a7-945c-0520c8f49123"),
        ("crm-order-20240301-0042", "7e0b9c55-3f43-4c8e-a6f2-95d1b2c0e8a4"),
    ],
)
def test_search_by_order_id_customer_order_id_or_number_in_either_form(
    admin_client: Client, stored: list[Notification], term: str, expected: str
) -> None:
    response = admin_client.get(reverse(CHANGELIST), {"q": term})
    shown = list(response.context["cl"].result_list)
    assert [n.order_id for n in shown] == [expected]


def test_filters_by_state_and_type(admin_client: Client, stored: list[Notification]) -> None:
    response = admin_client.get(reverse(CHANGELIST), {"order_type": "portins"})
    assert [n.order_type for n in response.context["cl"].result_list] == ["portins"]
    response = admin_client.get(reverse(CHANGELIST), {"processing_state": "processed"})
    assert len(response.context["cl"].result_list) == 4


def test_detail_is_read_only_and_escapes_hostile_text(admin_client: Client, post: Any) -> None:
    post(notification_xml(extra="<Message>&lt;script&gt;alert(1)&lt;/script&gt;</Message>"))
    notification = Notification.objects.get()
    response = admin_client.get(
        reverse("admin:bw_notifications_notification_change", args=[notification.pk])
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'name="_save"' not in html
    assert admin_client.get(reverse("admin:bw_notifications_notification_add")).status_code == 403


def test_replay_action_needs_the_replay_permission(
    client: Client, stored: list[Notification]
) -> None:
    staff = User.objects.create_user("ops", password="pw", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_notification"))
    client.force_login(staff)
    data = {"action": "replay_signals", "_selected_action": [n.pk for n in stored]}
    client.post(reverse(CHANGELIST), data)
    assert set(Notification.objects.values_list("attempts", flat=True)) == {1}

    staff.user_permissions.add(Permission.objects.get(codename="replay_notification"))
    staff = User.objects.get(pk=staff.pk)
    client.force_login(staff)
    response = client.post(reverse(CHANGELIST), data, follow=True)
    assert "Replayed 4: 4 succeeded, 0 failed." in response.content.decode()
    assert set(Notification.objects.values_list("attempts", flat=True)) == {2}
    assert set(Notification.objects.values_list("processing_state", flat=True)) == {
        ProcessingState.PROCESSED
    }


def test_only_superusers_may_delete(
    client: Client, admin_client: Client, stored: list[Notification]
) -> None:
    staff = User.objects.create_user("viewer", password="pw", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__endswith="_notification"))
    client.force_login(staff)
    url = reverse("admin:bw_notifications_notification_delete", args=[stored[0].pk])
    assert client.get(url).status_code == 403
    assert admin_client.get(url).status_code == 200


def test_rejected_deliveries_show_reason_and_body(admin_client: Client, post: Any) -> None:
    post(b"<Order>oops</Order>")
    rejected = RejectedDelivery.objects.get()
    response = admin_client.get(
        reverse("admin:bw_notifications_rejecteddelivery_change", args=[rejected.pk])
    )
    html = response.content.decode()
    assert "root element is &lt;Order&gt;" in html
    assert "&lt;Order&gt;oops&lt;/Order&gt;" in html
