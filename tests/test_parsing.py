"""The pure parser: every sample payload, every documented variation, every refusal."""

from __future__ import annotations

import ast
import codecs
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import defusedxml.ElementTree
import pytest

from django_bw_notifications import parsing
from django_bw_notifications.parsing import (
    NotificationParseError,
    TelephoneNumber,
    parse_notification,
    to_e164,
)
from tests.support import PAYLOADS, payload

# What each sample must parse to: fields as sent, numbers as (number, e164, kind).
EXPECTED: dict[str, dict[str, object]] = {
    "01": dict(
        order_type="orders",
        status="COMPLETE",
        order_id="a8ef295b-fcf4-44a7-945c-0520c8f49123",
        subscription_id="d8274fa6-e49b-469a-93bf-c7dd17615950",
        message="Created a new number order for 1 number from WASHINGTON, VA",
        numbers=[("5402278098", "+15402278098", "completed")],
    ),
    "02": dict(
        order_type="orders",
        status="FAILED",
        order_id="4a58b348-892c-4426-8900-97fc4555c42c",
        message="5005: The telephone number is unavailable for ordering",
        numbers=[("5402278098", "+15402278098", "completed")],
    ),
    "03": dict(
        status="COMPLETE",
        order_id="49df4009-b183-4642-b989-8d78ed6bacb9",
        last_modified_date=datetime(2024, 2, 22, 20, 40, 47, 539000, tzinfo=UTC),
        last_modified_date_text="2024-02-22T20:40:47.539Z",
        numbers=[("9122087804", "+19122087804", "completed")],
    ),
    "04": dict(
        order_type="orders",
        order_id="31d06aea-651b-42ba-a338-4e629800368d",
        message="Created a new number order for 1 number from Unknown RC, Unknown State",
        numbers=[("8338760878", "+18338760878", "completed")],
    ),
    "05": dict(
        order_id="745c341a-e7be-496a-a8bc-cc4c1d960790",
        numbers=[("8022556329", "+18022556329", "completed")],
    ),
    "06": dict(
        numbers=[
            ("9195007741", "+19195007741", "completed"),
            ("9195181224", "+19195181224", "completed"),
            ("9195182893", "+19195182893", "completed"),
        ]
    ),
    "07": dict(
        status="PARTIAL",
        customer_order_id="crm-order-20240301-0042",
        message="",
        numbers=[(f"+191955501{i:02d}", f"+191955501{i:02d}", "completed") for i in range(1, 13)],
    ),
    "08": dict(
        order_type="OrderId",
        order_id="",
        customer_order_id="...",
        subscription_id="...",
        actual_foc_date=datetime(2023, 9, 12, tzinfo=UTC),
        numbers=[("...", "", "completed")],
    ),
    "09": dict(
        order_type="csrs", status="COMPLETE", message="The CSR request is complete.", numbers=[]
    ),
    "10": dict(order_type="csrs", status="FAILED", order_id="91e7298a-0942-47e4-996b-788da5544b6b"),
    "11": dict(customer_order_id="MyId5", message="26500: CSR is not available for this TN"),
    "12": dict(
        customer_order_id="MyId5", message="", order_id="b05de7e6-0cab-4c83-81bb-9379cba8efd0"
    ),
    "13": dict(order_type="disconnects", customer_order_id="disconnect-batch-17", numbers=[]),
    "14": dict(
        order_type="importtnorders",
        note="LOA uploaded for all numbers on this order.",
        message="Import TN order processing has started.",
    ),
    "15": dict(
        order_type="bulkPortins",
        status="VALID_DRAFT_TNS",
        order_id="",
        customer_order_id="Order Id for all child orders",
    ),
    "16": dict(
        order_type="portins",
        status="FOC",
        actual_foc_date=datetime(2023, 9, 12, tzinfo=UTC),
        actual_foc_date_text="2023-09-12T00:00:00Z",
        numbers=[
            ("9195551234", "+19195551234", "completed"),
            ("9195551235", "+19195551235", "completed"),
        ],
    ),
    "17": dict(
        order_type="portins",
        status="SUBMITTED",
        note="I've checked with the porting vendor and they are having difficulty getting a "
        "response from the losing carrier.  I'll continue to follow up.",
    ),
    "18": dict(
        order_type="portouts",
        customer_order_id="",
        numbers=[
            ("2223331000", "+12223331000", "completed"),
            ("2223331001", "+12223331001", "completed"),
        ],
    ),
    "19": dict(order_type="e911s", status="ADJUSTED_COMPLETE", customer_order_id="e911-hq-move"),
    "20": dict(
        order_type="",
        event_type="MESSAGING_LOST",
        subscription_id="...",
        numbers=[("...", "", "impacted")],
    ),
    "21": dict(
        order_type="",
        event_type="MESSAGING_LOST",
        status="",
        numbers=[
            ("9192345678", "+19192345678", "impacted"),
            ("9192345679", "+19192345679", "impacted"),
        ],
    ),
    "22": dict(
        event_type="MESSAGING_LOST",
        numbers=[
            ("9192345678", "+19192345678", "completed"),
            ("9192345679", "+19192345679", "completed"),
        ],
    ),
    "23": dict(
        order_type="portins | portouts | orders | disconnects | dldas | lsrorders | e911s | tnoptions",
        event_type="[MESSAGING_LOST]",
        note="...",
        numbers=[("...", "", "completed"), ("...", "", "impacted")],
    ),
}


