"""Hostile input corpus: every body and request gets its expected answer, never a 500.

For each case: the status it must get; nothing half-written (a refusal stores no
notification and no number); an authenticated refusal is kept as a RejectedDelivery;
and no case takes pathologically long (a hang guard, not a benchmark: the measured
times are in docs/reliability.md). Set BW_RELIABILITY_REPORT=path to write the
measured times as Markdown rows.
"""

from __future__ import annotations

import base64
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from django_bw_notifications.models import Notification, RejectedDelivery, TelephoneNumber
from tests.support import basic, notification_xml, payload

pytestmark = pytest.mark.django_db

AUTH = basic()
NOT_READ = {401, 403, 405}  # answered before the body is looked at: nothing kept


@dataclass(frozen=True)
class Case:
    name: str
    body: bytes = b""
    status: int = 400
    method: str = "post"
    content_type: str = "application/xml; charset=utf-8"
    authorization: str | None = AUTH
    settings: dict[str, Any] = field(default_factory=dict)
    numbers: int | None = None  # for 200s: how many telephone numbers must be stored


def _doctype(internal: str) -> bytes:
    return f"<!DOCTYPE Notification [{internal}]><Notification><OrderType>orders</OrderType><Note>&e;</Note></Notification>".encode()


def _laughs() -> bytes:
    entities = '<!ENTITY e0 "lol">' + "".join(
        f'<!ENTITY e{i} "{("&e" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
    )
    return _doctype(entities + '<!ENTITY e "&e9;">')


def _overlong(element: str) -> bytes:
    if element == "TelephoneNumber":
        return notification_xml(numbers=("9" * 65,))
    value = "x" * 300
    return f"<Notification><OrderType>orders</OrderType><{element}>{value}</{element}></Notification>".encode().replace(
        b"<OrderType>orders</OrderType><OrderType>", b"<OrderType>"
    )


def _numbers(count: int, template: str = "+1919{:07d}") -> bytes:
    numbers = "".join(
        f"<TelephoneNumber>{template.format(i)}</TelephoneNumber>" for i in range(count)
    )
    return f"<Notification><OrderType>orders</OrderType><Status>COMPLETE</Status><CompletedTelephoneNumbers>{numbers}</CompletedTelephoneNumbers></Notification>".encode()


GOOD = payload("01")
TEXT = GOOD.decode()
BIG = {"BW_NOTIFICATIONS_MAX_BODY_SIZE": 4 * 1024 * 1024}

