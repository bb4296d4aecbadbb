"""A failed notification's page starts with the failure and a replay button (issue 24,
item 4): which receiver raised what, on which attempt and when; the button replays once."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from django_bw_notifications import signals
from django_bw_notifications.models import Notification, ProcessingState
from tests.support import payload

pytestmark = pytest.mark.django_db


class CRM:
    """A receiver that raises while ``down``."""

    down = True

    def __call__(self, sender: Any, notification: Notification, **kwargs: Any) -> None:
        if self.down:
            raise ConnectionError("CRM unreachable: connection refused (crm.internal:443)")


@pytest.fixture
def crm(connect: Any) -> CRM:
    receiver = CRM()
    connect(signals.notification_received, receiver)
    return receiver


@pytest.fixture
def failed(deliver: Any, crm: CRM) -> Notification:
    notification: Notification = deliver(payload("01"))
    assert notification.processing_state == ProcessingState.FAILED
    return notification


def page(client: Client, notification: Notification) -> str:
    response = client.get(
        reverse("admin:bw_notifications_notification_change", args=[notification.pk])
    )
    assert response.status_code == 200
    return str(response.content.decode())


def press(client: Client, notification: Notification, html: str) -> Any:
    attempts = re.search(r'name="attempts" value="(\d+)"', html)
    assert attempts is not None, "no replay button"
    return client.post(
        reverse("admin:bw_notifications_notification_replay", args=[notification.pk]),
        {"attempts": attempts.group(1)},
        follow=True,
    )


def test_the_page_starts_with_the_failure(admin_client: Client, failed: Notification) -> None:
    html = page(admin_client, failed)
    top = html.index('id="failure"')
    # Before the parsed fields, the traceback and the history.
    assert top < html.index("field-order_type") < html.index('class="bw-history"')
    panel = html[top : html.index("</div>", top)]
    assert "CRM unreachable: connection refused" in panel
    assert "CRM" in re.search(r'<code class="bw-receiver">([^<]+)</code>', panel).group(1)  # type: ignore[union-attr]
    assert "Attempt 1" in panel
    assert "1 attempt in all" in panel
    assert "Traceback" not in panel  # the traceback follows, below


def test_a_processed_notification_has_no_failure_panel(admin_client: Client, deliver: Any) -> None:
    processed = deliver(payload("01"))
    assert processed.processing_state == ProcessingState.PROCESSED
    assert 'id="failure"' not in page(admin_client, processed)


def test_the_button_replays_once_under_a_double_submit(
    admin_client: Client, failed: Notification, crm: CRM
) -> None:
    html = page(admin_client, failed)
    crm.down = False
    first = press(admin_client, failed, html)
    assert "Replayed: every receiver succeeded." in first.content.decode()
    second = press(admin_client, failed, html)  # the same page, submitted again
    assert "Not replayed" in second.content.decode()
    failed.refresh_from_db()
    assert failed.processing_state == ProcessingState.PROCESSED
    assert failed.attempts == 2
    assert list(failed.dispatch_attempts.values_list("trigger", flat=True)) == [
        "first",
        "replay",
    ]
    assert 'id="failure"' not in page(admin_client, failed)


def test_a_replay_that_fails_again_says_so_and_the_panel_counts_it(
    admin_client: Client, failed: Notification
) -> None:
    response = press(admin_client, failed, page(admin_client, failed))
    assert "failed again (1 receiver)" in response.content.decode()
    panel = page(admin_client, failed)
    assert "Attempt 2 (replay)" in panel
    assert "2 attempts in all" in panel


def test_the_button_needs_the_replay_permission(client: Client, failed: Notification) -> None:
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_notification"))
    client.force_login(viewer)
    html = page(client, failed)
    assert 'id="failure"' in html
    assert 'name="attempts"' not in html
    assert "needs the permission" in html
    url = reverse("admin:bw_notifications_notification_replay", args=[failed.pk])
    assert client.post(url, {"attempts": "1"}).status_code == 403
    failed.refresh_from_db()
    assert failed.attempts == 1


def test_a_get_replays_nothing_and_the_form_needs_its_csrf_token(
    failed: Notification, admin_user: User
) -> None:
    url = reverse("admin:bw_notifications_notification_replay", args=[failed.pk])
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(admin_user)
    assert strict.get(url).status_code == 302
    assert strict.post(url, {"attempts": "1"}).status_code == 403
    failed.refresh_from_db()
    assert failed.attempts == 1
