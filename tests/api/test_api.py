"""The REST API: every filter, pagination, detail, timeline, replay, permissions, errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from django_bw_notifications import signals
from django_bw_notifications.models import Notification, ProcessingState
from django_bw_notifications.testing import build_event_notification, build_order_notification

pytestmark = pytest.mark.django_db

LIST = reverse("bw_notifications_api:notification-list")
TIMELINE = reverse("bw_notifications_api:order-timeline")
SCHEMA = reverse("bw_notifications_api:schema")


def detail(pk: int) -> str:
    return reverse("bw_notifications_api:notification-detail", args=[pk])


def replay(pk: int) -> str:
    return reverse("bw_notifications_api:notification-replay", args=[pk])


@pytest.fixture
def story(deliver: Callable[..., Notification], post: Callable[..., Any]) -> list[Notification]:
    """A port-in in three steps, a failed order listing a number in E.164, an event."""
    steps = [
        deliver(
            build_order_notification(
                "portins",
                status,
                order_id="port-1",
                customer_order_id="crm-77",
                subscription_id="sub-portins",
                numbers=["9195551234"],
            )
        )
        for status in ("SUBMITTED", "FOC", "COMPLETE")
    ]

    def boom(**kwargs: Any) -> None:
        raise RuntimeError("CRM down")

    signals.notification_received.connect(boom, weak=False)
    try:
        failed = deliver(build_order_notification("orders", "FAILED", numbers=["+19195551234"]))
    finally:
        signals.notification_received.disconnect(boom)
    event_body = build_event_notification(numbers=["9195550000"], subscription_id="sub-ev")
    event = deliver(event_body)
    post(event_body)  # Bandwidth's copy: a duplicate
    when = datetime(2026, 1, 1, tzinfo=UTC)
    for offset, notification in enumerate([*steps, failed, event]):
        Notification.objects.filter(pk=notification.pk).update(
            received_at=when + timedelta(days=offset)
        )
    return [*steps, failed, event]


@pytest.fixture
def admin_api(admin_user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(admin_user)
    return client


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


# -- filters -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, [4, 3, 2, 1, 0]),
        ({"order_type": "portins"}, [2, 1, 0]),
        ({"status": "FAILED"}, [3]),
        ({"order_type": "portins", "status": "FOC"}, [1]),
        ({"event_type": "MESSAGING_LOST"}, [4]),
        ({"order_id": "port-1"}, [2, 1, 0]),
        ({"customer_order_id": "crm-77"}, [2, 1, 0]),
        ({"subscription_id": "sub-ev"}, [4]),
        ({"processing_state": "failed"}, [3]),
        ({"processing_state": "processed"}, [4, 2, 1, 0]),
        ({"processing_state": "duplicated"}, [4]),
        ({"telephone_number": "9195551234"}, [3, 2, 1, 0]),
        ({"telephone_number": "+19195551234"}, [3, 2, 1, 0]),
        ({"telephone_number": " 9195550000 "}, [4]),
        ({"received_after": "2026-01-03"}, [4, 3, 2]),
        ({"received_before": "2026-01-03T00:00:00Z"}, [1, 0]),
        ({"received_after": "2026-01-02", "received_before": "2026-01-04"}, [2, 1]),
        ({"order_type": "nope"}, []),
    ],
)
def test_every_filter(
    admin_api: APIClient, story: list[Notification], query: dict[str, str], expected: list[int]
) -> None:
    assert ids(admin_api.get(LIST, query)) == [story[i].pk for i in expected]


@pytest.mark.parametrize(
    ("query", "field", "reason"),
    [
        ({"processing_state": "done"}, "processing_state", "'done' is not one of"),
        ({"received_after": "yesterday"}, "received_after", "not an ISO 8601"),
        ({"received_before": "2026-02-30"}, "received_before", "not an ISO 8601"),
        ({"telephone_number": " "}, "telephone_number", "give a number"),
        ({"ordertype": "portins"}, "ordertype", "unknown parameter"),
        ({"order_id": "a\x00b"}, "order_id", "NUL"),
    ],
)
def test_bad_filters_are_a_400_naming_the_problem(
    admin_api: APIClient, story: list[Notification], query: dict[str, str], field: str, reason: str
) -> None:
    response = admin_api.get(LIST, query)
    assert response.status_code == 400
    assert reason in response.json()[field]


def test_cursor_pagination_walks_every_row_once(
    admin_api: APIClient, story: list[Notification], monkeypatch: pytest.MonkeyPatch
) -> None:
    from django_bw_notifications.api.views import NewestFirst

    monkeypatch.setattr(NewestFirst, "page_size", 2)
    seen: list[int] = []
    page = admin_api.get(LIST).json()
    while True:
        seen += [item["id"] for item in page["results"]]
        if not page["next"]:
            break
        page = admin_api.get(page["next"]).json()
    assert seen == [n.pk for n in reversed(story)]
    assert "count" not in page  # no COUNT(*) over the table


# -- detail, timeline, replay -------------------------------------------------------


def test_detail_has_numbers_body_and_error(admin_api: APIClient, story: list[Notification]) -> None:
    failed = story[3]
    data = admin_api.get(detail(failed.pk)).json()
    assert data["telephone_numbers"] == [
        {"number": "+19195551234", "e164": "+19195551234", "kind": "completed"}
    ]
    assert data["raw_body"] == failed.raw_body
    assert "RuntimeError: CRM down" in data["last_error"]
    assert data["processing_state"] == "failed"
    assert data["url"].endswith(detail(failed.pk))
    assert admin_api.get(detail(999_999)).status_code == 404


def test_timeline_is_oldest_first(admin_api: APIClient, story: list[Notification]) -> None:
    response = admin_api.get(TIMELINE, {"order_id": "port-1", "order_type": "portins"})
    assert [item["status"] for item in response.json()["results"]] == [
        "SUBMITTED",
        "FOC",
        "COMPLETE",
    ]
    assert ids(admin_api.get(TIMELINE, {"order_id": "port-1", "order_type": "orders"})) == []
    missing = admin_api.get(TIMELINE)
    assert missing.status_code == 400
    assert "required" in missing.json()["order_id"]
    assert admin_api.get(TIMELINE, {"order_id": "x", "q": "y"}).status_code == 400


def test_replay_records_the_outcome(admin_api: APIClient, story: list[Notification]) -> None:
    failed = story[3]
    response = admin_api.post(replay(failed.pk))
    assert response.status_code == 200
    assert response.json() == {
        "notification": failed.pk,
        "succeeded": True,
        "receivers_called": 0,
        "failures": [],
    }
    failed.refresh_from_db()
    assert (failed.processing_state, failed.attempts) == (ProcessingState.PROCESSED, 2)
    assert admin_api.post(replay(999_999)).status_code == 404
    assert admin_api.get(replay(failed.pk)).status_code == 405


def test_replay_reports_failing_receivers(admin_api: APIClient, story: list[Notification]) -> None:
    def boom(**kwargs: Any) -> None:
        raise ValueError("still down")

    signals.notification_received.connect(boom, weak=False)
    try:
        data = admin_api.post(replay(story[0].pk)).json()
    finally:
        signals.notification_received.disconnect(boom)
    assert data["succeeded"] is False
    assert data["failures"][0]["error"] == "ValueError: still down"


# -- permissions ---------------------------------------------------------------------


@pytest.fixture
def staff() -> Callable[..., APIClient]:
    def _client(*codenames: str, is_staff: bool = True) -> APIClient:
        user = User.objects.create_user(f"u{User.objects.count()}", is_staff=is_staff)
        user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
        client = APIClient()
        client.force_authenticate(User.objects.get(pk=user.pk))
        return client

    return _client


def test_reading_needs_what_the_admin_needs_by_default(
    story: list[Notification], staff: Callable[..., APIClient]
) -> None:
    assert APIClient().get(LIST).status_code == 403
    assert staff("view_notification", is_staff=False).get(LIST).status_code == 403
    # Staff without the view permission sees nothing in the admin, so nothing here.
    refused = staff().get(LIST)
    assert refused.status_code == 403
    assert "view_notification" in refused.json()["detail"]
    assert staff().get(f"{LIST}{story[0].pk}/").status_code == 403
    assert staff("view_notification").get(LIST).status_code == 200
    # The admin lets the change permission view too; so does the API.
    assert staff("change_notification").get(LIST).status_code == 200
    assert APIClient().get(SCHEMA).status_code == 403


def test_replaying_needs_the_replay_permission(
    story: list[Notification], staff: Callable[..., APIClient]
) -> None:
    viewer = staff("view_notification")
    refused = viewer.post(replay(story[0].pk))
    assert refused.status_code == 403
    assert "replay_notification" in refused.json()["detail"]
    # Replay alone is not enough: the admin needs view and replay, and so does this.
    assert staff("replay_notification").post(replay(story[0].pk)).status_code == 403
    both = staff("view_notification", "replay_notification")
    assert both.post(replay(story[0].pk)).status_code == 200
    assert (
        staff("view_notification", "replay_notification", is_staff=False)
        .post(replay(story[0].pk))
        .status_code
        == 403
    )


def test_permissions_come_from_settings(
    story: list[Notification], staff: Callable[..., APIClient]
) -> None:
    anyone = APIClient()
    with override_settings(
        BW_NOTIFICATIONS_API_PERMISSION_CLASSES=["rest_framework.permissions.AllowAny"],
        BW_NOTIFICATIONS_API_REPLAY_PERMISSION_CLASSES=[
            "rest_framework.permissions.IsAuthenticated"
        ],
    ):
        assert anyone.get(LIST).status_code == 200
        assert anyone.post(replay(story[0].pk)).status_code == 403
        assert staff(is_staff=False).post(replay(story[0].pk)).status_code == 200


# -- schema --------------------------------------------------------------------------


def test_openapi_schema_describes_every_path(admin_api: APIClient) -> None:
    response = admin_api.get(SCHEMA, HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    paths = set(schema["paths"])
    assert paths == {
        "/notifications/",
        "/notifications/{id}/",
        "/notifications/{id}/replay/",
        "/timeline/",
        "/orders/",
        "/orders/{id}/",
        "/numbers/",
        "/numbers/{id}/",
        "/health/",
    }
    operations = [op for item in schema["paths"].values() for op in item.values()]
    assert len({op["operationId"] for op in operations}) == len(operations) == 9
    replayed = schema["paths"]["/notifications/{id}/replay/"]["post"]
    assert "requestBody" not in replayed  # a bare POST
    answer = replayed["responses"]["200"]["content"]["application/json"]["schema"]
    assert "receivers_called" in str(answer) or "$ref" in str(answer)
    listed = schema["paths"]["/notifications/"]["get"]["parameters"]
    from django_bw_notifications.api.filters import PARAMETERS

    assert {p["name"] for p in listed} == {*PARAMETERS, "cursor"}
    timeline = schema["paths"]["/timeline/"]["get"]["parameters"]
    assert {p["name"]: p["required"] for p in timeline if p["name"] != "cursor"} == {
        "order_id": True,
        "order_type": False,
    }


@override_settings(USE_TZ=False)
def test_date_filters_work_without_time_zones(admin_api: APIClient, deliver: Any) -> None:
    notification = deliver(build_order_notification())
    assert ids(admin_api.get(LIST, {"received_after": "2000-01-01T00:00:00Z"})) == [notification.pk]
    assert ids(admin_api.get(LIST, {"received_before": "2000-01-01"})) == []


def test_timeline_refuses_nul(admin_api: APIClient) -> None:
    assert admin_api.get(TIMELINE, {"order_id": "a\x00"}).status_code == 400


def test_bad_cursor_is_a_400_not_a_500(admin_api: APIClient, story: list[Notification]) -> None:
    assert admin_api.get(LIST, {"cursor": "not-a-cursor"}).status_code == 400


def test_api_polish_root_cursor_and_bare_replay(
    story: list[Notification], staff: Callable[..., APIClient]
) -> None:
    import base64

    client = staff("view_notification", "replay_notification")
    root = client.get(reverse("bw_notifications_api:root"))
    assert root.status_code == 200
    assert root.json()["notifications"].endswith(LIST)
    for forged in ("not-base64!", base64.b64encode(b"p=not-a-time").decode()):
        refused = client.get(LIST, {"cursor": forged})
        assert refused.status_code == 400
        assert "cursor" in refused.json()
    # A real cursor still works: pages of two, so there is a next one.
    from django_bw_notifications.api.views import NewestFirst

    with _page_size(NewestFirst, 2):
        first = client.get(LIST).json()
        assert first["next"]
        second = client.get(first["next"])
    assert second.status_code == 200
    assert {row["id"] for row in second.json()["results"]}.isdisjoint(
        row["id"] for row in first["results"]
    )
    page = client.get(replay(story[0].pk), HTTP_ACCEPT="text/html").content.decode()
    assert 'name="receivers_called"' not in page  # no form made of the answer's fields
    assert "``" not in page


@contextmanager
def _page_size(pagination: Any, size: int) -> Iterator[None]:
    original = pagination.page_size
    pagination.page_size = size
    try:
        yield
    finally:
        pagination.page_size = original
