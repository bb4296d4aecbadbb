"""Property-based tests: structured notifications round-trip; random bytes never 500.

Bounded for CI by the Hypothesis profile "ci" (the default here). For a longer run:

    HYPOTHESIS_PROFILE=long .venv/bin/python -m pytest tests/intake/test_fuzz.py
"""

from __future__ import annotations

import base64
import os
import re
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from django_bw_notifications.models import Notification
from django_bw_notifications.parsing import MAX_LENGTHS
from tests.support import PASSWORD, PAYLOADS, USERNAME

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "long", max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

AUTH = "Basic " + base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
URL = "/bandwidth/notifications/"

# Characters XML 1.0 allows in text, less "\r" (XML turns it into "\n" by design).
XML_CHARS = st.characters(
    codec="utf-8",
    exclude_categories=["Cs"],
    exclude_characters="\r\ufffe\uffff",
).filter(lambda c: c in "\t\n" or ord(c) >= 0x20)
PADDING = st.sampled_from(["", " ", "  ", "\n", "\n    ", "\t"])

FIELDS = {
    "SubscriptionId": "subscription_id",
    "OrderType": "order_type",
    "OrderId": "order_id",
    "CustomerOrderId": "customer_order_id",
    "Status": "status",
    "Message": "message",
    "Note": "note",
    "EventType": "event_type",
}


def _value(limit: int) -> st.SearchStrategy[str]:
    return st.text(XML_CHARS, max_size=min(limit, 60))


@st.composite
def notifications(draw: st.DrawFn) -> tuple[bytes, dict[str, object]]:
    """An XML body and what must be stored for it."""
    values = {
        name: draw(_value(MAX_LENGTHS.get(name, 400)))
        for name in draw(st.sets(st.sampled_from(sorted(FIELDS))))
    }
    if not values.get("OrderType", "").strip() and not values.get("EventType", "").strip():
        values["OrderType"] = draw(st.sampled_from(["orders", "portins", "e911s", "newType"]))
    when = draw(
        st.none() | st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1))
    )
    if when is not None:
        values["LastModifiedDate"] = when.isoformat(timespec="milliseconds") + "Z"
    numbers = draw(st.lists(st.from_regex(r"\+?[0-9]{1,15}", fullmatch=True), max_size=8))
    unknown = draw(
        st.dictionaries(st.from_regex(r"Zz[A-Za-z]{1,8}", fullmatch=True), _value(80), max_size=3)
    )

    elements = [
        f"<{name}>{draw(PADDING)}{escape(value)}{draw(PADDING)}</{name}>"
        for name, value in values.items()
    ]
    elements += [f"<{name}>{escape(value)}</{name}>" for name, value in unknown.items()]
    if numbers:
        listed = "".join(
            f"<TelephoneNumber>{draw(PADDING)}{n}{draw(PADDING)}</TelephoneNumber>" for n in numbers
        )
        elements.append(f"<CompletedTelephoneNumbers>{listed}</CompletedTelephoneNumbers>")
    ordered = draw(st.permutations(elements))
    declaration = draw(
        st.sampled_from(
            ["", '<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>']
        )
    )
    separator = draw(PADDING)
    body = declaration + "<Notification>" + separator.join(ordered) + "</Notification>"

    expected: dict[str, object] = {
        attr: values.get(name, "").strip() for name, attr in FIELDS.items()
    }
    expected["last_modified_date"] = when.replace(tzinfo=UTC) if when else None
    expected["numbers"] = numbers
    expected["extra"] = {name: value.strip() for name, value in unknown.items()}
    return body.encode("utf-8"), expected


class RoundTripTests(TestCase):
    @given(notifications())
    def test_what_is_sent_is_what_is_stored(self, case: tuple[bytes, dict[str, object]]) -> None:
        body, expected = case
        response = self.client.post(
            URL, data=body, content_type="application/xml", headers={"authorization": AUTH}
        )
        assert response.status_code == 200, response.content
        notification = Notification.objects.get()
        for attribute, value in expected.items():
            if attribute == "numbers":
                assert isinstance(value, list)
                stored = list(
                    notification.telephone_numbers.order_by("id").values_list("number", "e164")
                )
                assert stored == [(n, _e164(n)) for n in value]
            elif attribute == "last_modified_date" and value is not None:
                assert isinstance(value, datetime)
                # The database keeps microseconds; the XML had milliseconds.
                assert notification.last_modified_date == value.replace(
                    microsecond=value.microsecond // 1000 * 1000
                )
            else:
                assert getattr(notification, attribute) == value, attribute
        assert notification.raw_body == body.decode("utf-8")


def _e164(number: str) -> str:
    if re.fullmatch(r"[0-9]{10}", number):
        return "+1" + number
    if re.fullmatch(r"\+[1-9][0-9]{1,14}", number):
        return number
    return ""


SAMPLES = [path.read_bytes() for path in sorted(PAYLOADS.glob("*.xml"))]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A real payload with random bytes inserted, deleted or replaced."""
    body = bytearray(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(1, 8))):
        position = draw(st.integers(0, len(body)))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        chunk = draw(st.binary(min_size=1, max_size=8))
        if action == "insert":
            body[position:position] = chunk
        elif action == "delete":
            del body[position : position + len(chunk)]
        else:
            body[position : position + len(chunk)] = chunk
    return bytes(body)


class ByteFuzzTests(TestCase):
    @given(
        st.binary(max_size=2000) | mutated(),
        st.sampled_from(["application/xml", "text/xml", "", "application/json"]),
    )
    def test_no_body_gets_a_500(self, body: bytes, content_type: str) -> None:
        response = self.client.post(
            URL, data=body, content_type=content_type, headers={"authorization": AUTH}
        )
        assert response.status_code in {200, 400, 415}
        if response.status_code != 200:
            assert Notification.objects.count() == 0