def test_every_sample_payload_has_expectations() -> None:
    names = {path.name[:2] for path in PAYLOADS.glob("*.xml")}
    assert names == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_payload_parses_to_the_values_sent(name: str) -> None:
    parsed = parse_notification(payload(name))
    expected = dict(EXPECTED[name])
    numbers = expected.pop("numbers", None)
    for attribute, value in expected.items():
        assert getattr(parsed, attribute) == value, attribute
    if numbers is not None:
        assert [(tn.number, tn.e164, tn.kind) for tn in parsed.telephone_numbers] == numbers


def test_event_notifications_are_events_and_orders_are_orders() -> None:
    assert parse_notification(payload("21")).kind == "event"
    assert parse_notification(payload("22")).kind == "event"
    assert parse_notification(payload("01")).kind == "order"


def test_element_order_whitespace_and_declaration_do_not_matter() -> None:
    compact = parse_notification(payload("04"))
    rearranged = parse_notification(
        b"<Notification>\r\n\t<OrderType>  orders </OrderType>\r\n"
        b"  <CompletedTelephoneNumbers>\r\n<TelephoneNumber>\r\n 8338760878\r\n</TelephoneNumber>"
        b"</CompletedTelephoneNumbers>\r\n"
        b"<OrderId>31d06aea-651b-42ba-a338-4e629800368d</OrderId>"
        b"<Message>Created a new number order for 1 number from Unknown RC, Unknown State</Message>"
        b"<SubscriptionId>9a434012-501b-4d7f-989d-fb64a4fcb74b</SubscriptionId>"
        b"<Status>COMPLETE</Status></Notification>"
    )
    assert rearranged.order_type == "orders"
    assert rearranged.telephone_numbers == compact.telephone_numbers
    assert rearranged.fingerprint == compact.fingerprint


def test_comments_cdata_and_character_references_are_read_as_text() -> None:
    parsed = parse_notification(
        b"<Notification><!-- a comment --><OrderType>or<!-- split -->ders</OrderType>"
        b"<Message><![CDATA[5005: <b>not</b> markup & fine]]></Message>"
        b"<Note>caf&#233; &amp; &#x263A;</Note><Status>COMPLETE</Status></Notification>"
    )
    assert parsed.order_type == "orders"
    assert parsed.message == "5005: <b>not</b> markup & fine"
    assert parsed.note == "caf\u00e9 & \u263a"


@pytest.mark.parametrize(
    "encoding",
    ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "iso-8859-1", "windows-1252"],
)
def test_declared_and_bom_encodings_are_honoured(encoding: str) -> None:
    declared = encoding.removesuffix("-sig")
    text = (
        f'<?xml version="1.0" encoding="{declared.upper()}"?>'
        "<Notification><OrderType>portins</OrderType><Note>Réunion côté</Note></Notification>"
    )
    body = text.encode(encoding)
    if encoding in {"utf-16-le", "utf-16-be"}:
        assert not body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    parsed = parse_notification(body)
    assert parsed.note == "Réunion côté"
    assert parsed.text.endswith("</Notification>")


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_bomless_utf16_without_declaration_is_detected(encoding: str) -> None:
    body = "<Notification><OrderType>portins</OrderType></Notification>".encode(encoding)
    assert parse_notification(body).order_type == "portins"


def test_leading_whitespace_before_the_declaration_is_tolerated() -> None:
    body = b"\r\n  " + payload("01")
    parsed = parse_notification(body)
    assert parsed.order_id == "a8ef295b-fcf4-44a7-945c-0520c8f49123"
    assert parsed.text == body.decode()


def test_a_utf8_body_without_declaration_is_utf8() -> None:
    assert (
        parse_notification(
            "<Notification><EventType>ÉVÉNEMENT</EventType></Notification>".encode()
        ).event_type
        == "ÉVÉNEMENT"
    )


def test_unknown_elements_are_kept_and_never_fatal() -> None:
    parsed = parse_notification(
        b"<Notification><OrderType>orders</OrderType><NewThing>x</NewThing>"
        b"<Nested><A>1</A><A>2</A><B/></Nested><NewThing>y</NewThing></Notification>"
    )
    assert parsed.extra == {"NewThing": ["x", "y"], "Nested": {"A": ["1", "2"], "B": ""}}


