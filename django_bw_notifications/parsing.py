"""Turn the bytes Bandwidth POSTs into a frozen :class:`ParsedNotification`.

Pure Python: no Django imports, so it can be tested, benchmarked and reused (a spool
drain, a future JSON adapter) on its own. Every failure is a
:class:`NotificationParseError` whose message is one line a person can act on.

Safety: DTDs are forbidden, so entity expansion (billion laughs, quadratic blowup),
external entities and external DTDs are refused before they can do anything. A body
that could hold a DTD (it contains ``<!DOCTYPE``) is parsed by defusedxml with
``forbid_dtd=True``; one that cannot is parsed by the standard library's C parser,
which is then exposed to nothing defusedxml guards against (see ``_parse_xml``).

Tolerance (see BANDWIDTH.md section 3): any element order, with or without an XML
declaration, any declared encoding (BOM or declaration), padding whitespace, comments,
CDATA, character references, unknown elements (kept in :attr:`ParsedNotification.extra`),
a missing ``OrderId``, event numbers under either list name, and dates that do not parse
(kept as text).

One module, over the usual size, because it is the whole of bytes → notification
(DESIGN.md gives parsing all of it, free of Django); the Numbers API client reads its
answers with the same safe parser and helpers (:func:`parse_xml`, :func:`local_name`,
:func:`parse_date`).
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import repeat
from typing import Any, Literal, NamedTuple
from xml.etree.ElementTree import Element, ParseError, indent, tostring
from xml.etree.ElementTree import fromstring as _c_fromstring

from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden
from defusedxml.ElementTree import fromstring

__all__ = [
    "MAX_LENGTHS",
    "NotificationParseError",
    "ParsedNotification",
    "TelephoneNumber",
    "decode_body",
    "local_name",
    "parse_date",
    "parse_notification",
    "parse_xml",
    "pretty_xml",
    "to_e164",
    "typed_number_forms",
]


class NotificationParseError(ValueError):
    """The body is not a notification we can store; ``str(err)`` says why, in one line."""


#: Longest value accepted per element; longer ones are refused rather than truncated.
#: They bound the indexed columns (a PostgreSQL btree entry must stay under ~2.7 kB).
#: ``Message`` and ``Note`` are free text and bounded only by the body size cap.
MAX_LENGTHS: Mapping[str, int] = {
    "SubscriptionId": 255,
    "OrderType": 100,
    "OrderId": 255,
    "CustomerOrderId": 255,
    "Status": 100,
    "EventType": 100,
    "LastModifiedDate": 100,
    "ActualFocDate": 100,
    "TelephoneNumber": 64,
}

#: Element name -> attribute of ParsedNotification, for the text-only elements we know.
_SCALARS: Mapping[str, str] = {
    "SubscriptionId": "subscription_id",
    "OrderType": "order_type",
    "OrderId": "order_id",
    "CustomerOrderId": "customer_order_id",
    "Status": "status",
    "Message": "message",
    "Note": "note",
    "EventType": "event_type",
    "LastModifiedDate": "last_modified_date_text",
    "ActualFocDate": "actual_foc_date_text",
}

#: Lists of numbers; the value is how each number records where it came from.
_NUMBER_LISTS: Mapping[str, Literal["completed", "impacted"]] = {
    "CompletedTelephoneNumbers": "completed",
    "ImpactedTelephoneNumbers": "impacted",
}

# Unknown elements are kept as nested dicts; deeper than this is refused, so a
# hostile 200,000-level nest cannot exhaust the stack when it is converted to JSON.
_MAX_EXTRA_DEPTH = 16

# Only ASCII can come before the encoding name, whatever the encoding (XML 1.0 §4.3.3).
_DECLARED_ENCODING = re.compile(
    rb"<\?xml[^>]{0,200}?\bencoding\s*=\s*[\"']([A-Za-z][A-Za-z0-9._-]{0,39})[\"']"
)


class TelephoneNumber(NamedTuple):
    """One telephone number of a notification.

    A named tuple rather than a dataclass: a 5,000-number body makes 5,000 of them, and
    a tuple is built several times faster (bench/README.md).
    """

    #: The number as sent, whitespace stripped (``9195551234`` or ``+19195551234``).
    number: str
    #: E.164 form: ``+1`` added to 10-digit NANP numbers, ``+…`` kept, else ``""``.
    e164: str
    #: The list it came from: ``"completed"`` or ``"impacted"``.
    kind: Literal["completed", "impacted"]


@dataclass(frozen=True, slots=True)
class ParsedNotification:
    """Everything one notification says, values as sent (stripped), ``""`` when absent."""

    subscription_id: str = ""
    order_type: str = ""
    order_id: str = ""
    customer_order_id: str = ""
    status: str = ""
    message: str = ""
    note: str = ""
    event_type: str = ""
    #: ``LastModifiedDate`` as an aware UTC datetime, or None if absent or unparseable.
    last_modified_date: datetime | None = None
    #: ``LastModifiedDate`` exactly as sent (stripped), kept even when it does not parse.
    last_modified_date_text: str = ""
    actual_foc_date: datetime | None = None
    actual_foc_date_text: str = ""
    telephone_numbers: tuple[TelephoneNumber, ...] = ()
    #: Elements this version does not know, by name: text, or a dict for nested ones,
    #: or a list when repeated. Treat as read-only.
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: The body decoded to text (the declared or BOM-detected encoding honoured).
    text: str = ""

    @property
    def kind(self) -> Literal["order", "event"]:
        """``"event"`` for event notifications (no ``OrderType``), else ``"order"``."""
        return "event" if self.event_type and not self.order_type else "order"

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the content, so the same notification re-sent is recognised.

        Built from every parsed value (numbers in order, unknown elements included), not
        from the bytes: a copy that differs only in whitespace, comments, element order
        or XML declaration is the same notification.
        """
        content = {name: getattr(self, attr) for name, attr in _SCALARS.items()}
        content["TelephoneNumbers"] = [[tn.kind, tn.number] for tn in self.telephone_numbers]
        content["extra"] = self.extra
        canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def to_e164(number: str) -> str:
    """Return the E.164 form of ``number``, or ``""`` when it has none we can be sure of."""
    # String methods, not regular expressions: this runs once per number. isascii()
    # matters: str.isdigit() is also true for other scripts' digits.
    if len(number) == 10 and number.isdigit() and number.isascii():
        return "+1" + number
    digits = number[1:]
    if (
        number[:1] == "+"
        and 2 <= len(digits) <= 15
        and digits.isdigit()
        and digits.isascii()
        and digits[0] != "0"
    ):
        return number
    return ""


