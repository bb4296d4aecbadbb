"""The endpoint end to end: every sample stored as sent, every refusal, strict hosts."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from django_bw_notifications.models import AccountNumber, Notification, RejectedDelivery
from tests.support import basic, notification_xml, on_postgres, payload
from tests.test_parsing import EXPECTED

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_sample_is_stored_with_its_fields_as_sent(post: Any, name: str) -> None:
    body = payload(name)
    response = post(body)
    assert response.status_code == 200
    assert response.content == b"OK\n"
    notification = Notification.objects.get()
    expected = dict(EXPECTED[name])
    numbers = expected.pop("numbers", None)
    for field, value in expected.items():
        assert getattr(notification, field) == value, field
    if numbers is not None:
        stored = notification.telephone_numbers.order_by("id")
        assert [(tn.number, tn.e164, tn.kind) for tn in stored] == numbers
        assert notification.telephone_number_count == len(numbers)
    assert notification.raw_body == body.decode("utf-8")
    assert notification.received_at is not None
    assert RejectedDelivery.objects.count() == 0


def test_absent_elements_are_empty_strings_and_none(post: Any) -> None:
    post(payload("09"))
    notification = Notification.objects.get()
    assert (notification.customer_order_id, notification.note, notification.event_type) == (
        "",
        "",
        "",
    )
    assert notification.last_modified_date is None
    assert notification.actual_foc_date is None
    assert notification.telephone_numbers.count() == 0


def test_dates_are_stored_aware(post: Any) -> None:
    post(payload("16"))
    notification = Notification.objects.get()
    assert notification.last_modified_date == datetime(2023, 9, 12, 15, 11, 31, 705000, tzinfo=UTC)
    assert notification.actual_foc_date == datetime(2023, 9, 12, tzinfo=UTC)


def test_garbage_date_is_stored_as_text(post: Any) -> None:
    body = notification_xml(extra="<LastModifiedDate>sometime soon</LastModifiedDate>")
    assert post(body).status_code == 200
    notification = Notification.objects.get()
    assert notification.last_modified_date is None
    assert notification.last_modified_date_text == "sometime soon"


def test_unknown_elements_are_stored(post: Any) -> None:
    post(notification_xml(extra="<PortType>AUTOMATED</PortType>"))
    assert Notification.objects.get().extra == {"PortType": "AUTOMATED"}


@pytest.mark.parametrize("encoding", ["utf-16", "iso-8859-1"])
def test_other_encodings_are_stored_as_decoded_text(post: Any, encoding: str) -> None:
    text = (
        f'<?xml version="1.0" encoding="{encoding.upper()}"?>'
        "<Notification><OrderType>portins</OrderType><Note>Ça marche</Note></Notification>"
    )
    assert post(text.encode(encoding)).status_code == 200
    notification = Notification.objects.get()
    assert notification.note == "Ça marche"
    assert notification.raw_body == text


def test_request_metadata_is_kept_but_never_credentials(post: Any) -> None:
    post(payload("01"), HTTP_USER_AGENT="Bandwidth/1.0", HTTP_COOKIE="sessionid=secret")
    notification = Notification.objects.get()
    assert notification.headers["User-Agent"] == "Bandwidth/1.0"
    assert notification.remote_addr == "127.0.0.1"
    stored = str(notification.headers) + notification.raw_body
    assert "Basic" not in stored
    assert "secret" not in stored


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete", "options"])
def test_only_post_is_allowed(client: Client, url: str, method: str) -> None:
    response = getattr(client, method)(url, HTTP_AUTHORIZATION=basic())
    assert response.status_code == 405
    assert response["Allow"] == "POST, HEAD"


def test_head_answers_200_for_probes(client: Client, url: str) -> None:
    assert client.head(url).status_code == 200


def test_csrf_is_not_required(url: str) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        url, payload("01"), content_type="application/xml", HTTP_AUTHORIZATION=basic()
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not xml at all", "not well-formed XML"),
        (b"<Order/>", "root element is <Order>"),
        (
            b"<Notification><Status>COMPLETE</Status></Notification>",
            "neither <OrderType> nor <EventType>",
        ),
        (
            b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><Notification><Note>&e;</Note></Notification>',
            "DTDs",
        ),
        (b"", "the body is empty"),
    ],
)
def test_bad_xml_gets_400_with_a_reason_and_is_kept(post: Any, body: bytes, reason: str) -> None:
    response = post(body)
    assert response.status_code == 400
    assert reason in response.content.decode()
    assert Notification.objects.count() == 0
    rejected = RejectedDelivery.objects.get()
    assert rejected.status_code == 400
    assert reason in rejected.reason
    assert bytes(rejected.body) == body
    assert rejected.body_size == len(body)


def test_overlong_value_is_refused_not_truncated_on_any_database(post: Any) -> None:
    response = post(notification_xml(order_id="x" * 100_000))
    assert response.status_code == 400
    assert b"<OrderId> is 100000 characters long" in response.content
    assert Notification.objects.count() == 0


def test_overlong_free_text_is_stored_whole(post: Any) -> None:
    message = "5005: " + "é" * 200_000
    assert post(notification_xml(extra=f"<Message>{message}</Message>")).status_code == 200
    assert Notification.objects.get().message == message


def test_json_gets_415_and_is_kept(post: Any) -> None:
    response = post(b'{"OrderType": "orders"}', content_type="application/json")
    assert response.status_code == 415
    assert RejectedDelivery.objects.get().status_code == 415


@pytest.mark.parametrize("content_type", ["text/xml", "application/octet-stream", "text/plain", ""])
def test_xml_under_other_or_no_content_type_is_still_accepted(post: Any, content_type: str) -> None:
    assert post(payload("01"), content_type=content_type).status_code == 200
    assert Notification.objects.count() == 1


def test_body_over_the_cap_gets_413_without_being_stored(post: Any, settings: Any) -> None:
    settings.BW_NOTIFICATIONS_MAX_BODY_SIZE = 1000
    response = post(notification_xml(numbers=tuple(f"919555{i:04d}" for i in range(100))))
    assert response.status_code == 413
    assert b"BW_NOTIFICATIONS_MAX_BODY_SIZE" in response.content
    assert Notification.objects.count() == 0
    rejected = RejectedDelivery.objects.get()
    assert (rejected.status_code, bytes(rejected.body)) == (413, b"")
    assert rejected.body_size > 1000


def test_body_over_the_cap_without_content_length_is_cut_off_at_the_cap(
    rf: RequestFactory, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django_bw_notifications.views import webhook

    settings.BW_NOTIFICATIONS_MAX_BODY_SIZE = 1000
    request = rf.post(
        "/", data=b"<" * 5000, content_type="application/xml", HTTP_AUTHORIZATION=basic()
    )
    del request.META["CONTENT_LENGTH"]
    reads: list[int] = []
    original = request.read

    def read(n: int = -1) -> bytes:
        reads.append(n)
        return original(n)

    monkeypatch.setattr(request, "read", read)
    assert webhook(request).status_code == 413
    assert reads == [1001]


def test_body_exactly_at_the_cap_is_accepted(post: Any, settings: Any) -> None:
    body = payload("01")
    settings.BW_NOTIFICATIONS_MAX_BODY_SIZE = len(body)
    assert post(body).status_code == 200


def test_default_cap_takes_10000_padded_numbers(post: Any) -> None:
    numbers = "".join(
        f"        <TelephoneNumber> +1919{i:07d} </TelephoneNumber>\n" for i in range(10_000)
    )
    body = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Notification>\n'
        "  <OrderType>orders</OrderType>\n  <Status>COMPLETE</Status>\n"
        f"  <CompletedTelephoneNumbers>\n{numbers}  </CompletedTelephoneNumbers>\n</Notification>\n"
    ).encode()
    assert post(body).status_code == 200
    assert Notification.objects.get().telephone_numbers.count() == 10_000


def test_numbers_cost_no_extra_queries(post: Any) -> None:
    def queries_for(count: int) -> int:
        body = notification_xml(
            order_id=f"order-{count}", numbers=tuple(f"919{i:07d}" for i in range(count))
        )
        with CaptureQueriesContext(connection) as captured:
            assert post(body).status_code == 200
        return len(captured)

    one, many = queries_for(1), queries_for(5000)
    if connection.vendor == "postgresql":
        assert one == many
    assert one <= 6  # savepoint pair (test transaction) + 2 INSERT + outcome UPDATE + ...


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_stores_any_notification_in_one_round_trip(post: Any) -> None:
    from django_bw_notifications.models import Notification

    for batch, count in enumerate((1, 100, 5000)):
        # Numbers new to the inventory each time (one it has would be moved: an UPDATE).
        body = notification_xml(
            order_id=f"o{count}", numbers=tuple(f"919{batch}{i:06d}" for i in range(count))
        )
        with CaptureQueriesContext(connection) as captured:
            assert post(body).status_code == 200
        # BEGIN and COMMIT are Django's log lines, not messages: psycopg sends BEGIN
        # with the next statement, and the record's message carries the COMMIT.
        sent = [q["sql"] for q in captured if q["sql"] not in ("BEGIN", "COMMIT")]
        # One message: the time budget (set_config), then one statement for the
        # notification and all its numbers, committed by the server as one implicit
        # transaction.
        assert sent[0].startswith("SELECT set_config('statement_timeout'"), sent[0]
        assert "; WITH n AS (INSERT INTO" in sent[0], sent[0]
        # Then the dispatch, after the answer: the claim; the order book (the order
        # looked up, then created with its first change in one statement; the numbers
        # likewise); the record with its COMMIT. The same count for 1 and 5,000 numbers.
        assert len(sent) == 1 + DISPATCH_WITH_BOOK, sent
        assert "FOR UPDATE" in sent[1], sent[1]
        assert sent[-1].startswith("WITH u AS (UPDATE")
        assert sent[-1].endswith("; COMMIT")
        stored = Notification.objects.get(order_id=f"o{count}")
        assert stored.telephone_numbers.count() == count
        assert stored.processing_state == "processed"
        assert stored.order_entry is not None
        assert AccountNumber.objects.filter(order_id=f"o{count}").count() == count


#: Round trips of a new order's first dispatch with no receiver (see the test above).
DISPATCH_WITH_BOOK = 6


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_without_the_book_the_record_is_the_claim(post: Any, settings: Any) -> None:
    settings.BW_NOTIFICATIONS_KEEP_STATE = False
    with CaptureQueriesContext(connection) as captured:
        assert post(notification_xml(order_id="o-nobook")).status_code == 200
    sent = [q["sql"] for q in captured]
    # With no receiver to run and no book to keep, recording the outcome is the claim.
    assert len(sent) == 2, sent
    assert sent[1].startswith("UPDATE"), sent[1]
    assert Notification.objects.get(order_id="o-nobook").processing_state == "processed"


def test_a_notification_survives_a_database_error_as_503_not_500(
    post: Any, monkeypatch: Any, caplog: Any
) -> None:
    from django.db import OperationalError

    from django_bw_notifications.intake import storage

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(storage, "store", broken)
    with caplog.at_level(logging.ERROR, logger="django_bw_notifications"):
        response = post(payload("01"))
    assert response.status_code == 503
    assert "a8ef295b-fcf4-44a7-945c-0520c8f49123" in caplog.text  # body recoverable from the log


def test_url_name_is_public(url: str) -> None:
    assert url == reverse("bw_notifications:webhook") == "/bandwidth/notifications/"


def _chunked_request(body: bytes, *, terminated: bool) -> Any:
    from io import BytesIO

    from django.core.handlers.wsgi import WSGIRequest

    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/bandwidth/notifications/",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/xml",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "HTTP_AUTHORIZATION": basic(),
        "wsgi.input": BytesIO(body),
        "wsgi.url_scheme": "http",
    }
    if terminated:
        environ["wsgi.input_terminated"] = True
    return WSGIRequest(environ)


def test_chunked_body_from_a_dechunking_server_is_stored(
    django_capture_on_commit_callbacks: Any,
) -> None:
    from django_bw_notifications.views import webhook

    with django_capture_on_commit_callbacks(execute=True):
        response = webhook(_chunked_request(payload("07"), terminated=True))
    assert response.status_code == 200
    assert Notification.objects.get().telephone_numbers.count() == 12


def test_chunked_body_over_the_cap_is_413(settings: Any) -> None:
    from django_bw_notifications.views import webhook

    settings.BW_NOTIFICATIONS_MAX_BODY_SIZE = 100
    assert webhook(_chunked_request(payload("07"), terminated=True)).status_code == 413


def test_chunked_body_the_server_cannot_dechunk_is_411_not_empty() -> None:
    from django_bw_notifications.views import webhook

    response = webhook(_chunked_request(payload("01"), terminated=False))
    assert isinstance(response, HttpResponse)
    assert response.status_code == 411
    assert b"chunked" in response.content
    assert RejectedDelivery.objects.get().status_code == 411


@on_postgres
def test_numbers_holding_the_array_separator_are_stored_as_they_are() -> None:
    # XML cannot carry U+0001, so only a caller of ingest could; the fallback keeps it.
    from django.utils import timezone

    from django_bw_notifications.intake.delivery import Delivery
    from django_bw_notifications.intake.storage import store
    from django_bw_notifications.parsing import ParsedNotification, TelephoneNumber

    numbers = (
        TelephoneNumber("91955\x0151234", "", "completed"),
        TelephoneNumber("9195551235", "+19195551235", "completed"),
    )
    parsed = ParsedNotification(order_type="orders", telephone_numbers=numbers, text="<x/>")
    notification = store(parsed, Delivery(b"<x/>", timezone.now())).notification
    stored = list(notification.telephone_numbers.values_list("number", "e164"))
    assert stored == [("91955\x0151234", ""), ("9195551235", "+19195551235")]


@pytest.mark.parametrize("count", [1, 2, 3])
def test_numbers_without_an_e164_form_keep_an_empty_one(post: Any, count: int) -> None:
    body = notification_xml(numbers=tuple(f"1234{i}" for i in range(count)))
    assert post(body).status_code == 200
    stored = list(Notification.objects.get().telephone_numbers.values_list("number", "e164"))
    assert stored == [(f"1234{i}", "") for i in range(count)]