def test_namespaced_notification_is_read_like_a_plain_one() -> None:
    parsed = parse_notification(
        b'<n:Notification xmlns:n="urn:x"><n:OrderType>orders</n:OrderType>'
        b"<n:Status>COMPLETE</n:Status></n:Notification>"
    )
    assert (parsed.order_type, parsed.status) == ("orders", "COMPLETE")


def test_both_number_lists_are_read_with_their_kind() -> None:
    parsed = parse_notification(payload("23"))
    assert {tn.kind for tn in parsed.telephone_numbers} == {"completed", "impacted"}


def test_empty_telephone_numbers_are_skipped() -> None:
    parsed = parse_notification(
        b"<Notification><OrderType>orders</OrderType><CompletedTelephoneNumbers>"
        b"<TelephoneNumber/><TelephoneNumber>  </TelephoneNumber><TelephoneNumber>9195551234</TelephoneNumber>"
        b"</CompletedTelephoneNumbers></Notification>"
    )
    assert parsed.telephone_numbers == (TelephoneNumber("9195551234", "+19195551234", "completed"),)


@pytest.mark.parametrize(
    ("number", "e164"),
    [
        ("9195551234", "+19195551234"),
        ("8338760878", "+18338760878"),
        ("+19195551234", "+19195551234"),
        ("+442071838750", "+442071838750"),
        ("...", ""),
        ("919555123", ""),
        ("19195551234", ""),
        ("+0123", ""),
        ("+12", "+12"),
        ("+1234567890123456", ""),
        ("+", ""),
        ("", ""),
        ("919-555-1234", ""),
        ("+1 919 555 1234", ""),
        ("\uff19\uff11\uff19\uff15\uff15\uff15\uff11\uff12\uff13\uff14", ""),  # full-width digits
    ],
)
def test_e164_form(number: str, e164: str) -> None:
    assert to_e164(number) == e164


@pytest.mark.parametrize(
    "text", ["2023-09-12T15:11:31.705Z", "2023-09-12T11:11:31.705-04:00", "2023-09-12T15:11:31.705"]
)
def test_dates_become_aware_utc(text: str) -> None:
    parsed = parse_notification(
        f"<Notification><OrderType>portins</OrderType><LastModifiedDate>{text}</LastModifiedDate></Notification>".encode()
    )
    assert parsed.last_modified_date == datetime(2023, 9, 12, 15, 11, 31, 705000, tzinfo=UTC)
    assert parsed.last_modified_date_text == text


@pytest.mark.parametrize(
    "text", ["yesterday", "2023-13-45T99:00:00Z", "9999-12-31T23:59:59-23:59", "..."]
)
def test_unparseable_dates_are_kept_as_text_not_refused(text: str) -> None:
    parsed = parse_notification(
        f"<Notification><OrderType>portins</OrderType><ActualFocDate>{text}</ActualFocDate></Notification>".encode()
    )
    assert parsed.actual_foc_date is None
    assert parsed.actual_foc_date_text == text


def test_fingerprint_differs_when_any_value_differs() -> None:
    base = parse_notification(payload("03"))
    later = parse_notification(payload("03").replace(b"20:40:47.539Z", b"20:40:48.000Z"))
    other_subscription = parse_notification(payload("03").replace(b"e73f1bf9", b"00000000"))
    assert len({base.fingerprint, later.fingerprint, other_subscription.fingerprint}) == 3


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "the body is empty"),
        (b"   \n ", "the body is empty"),
        (b"<Notification><OrderType>orders</OrderType>", "not well-formed XML"),
        (
            b"<Notification><OrderType>orders</OrderType></Notification>trailing",
            "not well-formed XML",
        ),
        (b'{"OrderType": "orders"}', "not well-formed XML"),
        (b"<Order><OrderType>orders</OrderType></Order>", "root element is <Order>"),
        (
            b"<Notification><Status>COMPLETE</Status></Notification>",
            "neither <OrderType> nor <EventType>",
        ),
        (
            b"<Notification><OrderType> </OrderType></Notification>",
            "neither <OrderType> nor <EventType>",
        ),
        (
            b"<Notification><OrderType>a</OrderType><OrderType>b</OrderType></Notification>",
            "<OrderType> appears more than once",
        ),
        (
            b"<Notification><OrderType>a<b>x</b></OrderType></Notification>",
            "<OrderType> must contain text only",
        ),
        (
            b"<Notification><OrderType>" + b"x" * 101 + b"</OrderType></Notification>",
            "<OrderType> is 101 characters long",
        ),
        (
            b'<!DOCTYPE Notification [<!ENTITY a "aaaa">]><Notification><OrderType>&a;</OrderType></Notification>',
            "DTDs",
        ),
        (b'<!DOCTYPE Notification SYSTEM "http://127.0.0.1:9/x.dtd"><Notification/>', "DTDs"),
        (b'<?xml version="1.0" encoding="klingon"?><Notification/>', "unknown encoding 'klingon'"),
        (
            b"<Notification><OrderType>\xff\xfe</OrderType></Notification>",
            "not valid utf-8: byte 0xff at offset 25",
        ),
        (b"<Notification><OrderType>orders\x00</OrderType></Notification>", "not well-formed XML"),
        (
            b"<Notification><X>"
            + b"<Y>" * 20
            + b"</Y>" * 20
            + b"</X><OrderType>o</OrderType></Notification>",
            "nested more than 16 levels",
        ),
    ],
)
def test_refusals_say_why_in_one_line(body: bytes, reason: str) -> None:
    with pytest.raises(NotificationParseError) as caught:
        parse_notification(body)
    assert reason in str(caught.value)
    assert "\n" not in str(caught.value)