#: What people put between a number's digits: spaces, dashes, dots, slashes, brackets.
_NUMBER_PUNCTUATION = str.maketrans("", "", " \t-./()\u00a0")


def typed_number_forms(typed: str) -> frozenset[str]:
    """The stored forms a telephone number typed by a person can have.

    ``919-555-0177``, ``(919) 555-0177``, ``+1 919 555 0177``, ``19195550177`` and
    ``9195550177`` all give ``+19195550177`` (how a NANP number is stored in ``e164``);
    ``+44 20 7946 0958`` gives ``+442079460958``. The text without its punctuation is
    included too, for numbers stored without an E.164 form (matched as sent).
    """
    text = typed.strip()
    compact = text.translate(_NUMBER_PUNCTUATION)
    forms = {text, compact}
    digits = compact.removeprefix("+")
    if digits.isdigit() and digits.isascii():
        if compact.startswith("+"):
            forms.add(to_e164(compact))
        elif len(digits) == 11 and digits.startswith("1"):
            forms.add(to_e164(digits[1:]))
        else:
            forms.add(to_e164(digits))
    return frozenset(forms - {""})


def decode_body(body: bytes) -> str:
    """Decode an XML body the way an XML processor would (XML 1.0 appendix F).

    A byte-order mark wins; then a BOM-less UTF-16 start; then the encoding named in the
    XML declaration; UTF-8 otherwise. Whatever the declaration names, the result is text
    that can be stored, or :class:`NotificationParseError`: a name that is no text codec
    (``rot13``, ``hex``, ``zlib``), a codec that cannot decode (``undefined``) or one
    that yields lone surrogates (``utf-7``, ``unicode_escape``) is refused, not a crash.
    """
    encoding = _detect_encoding(body)
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        raise NotificationParseError(
            f"the XML declaration names an unknown encoding {encoding!r}"
        ) from None
    if not getattr(info, "_is_text_encoding", True):
        # bytes.decode() refuses these itself, but with a LookupError that reads like
        # an unknown name; say what is wrong.
        raise NotificationParseError(
            f"the XML declaration names {encoding!r}, which is not a text encoding"
        )
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError as err:
        raise NotificationParseError(
            f"the body is not valid {encoding}: byte 0x{body[err.start]:02x} at offset {err.start}"
        ) from None
    except (UnicodeError, LookupError, ValueError, TypeError) as err:
        # Codecs that raise something else than UnicodeDecodeError (punycode, idna,
        # "undefined"): refused with what the codec said.
        raise NotificationParseError(
            f"the body cannot be decoded as {encoding!r}: {type(err).__name__}: {err}"[:300]
        ) from None
    if info.name not in _SURROGATE_FREE_CODECS:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as err:
            raise NotificationParseError(
                f"decoding the body as {encoding!r} gives a lone surrogate "
                f"(U+{ord(text[err.start]):04X}) at character {err.start}; "
                "no XML document contains one"
            ) from None
    return text


