"""The REST API's order book and number inventory: read-only lists, filters, details."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from django_bw_notifications.models import AccountNumber, Order
from django_bw_notifications.testing import build_event_notification, build_order_notification

pytestmark = pytest.mark.django_db

ORDERS = reverse("bw_notifications_api:order-list")
NUMBERS = reverse("bw_notifications_api:number-list")
SCHEMA = reverse("bw_notifications_api:schema")


@pytest.fixture
def admin_api(admin_user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(admin_user)
    return client


@pytest.fixture
def book(deliver: Any) -> None:
    deliver(
        build_order_notification(
            "portins", "FOC", order_id="pi-1", numbers=[], actual_foc_date="2026-12-20T15:00Z"
        )
    )
    deliver(build_order_notification("orders", "COMPLETE", order_id="o-1", numbers=["9195550911"]))
    deliver(
        build_order_notification(
            "orders", "COMPLETE", order_id="o-2", numbers=["9195550912", "9195550913"]
        )
    )
    deliver(
        build_order_notification("disconnects", "COMPLETE", order_id="d-1", numbers=["9195550913"])
    )
    deliver(build_event_notification("MESSAGING_LOST", numbers=["9195550912"]))


def order_ids(response: Any) -> set[str]:
    assert response.status_code == 200, response.content
    return {item["order_id"] for item in response.json()["results"]}


def numbers(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["e164"] for item in response.json()["results"]]


@pytest.mark.usefixtures("book")
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, {"pi-1", "o-1", "o-2", "d-1"}),
        ({"open": "true"}, {"pi-1"}),
        ({"open": "false"}, {"o-1", "o-2", "d-1"}),
        ({"order_type": "PORTINS"}, {"pi-1"}),
        ({"status": "complete"}, {"o-1", "o-2", "d-1"}),
        ({"order_id": "o-2"}, {"o-2"}),
        ({"quiet_days": "2"}, set()),
    ],
)
def test_orders_are_filtered(
    admin_api: APIClient, query: dict[str, str], expected: set[str]
) -> None:
    assert order_ids(admin_api.get(ORDERS, query)) == expected


@pytest.mark.usefixtures("book")
def test_quiet_days_finds_open_orders_without_news(admin_api: APIClient) -> None:
    Order.objects.update(last_notified_at=timezone.now() - timedelta(days=5))
    assert order_ids(admin_api.get(ORDERS, {"quiet_days": "3"})) == {"pi-1"}
    assert order_ids(admin_api.get(ORDERS, {"quiet_days": "7"})) == set()


@pytest.mark.usefixtures("book")
def test_an_orders_detail_has_its_changes(admin_api: APIClient) -> None:
    [listed] = admin_api.get(ORDERS, {"order_id": "pi-1"}).json()["results"]
    detail = admin_api.get(listed["url"]).json()
    assert detail["status"] == "FOC"
    assert detail["closed"] is False
    assert detail["actual_foc_date"].startswith("2026-12-20T15:00")
    assert [(c["previous_status"], c["new_status"]) for c in detail["changes"]] == [("", "FOC")]


@pytest.mark.usefixtures("book")
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["+19195550911", "+19195550912", "+19195550913"]),
        ({"state": "in_service"}, ["+19195550911", "+19195550912"]),
        ({"state": "disconnected"}, ["+19195550913"]),
        ({"telephone_number": "(919) 555-0912"}, ["+19195550912"]),
        ({"messaging_lost": "true"}, ["+19195550912"]),
        ({"order_id": "d-1"}, ["+19195550913"]),
    ],
)
def test_numbers_are_filtered(
    admin_api: APIClient, query: dict[str, str], expected: list[str]
) -> None:
    assert numbers(admin_api.get(NUMBERS, query)) == expected


@pytest.mark.usefixtures("book")
def test_a_numbers_detail_has_its_history(admin_api: APIClient) -> None:
    number = AccountNumber.objects.get(e164="+19195550913")
    detail = admin_api.get(reverse("bw_notifications_api:number-detail", args=[number.pk])).json()
    assert detail["state"] == "disconnected"
    assert [(c["previous_state"], c["new_state"]) for c in detail["changes"]] == [
        ("", "in_service"),
        ("in_service", "disconnected"),
    ]


@pytest.mark.parametrize(
    ("url", "query", "field"),
    [
        (ORDERS, {"open": "maybe"}, "open"),
        (ORDERS, {"quiet_days": "-1"}, "quiet_days"),
        (ORDERS, {"state": "FOC"}, "state"),
        (NUMBERS, {"state": "lost"}, "state"),
        (NUMBERS, {"telephone_number": " "}, "telephone_number"),
        (NUMBERS, {"order_id": "a\x00b"}, "order_id"),
        (NUMBERS, {"cursor": "forged"}, "cursor"),
    ],
)
def test_bad_parameters_are_a_400_naming_them(
    admin_api: APIClient, url: str, query: dict[str, str], field: str
) -> None:
    response = admin_api.get(url, query)
    assert response.status_code == 400
    assert field in response.json()


def test_reading_needs_the_view_permission(db: Any) -> None:
    assert APIClient().get(ORDERS).status_code in (401, 403)
    assert APIClient().get(NUMBERS).status_code in (401, 403)


@pytest.mark.usefixtures("book")
def test_the_state_is_read_only(admin_api: APIClient) -> None:
    assert admin_api.post(ORDERS, {}).status_code == 405
    number = AccountNumber.objects.first()
    assert number is not None
    url = reverse("bw_notifications_api:number-detail", args=[number.pk])
    assert admin_api.delete(url).status_code == 405


@pytest.mark.usefixtures("book")
def test_the_schema_lists_the_parameters_each_view_takes(admin_api: APIClient) -> None:
    from django_bw_notifications.api.filters import NUMBER_PARAMETERS, ORDER_PARAMETERS

    schema = admin_api.get(SCHEMA, HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for path, expected in (("/orders/", ORDER_PARAMETERS), ("/numbers/", NUMBER_PARAMETERS)):
        listed = schema["paths"][path]["get"]["parameters"]
        assert {p["name"] for p in listed} == {*expected, "cursor"}
    # And the fields it promises are the ones a real answer carries.
    for path, url in (("/orders/", ORDERS), ("/numbers/", NUMBERS)):
        answer = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        item = answer["schema"]["properties"]["results"]["items"]
        if "$ref" in item:
            item = schema["components"]["schemas"][item["$ref"].rsplit("/", 1)[1]]
        real = admin_api.get(url).json()["results"][0]
        assert set(item["properties"]) == set(real)
