"""Over real HTTP: Bandwidth's challenge flow, and concurrent deliveries on PostgreSQL."""

from __future__ import annotations

import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.urls import reverse
from pytest_django.live_server_helper import LiveServer

from django_bw_notifications import signals
from django_bw_notifications.models import Notification, ProcessingState
from tests.support import PASSWORD, USERNAME, basic, notification_xml, on_postgres, payload, settled

pytestmark = pytest.mark.django_db(transaction=True)


#: Concurrent clients: below the live server's listen backlog (request_queue_size 10).
_AT_ONCE = 8


def _endpoint(live_server: LiveServer) -> str:
    return live_server.url + reverse("bw_notifications:webhook")


def _post(url: str, body: bytes, auth: str | None = basic()) -> int:
    headers = {"Content-Type": "application/xml; charset=utf-8"}
    if auth:
        headers["Authorization"] = auth
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return err.code


def test_a_client_that_waits_for_the_challenge_gets_through(live_server: Any) -> None:
    # urllib's Basic handler behaves like Bandwidth: it sends no credentials until a 401
    # with a WWW-Authenticate challenge asks for them, and gives up without one.
    url = _endpoint(live_server)
    passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
    passwords.add_password(None, url, USERNAME, PASSWORD)
    opener = urllib.request.build_opener(urllib.request.HTTPBasicAuthHandler(passwords))
    request = urllib.request.Request(
        url, data=payload("01"), headers={"Content-Type": "application/xml"}, method="POST"
    )
    with opener.open(request, timeout=30) as response:
        assert response.status == 200
    assert Notification.objects.get().order_id == "a8ef295b-fcf4-44a7-945c-0520c8f49123"


def test_over_http_wrong_credentials_are_challenged(live_server: Any) -> None:
    assert _post(_endpoint(live_server), payload("01"), auth=basic(USERNAME, "nope")) == 401
    assert Notification.objects.count() == 0


@on_postgres
def test_concurrent_identical_deliveries_store_and_dispatch_once(
    live_server: Any, recorder: Any
) -> None:
    rec = recorder()
    url, body = _endpoint(live_server), payload("07")
    # 8 at a time: Django's live server listens with a backlog of 10, and a loaded
    # machine (CI under coverage) accepts slowly enough for 32 at once to overflow it
    # (connections reset before Django sees them: the server's limit, not ours).
    with ThreadPoolExecutor(max_workers=_AT_ONCE) as pool:
        codes = list(pool.map(lambda _: _post(url, body), range(32)))
    assert codes == [200] * 32
    settled()
    notification = Notification.objects.get()
    assert len(rec.calls) == 1
    assert notification.duplicate_count == 31
    assert notification.telephone_numbers.count() == 12
    assert notification.processing_state == ProcessingState.PROCESSED


@on_postgres
def test_concurrent_distinct_deliveries_are_all_stored_and_dispatched_once(
    live_server: Any, recorder: Any
) -> None:
    rec = recorder(signals.orders_complete)
    url = _endpoint(live_server)
    bodies = [
        notification_xml(order_id=f"order-{i}", numbers=(f"919555{i:04d}",)) for i in range(200)
    ]
    with ThreadPoolExecutor(max_workers=_AT_ONCE) as pool:
        codes = list(pool.map(lambda body: _post(url, body), bodies))
    assert codes == [200] * 200
    assert Notification.objects.count() == 200
    settled()
    dispatched = sorted(kwargs["notification"].order_id for _, kwargs in rec.calls)
    assert dispatched == sorted(f"order-{i}" for i in range(200))