# Codecs whose decoder never returns a lone surrogate: the one check that could find
# one (encoding the text again) is skipped for them, the common case.
_SURROGATE_FREE_CODECS = frozenset(
    {
        "utf-8",
        "utf-8-sig",
        "ascii",
        "latin-1",
        "iso8859-1",
        "cp1252",
        "utf-16",
        "utf-16-le",
        "utf-16-be",
        "utf-32",
        "utf-32-le",
        "utf-32-be",
    }
)


def parse_notification(body: bytes) -> ParsedNotification:
    """Parse one notification body. Raises :class:`NotificationParseError`."""
    if not body.strip():
        raise NotificationParseError("the body is empty; expected a <Notification> XML document")
    text = decode_body(body)
    # expat refuses an XML declaration after leading whitespace; a stray newline before
    # it must not cost a notification (raw text is kept as received).
    root = _parse_xml(text.lstrip())
    if local_name(root.tag) != "Notification":
        raise NotificationParseError(
            f"the root element is <{local_name(root.tag)}>; expected <Notification>"
        )

    values: dict[str, str] = {}
    numbers: list[TelephoneNumber] = []
    extra: dict[str, Any] = {}
    for child in root:
        name = local_name(child.tag)
        if name in _SCALARS:
            if name in values:
                raise NotificationParseError(f"<{name}> appears more than once")
            values[name] = _text_only(child, name)
        elif name in _NUMBER_LISTS:
            numbers.extend(_numbers(child, _NUMBER_LISTS[name]))
        else:
            _add_extra(extra, name, _extra_value(child, name, 1))

    if not values.get("OrderType") and not values.get("EventType"):
        raise NotificationParseError("the notification has neither <OrderType> nor <EventType>")
    for name, value in values.items():
        limit = MAX_LENGTHS.get(name)
        if limit is not None and len(value) > limit:
            raise NotificationParseError(
                f"<{name}> is {len(value)} characters long; at most {limit} are accepted"
            )

    fields = {_SCALARS[name]: value for name, value in values.items()}
    return ParsedNotification(
        **fields,
        last_modified_date=parse_date(values.get("LastModifiedDate", "")),
        actual_foc_date=parse_date(values.get("ActualFocDate", "")),
        telephone_numbers=tuple(numbers),
        extra=extra,
        text=text,
    )


def parse_xml(text: str) -> Element:
    """Parse any XML document with the notifications' safe parser (DTDs refused).

    For other XML Bandwidth sends, such as Numbers API responses. Raises
    :class:`NotificationParseError`.
    """
    return _parse_xml(text.lstrip())


def pretty_xml(text: str) -> str:
    """Return ``text`` re-indented for people to read, or unchanged if it does not parse.

    Parsed with the same safe parser as notifications; comments and the XML declaration
    are dropped, so show the text as received beside it when every byte matters.
    """
    try:
        root = _parse_xml(text.lstrip())
    except NotificationParseError:
        return text
    indent(root, space="  ")
    return tostring(root, encoding="unicode")


def _detect_encoding(body: bytes) -> str:
    # UTF-32 BOMs first: the UTF-32-LE BOM begins with the UTF-16-LE one.
    if body.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if body.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    # Without a BOM, a "<" followed or preceded by a NUL can only be UTF-16.
    if body.startswith(b"<\x00"):
        return "utf-16-le"
    if body.startswith(b"\x00<"):
        return "utf-16-be"
    match = _DECLARED_ENCODING.match(body.lstrip())
    if match:
        return match.group(1).decode("ascii").lower()
    return "utf-8"


