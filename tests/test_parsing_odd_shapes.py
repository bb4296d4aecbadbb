"""Parsing bodies whose shape is legal but unusual: a UTF-32 body, strangers inside a
number list, an element repeated three times, a number with markup inside, and a
document type in a body that is not even well-formed. Built from the real payloads."""

from __future__ import annotations

import re

import pytest

from django_bw_notifications.parsing import (
    NotificationParseError,
    parse_notification,
    pretty_xml,
)
from tests.support import payload

# 06: an orders COMPLETE notification listing several completed numbers.
MULTIPLE = payload("06").decode("utf-8")


def test_a_utf32_body_with_its_bom_parses_like_the_utf8_original() -> None:
    declaration_free = re.sub(r"^<\?xml[^>]*\?>", "", MULTIPLE)
    as_utf32 = parse_notification(declaration_free.encode("utf-32"))  # BOM first
    original = parse_notification(payload("06"))
    assert as_utf32.order_id == original.order_id
    assert as_utf32.telephone_numbers == original.telephone_numbers
    assert len(original.telephone_numbers) > 1


def test_strangers_in_a_number_list_are_skipped_and_kept_in_the_text() -> None:
    body = MULTIPLE.replace(
        "<CompletedTelephoneNumbers>",
        "<CompletedTelephoneNumbers><Count>2</Count>",
    )
    assert body != MULTIPLE
    parsed = parse_notification(body.encode("utf-8"))
    assert parsed.telephone_numbers == parse_notification(payload("06")).telephone_numbers
    assert "<Count>2</Count>" in parsed.text


def test_markup_inside_a_telephone_number_is_refused_and_named() -> None:
    body = re.sub(
        r"<TelephoneNumber>([0-9]+)</TelephoneNumber>",
        r"<TelephoneNumber><b>\1</b></TelephoneNumber>",
        MULTIPLE,
        count=1,
    )
    with pytest.raises(
        NotificationParseError,
        match="<TelephoneNumber> must contain text only, but it contains <b>",
    ):
        parse_notification(body.encode("utf-8"))


def test_an_unknown_element_sent_three_times_keeps_all_three_in_order() -> None:
    body = MULTIPLE.replace(
        "</Notification>",
        "<Remark>one</Remark><Remark>two</Remark><Remark>three</Remark></Notification>",
    )
    assert parse_notification(body.encode("utf-8")).extra["Remark"] == ["one", "two", "three"]


def test_a_document_type_in_a_body_that_is_not_well_formed_is_called_that() -> None:
    # The DOCTYPE sits in a comment (harmless), so the safe parser reads the body and
    # finds it unclosed: the reason given is the real one, not "DTDs are not allowed".
    body = b"<!-- <!DOCTYPE x> --><Notification><OrderType>orders</OrderType>"
    with pytest.raises(NotificationParseError, match=r"^not well-formed XML: "):
        parse_notification(body)


def test_pretty_xml_leaves_what_does_not_parse_as_it_is() -> None:
    assert pretty_xml("<Notification><Status>") == "<Notification><Status>"
    assert pretty_xml("plain text, not XML") == "plain text, not XML"