CASES = [
    # Requests and credentials
    Case("no Authorization", GOOD, 401, authorization=None),
    Case("wrong password", GOOD, 401, authorization=basic("bandwidth", "guess")),
    Case("Authorization: bad base64", GOOD, 401, authorization="Basic %%%not-base64%%%"),
    Case(
        "Authorization: no colon",
        GOOD,
        401,
        authorization="Basic " + base64.b64encode(b"bandwidth").decode(),
    ),
    Case(
        "Authorization: non-UTF-8 bytes",
        GOOD,
        401,
        authorization="Basic " + base64.b64encode(b"bandwidth:\xff\xfe\xfd").decode(),
    ),
    Case("Authorization: 1 MB long", GOOD, 401, authorization="Basic " + "QUFB" * 250_000),
    Case("Authorization: Latin-1 junk", GOOD, 401, authorization="Basic \xe9\xe8\xff"),
    Case("Authorization: other scheme", GOOD, 401, authorization="Bearer abc"),
    Case("method GET", GOOD, 405, method="get"),
    Case("method PUT", GOOD, 405, method="put"),
    Case("method DELETE", GOOD, 405, method="delete"),
    Case("method PATCH", GOOD, 405, method="patch"),
    # Content types
    Case("Content-Type JSON", b'{"OrderType": "orders"}', 415, content_type="application/json"),
    Case(
        "Content-Type form",
        b"OrderType=orders",
        415,
        content_type="application/x-www-form-urlencoded",
    ),
    Case("Content-Type multipart", GOOD, 415, content_type="multipart/form-data; boundary=x"),
    Case("Content-Type HTML", GOOD, 415, content_type="text/html"),
    Case("no Content-Type, valid XML", GOOD, 200, content_type="", numbers=1),
    Case("Content-Type text/plain, valid XML", GOOD, 200, content_type="text/plain", numbers=1),
    Case(
        "charset contradicts the body",
        GOOD,
        200,
        content_type="application/xml; charset=iso-8859-1",
        numbers=1,
    ),
    # XML attacks
    Case("billion laughs", _laughs()),
    Case(
        "quadratic blowup",
        _doctype(f'<!ENTITY e "{"x" * 50_000}">').replace(b"&e;", b"&e;" * 20_000),
    ),
    Case("external entity: file", _doctype('<!ENTITY e SYSTEM "file:///etc/passwd">')),
    Case("external entity: network", _doctype('<!ENTITY e SYSTEM "http://127.0.0.1:9/secret">')),
    Case(
        "parameter entity",
        _doctype('<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p; <!ENTITY e "x">'),
    ),
    Case(
        "external DTD",
        b'<!DOCTYPE Notification SYSTEM "http://127.0.0.1:9/n.dtd"><Notification><OrderType>orders</OrderType></Notification>',
    ),
    Case(
        "bare DOCTYPE",
        b"<!DOCTYPE Notification><Notification><OrderType>orders</OrderType></Notification>",
    ),
    Case(
        "XInclude (kept inert)",
        b'<Notification xmlns:xi="http://www.w3.org/2001/XInclude"><OrderType>orders</OrderType><xi:include href="file:///etc/passwd" parse="text"/></Notification>',
        200,
        numbers=0,
    ),
    # Broken or odd XML
    Case("truncated XML", GOOD[: len(GOOD) // 2]),
    Case("wrong root", b"<Order><OrderType>orders</OrderType></Order>"),
    Case("empty body", b""),
    Case("whitespace only", b"  \r\n\t "),
    Case("JSON labelled as XML", b'{"Notification": {"OrderType": "orders"}}'),
    Case("invalid UTF-8", b"<Notification><OrderType>orders\xc3\x28</OrderType></Notification>"),
    Case(
        "UTF-16 with BOM",
        TEXT.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16"),
        200,
        numbers=1,
    ),
    Case(
        "UTF-16 without BOM",
        TEXT.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16-le"),
        200,
        numbers=1,
    ),
    Case(
        "declared UTF-16, sent UTF-8",
        TEXT.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode(),
    ),
    Case("NUL byte", GOOD.replace(b"COMPLETE", b"COMP\x00LETE")),
    Case("control character", GOOD.replace(b"COMPLETE", b"COMP\x01LETE")),
    Case("character reference to NUL", GOOD.replace(b"COMPLETE", b"COMP&#0;LETE")),
    Case("trailing garbage", GOOD + b"<extra/>"),
    Case("two roots", GOOD + GOOD.split(b"?>", 1)[1]),
    Case(
        "unbound namespace prefix",
        b"<Notification><OrderType>orders</OrderType><x:Foo/></Notification>",
    ),
    Case(
        "200,000-deep nesting, over the cap",
        b"<Notification>" + b"<a>" * 200_000 + b"</a>" * 200_000 + b"</Notification>",
        413,
    ),
    Case(
        "200,000-deep nesting",
        b"<Notification><OrderType>o</OrderType>"
        + b"<a>" * 200_000
        + b"</a>" * 200_000
        + b"</Notification>",
        settings=BIG,
    ),
    Case(
        "100,000 attributes",
        b"<Notification "
        + b" ".join(b'a%d="1"' % i for i in range(100_000))
        + b"><OrderType>orders</OrderType></Notification>",
        200,
        settings=BIG,
        numbers=0,
    ),
    Case(
        "a known element repeated",
        GOOD.replace(
            b"<Status>COMPLETE</Status>", b"<Status>COMPLETE</Status><Status>FAILED</Status>"
        ),
    ),
    Case(
        "a known element holding elements",
        GOOD.replace(b"<Status>COMPLETE</Status>", b"<Status><b>COMPLETE</b></Status>"),
    ),
    Case(
        "processing instruction and comments",
        GOOD.replace(b"<Notification>", b"<Notification><?pi data?><!-- c -->"),
        200,
        numbers=1,
    ),
    Case(
        "emoji and right-to-left text",
        GOOD.replace(b"WASHINGTON, VA", "🚀 עברית".encode()),
        200,
        numbers=1,
    ),
    # Values
    *(
        Case(f"overlong {element}", _overlong(element))
        for element in (
            "SubscriptionId",
            "OrderType",
            "OrderId",
            "CustomerOrderId",
            "Status",
            "EventType",
            "LastModifiedDate",
            "ActualFocDate",
            "TelephoneNumber",
        )
    ),
    Case(
        "500,000-character Message", GOOD.replace(b"Created a new", b"x" * 500_000), 200, numbers=1
    ),
    Case(
        "garbage dates",
        GOOD.replace(
            b"</Notification>",
            b"<LastModifiedDate>2024-02-30T25:61:00Z</LastModifiedDate><ActualFocDate>soon</ActualFocDate></Notification>",
        ),
        200,
        numbers=1,
    ),
    Case(
        "garbage numbers",
        _numbers(4, "abc{}").replace(b"abc3", b"+").replace(b"abc2", b"12345678901234567890"),
        200,
        numbers=4,
    ),
    Case("10,000 numbers", _numbers(10_000), 200, numbers=10_000),
    Case("over the cap, with Content-Length", _numbers(30_000), 413),
]


def test_the_corpus_has_at_least_forty_cases() -> None:
    assert len(CASES) >= 40
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_hostile_input_gets_its_answer_and_nothing_half_written(
    case: Case, client: Client, url: str, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    for name, value in case.settings.items():
        setattr(settings, name, value)
    headers: dict[str, Any] = {}
    if case.authorization is not None:
        headers["HTTP_AUTHORIZATION"] = case.authorization
    started = time.perf_counter()
    with django_capture_on_commit_callbacks(execute=True):
        if case.method == "post":
            response = client.post(url, data=case.body, content_type=case.content_type, **headers)
        else:
            response = getattr(client, case.method)(url, **headers)
    elapsed = time.perf_counter() - started
    _report(case, response.status_code, elapsed)

    assert response.status_code == case.status, response.content[:300]
    assert elapsed < 10, "pathologically slow"  # a hang guard; figures: docs/reliability.md
    if case.status == 200:
        notification = Notification.objects.get()
        assert notification.telephone_numbers.count() == case.numbers
        assert RejectedDelivery.objects.count() == 0
        return
    assert Notification.objects.count() == 0
    assert TelephoneNumber.objects.count() == 0
    if case.status in NOT_READ:
        assert RejectedDelivery.objects.count() == 0
    else:
        rejected = RejectedDelivery.objects.get()
        assert rejected.status_code == case.status
        assert rejected.reason
        assert "\n" not in response.content.decode("utf-8").strip()


def test_xinclude_is_never_processed(post: Any) -> None:
    post(CASES[[c.name for c in CASES].index("XInclude (kept inert)")].body)
    notification = Notification.objects.get()
    assert notification.extra == {"include": ""}
    assert "root:" not in str(notification.extra)


def _report(case: Case, status: int, elapsed: float) -> None:
    target = os.environ.get("BW_RELIABILITY_REPORT")
    if target:
        with Path(target).open("a") as report:
            report.write(
                f"| {case.name} | {len(case.body):,} B | {status} | {elapsed * 1000:.1f} ms |\n"
            )