def _parse_xml(text: str) -> Element:
    # Everything defusedxml guards against (entity expansion, external entities and
    # DTDs) needs a document type declaration, and XML allows one only as the literal
    # "<!DOCTYPE" (case-sensitive, no space after "<!"). Without that string the
    # document has no DTD, and the C parser builds the same tree about twice as fast as
    # defusedxml's Python-level one. With it (even inside a comment or CDATA, where it
    # is harmless) defusedxml decides, with DTDs forbidden. A str reaches expat as
    # UTF-8 whatever the declaration says, so this scan sees exactly what expat parses.
    if "<!DOCTYPE" not in text:
        try:
            root: Element = _c_fromstring(text)  # noqa: S314 - no DTD possible, see above
            return root
        except ParseError as err:
            raise NotificationParseError(f"not well-formed XML: {err}") from None
    try:
        root = fromstring(text, forbid_dtd=True)
        return root
    except DTDForbidden:
        raise NotificationParseError("DTDs (<!DOCTYPE …>) are not allowed") from None
    except EntitiesForbidden:  # pragma: no cover - needs a DTD, refused above
        raise NotificationParseError("entity declarations are not allowed") from None
    except DefusedXmlException as err:  # pragma: no cover - idem
        raise NotificationParseError(f"refused unsafe XML: {type(err).__name__}") from None
    except ParseError as err:
        raise NotificationParseError(f"not well-formed XML: {err}") from None


def local_name(tag: object) -> str:
    """An element's tag without its namespace (``{urn:x}Status`` → ``Status``).

    Bandwidth sends no namespace, but a namespaced copy means the same thing; the
    Numbers API client reads its answers with the same rule.
    """
    name = str(tag)
    return name.rpartition("}")[2] if name.startswith("{") else name


def _text_only(element: Element, name: str) -> str:
    if len(element):
        raise NotificationParseError(
            f"<{name}> must contain text only, but it contains <{local_name(element[0].tag)}>"
        )
    return (element.text or "").strip()


def _numbers(element: Element, kind: Literal["completed", "impacted"]) -> list[TelephoneNumber]:
    # The one part that runs thousands of times per body. Bandwidth's lists hold only
    # <TelephoneNumber> elements with text: for those every step below runs in C (map,
    # zip, str methods, tuple.__new__) except one expression per number. Anything else
    # takes the careful loop, which says what is wrong.
    if len(element) < _FEW:
        return _numbers_one_by_one(element, kind)
    children = element.findall("TelephoneNumber")
    if len(children) != len(element) or any(map(len, children)):
        return _numbers_one_by_one(element, kind)
    texts = [(child.text or "").strip() for child in children]
    if "" in texts:
        texts = [text for text in texts if text]
    if texts and max(map(len, texts)) > MAX_LENGTHS["TelephoneNumber"]:
        return _numbers_one_by_one(element, kind)
    e164s = [
        "+1" + text if len(text) == 10 and text.isdigit() and text.isascii() else to_e164(text)
        for text in texts
    ]
    return list(map(tuple.__new__, repeat(TelephoneNumber), zip(texts, e164s, repeat(kind))))


#: Below this many numbers the plain loop is quicker than setting up the C passes.
_FEW = 8


def _numbers_one_by_one(
    element: Element, kind: Literal["completed", "impacted"]
) -> list[TelephoneNumber]:
    limit = MAX_LENGTHS["TelephoneNumber"]
    numbers: list[TelephoneNumber] = []
    for child in element:
        if local_name(child.tag) != "TelephoneNumber":
            continue  # unknown siblings stay in the raw body
        if len(child):
            _text_only(child, "TelephoneNumber")  # raises: elements inside a number
        number = (child.text or "").strip()
        if not number:
            continue
        if len(number) > limit:
            raise NotificationParseError(
                f"a <TelephoneNumber> is {len(number)} characters long; "
                f"at most {limit} are accepted"
            )
        numbers.append(TelephoneNumber(number, to_e164(number), kind))
    return numbers


def _extra_value(element: Element, name: str, depth: int) -> Any:
    if depth > _MAX_EXTRA_DEPTH:
        raise NotificationParseError(
            f"the unknown element <{name}> is nested more than {_MAX_EXTRA_DEPTH} levels deep"
        )
    if not len(element):
        return (element.text or "").strip()
    nested: dict[str, Any] = {}
    for child in element:
        child_name = local_name(child.tag)
        _add_extra(nested, child_name, _extra_value(child, name, depth + 1))
    return nested


def _add_extra(target: dict[str, Any], name: str, value: Any) -> None:
    if name not in target:
        target[name] = value
    elif isinstance(target[name], list):
        target[name].append(value)
    else:
        target[name] = [target[name], value]


def parse_date(text: str) -> datetime | None:
    """A Bandwidth date (ISO 8601, ``…Z`` or an offset; one without an offset is UTC) as
    an aware UTC datetime; None for ``""`` or a text that is not a date (the caller keeps
    the text)."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            # Bandwidth's dates are UTC ("…Z"); one without an offset is read as UTC too.
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