def test_billion_laughs_is_refused_before_expansion() -> None:
    entities = "".join(
        f'<!ENTITY l{i} "{"&l" + str(i - 1) + ";" if i else "lol"}'
        + ("&l" + str(i - 1) + ";") * 9 * bool(i)
        + '">'
        for i in range(10)
    )
    body = f"<!DOCTYPE Notification [{entities}]><Notification><Note>&l9;</Note></Notification>".encode()
    with pytest.raises(NotificationParseError, match="DTDs"):
        parse_notification(body)


def test_parser_module_imports_no_django() -> None:
    tree = ast.parse(Path(parsing.__file__).read_text())
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not any(name.startswith("django") for name in imported)


def test_parse_result_is_frozen() -> None:
    parsed = parse_notification(payload("01"))
    with pytest.raises(AttributeError):
        parsed.status = "FAILED"  # type: ignore[misc]


# -- the two parsers: the C parser without a DOCTYPE, defusedxml with one -----------


@pytest.fixture
def defused_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record each body handed to defusedxml (and still parse it there)."""
    calls: list[str] = []
    real = defusedxml.ElementTree.fromstring

    def recording(text: str, **kwargs: Any) -> Any:
        calls.append(text)
        return real(text, **kwargs)

    monkeypatch.setattr(parsing, "fromstring", recording)
    return calls


def test_a_body_without_doctype_never_reaches_defusedxml(defused_calls: list[str]) -> None:
    for name in ("01", "07", "21"):
        parse_notification(payload(name))
    assert defused_calls == []


@pytest.mark.parametrize(
    "body",
    [
        b"<!DOCTYPE Notification><Notification><OrderType>o</OrderType></Notification>",
        b'<?xml version="1.0"?>\n<!DOCTYPE Notification SYSTEM "x.dtd"><Notification/>',
        "<!DOCTYPE Notification><Notification/>".encode("utf-16"),
    ],
)
def test_any_doctype_goes_to_defusedxml_and_is_refused(
    defused_calls: list[str], body: bytes
) -> None:
    with pytest.raises(NotificationParseError, match="DTDs"):
        parse_notification(body)
    assert len(defused_calls) == 1


def test_doctype_text_in_a_comment_or_cdata_is_parsed_by_defusedxml(
    defused_calls: list[str],
) -> None:
    body = (
        b"<Notification><!-- <!DOCTYPE x> --><OrderType>o</OrderType>"
        b"<Note><![CDATA[<!DOCTYPE y>]]></Note></Notification>"
    )
    parsed = parse_notification(body)
    assert (parsed.order_type, parsed.note) == ("o", "<!DOCTYPE y>")
    assert len(defused_calls) == 1


@pytest.mark.parametrize(
    "body",
    [
        b"<!doctype Notification><Notification><OrderType>o</OrderType></Notification>",
        b"<! DOCTYPE Notification><Notification><OrderType>o</OrderType></Notification>",
        b'<!ENTITY a "x"><Notification><OrderType>o</OrderType></Notification>',
        b"<Notification><OrderType>&a;</OrderType></Notification>",
    ],
)
def test_doctype_lookalikes_cannot_declare_anything(defused_calls: list[str], body: bytes) -> None:
    # Without the exact "<!DOCTYPE" the C parser sees no DTD: a declaration or an
    # undefined entity is a syntax error there.
    with pytest.raises(NotificationParseError, match="not well-formed XML"):
        parse_notification(body)
    assert defused_calls == []


def test_character_references_stay_text_on_the_fast_path() -> None:
    body = b"<Notification><OrderType>&#x26;lt;</OrderType></Notification>"
    assert parse_notification(body).order_type == "&lt;"
