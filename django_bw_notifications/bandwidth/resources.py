"""The Numbers API's resources as XML: what its answers hold and how to read them.

Subscriptions (:class:`Subscription`, read from a list or get answer; :class:`SubscriptionSpec`,
the body of a create or update), an order's current state (:class:`OrderState`, one
reader per order type in :data:`ORDER_READERS`), a page of the account's in-service
numbers (:class:`NumbersPage`), and Bandwidth's ways of saying no,
including the ones sent with HTTP 200. Pure: no HTTP, no Django; the answers are parsed
with the notifications' safe parser (DTDs refused).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit
from xml.etree.ElementTree import Element, SubElement, tostring

from ..parsing import NotificationParseError, local_name, parse_xml

__all__ = [
    "ORDER_READERS",
    "NumbersPage",
    "OrderState",
    "Subscription",
    "SubscriptionSpec",
    "all_named",
    "carries_error",
    "child",
    "error_details",
    "parse_answer",
    "read_numbers_page",
    "read_subscription",
    "refusal_in",
    "text_of",
]


@dataclass(frozen=True)
class Subscription:
    """A subscription as Bandwidth reports it (the password is never returned)."""

    id: str
    order_type: str = ""
    event_type: str = ""
    #: Set for a subscription to one order only (Bandwidth deletes it when that order ends).
    order_id: str = ""
    url: str = ""
    #: Seconds left before Bandwidth stops notifying; None when not reported.
    expiry: int | None = None
    #: The result of the latest delivery (``200 OK``, or the error), "" before any.
    status: str = ""
    number_format: str = ""
    #: The Basic username Bandwidth sends, "" for a subscription without credentials.
    username: str = ""
    #: True when Bandwidth says the subscription sends Basic credentials (the only kind
    #: our endpoint accepts).
    has_credentials: bool = False
    #: True when its ``CallbackCredentials`` hold only a ``PublicKey``, no Basic pair.
    public_key_only: bool = False
    #: The address of an e-mail subscription (``EmailSubscription``), "" for none.
    email: str = ""
    #: False for a subscription that only e-mails (no ``CallbackSubscription``): it
    #: posts nowhere, so callback health does not apply to it.
    is_callback: bool = True

    @property
    def kind(self) -> str:
        """``"order:<type>"`` or ``"event:<type>"``: what the subscription is for."""
        return f"event:{self.event_type}" if self.event_type else f"order:{self.order_type}"

    @property
    def last_delivery_ok(self) -> bool | None:
        """True/False for the latest delivery's status; None before any delivery.

        Bandwidth shows ``READY`` on a healthy callback subscription that has not
        delivered yet, and ``200 OK`` after a successful delivery; anything else is the
        error its latest delivery met.
        """
        status = self.status.strip()
        if not status or status.upper() in _NOT_YET_DELIVERED:
            return None
        return status.startswith("200")


#: ``CallbackSubscription/Status`` values of a healthy subscription before any delivery.
_NOT_YET_DELIVERED = frozenset({"READY"})


@dataclass(frozen=True)
class SubscriptionSpec:
    """What a subscription should be: what it is for, where it posts, with what."""

    url: str
    username: str
    password: str
    expiry: int
    number_format: str = "E164"
    order_type: str = ""
    event_type: str = ""

    @property
    def kind(self) -> str:
        """``"order:<type>"`` or ``"event:<type>"``, as :attr:`Subscription.kind`."""
        return f"event:{self.event_type}" if self.event_type else f"order:{self.order_type}"

    def __repr__(self) -> str:  # the password stays out of logs and tracebacks
        what = f"event_type={self.event_type!r}" if self.event_type else f"{self.order_type!r}"
        return f"SubscriptionSpec({what}, url={self.url!r}, username={self.username!r})"

    def to_xml(self) -> bytes:
        """The ``<Subscription>`` body Bandwidth's create and update calls take."""
        root = Element("Subscription")
        if self.event_type:
            SubElement(root, "EventType").text = self.event_type
        else:
            SubElement(root, "OrderType").text = self.order_type
        callback = SubElement(root, "CallbackSubscription")
        SubElement(callback, "URL").text = self.url
        SubElement(callback, "Expiry").text = str(self.expiry)
        credentials = SubElement(callback, "CallbackCredentials")
        basic = SubElement(credentials, "BasicAuthentication")
        SubElement(basic, "Username").text = self.username
        SubElement(basic, "Password").text = self.password
        SubElement(callback, "NumberFormat").text = self.number_format
        body: bytes = tostring(root, encoding="utf-8", xml_declaration=True)
        return body


@dataclass(frozen=True)
class OrderState:
    """An order's current state as the Numbers API returns it (a summary of the fields
    a notification carries, plus the response itself)."""

    order_type: str
    order_id: str
    status: str
    customer_order_id: str = ""
    last_modified_date: str = ""
    #: The port-in's firm order commitment date as sent ("" when absent or not a port-in).
    actual_foc_date: str = ""
    telephone_numbers: tuple[str, ...] = ()
    #: Why it failed or is partial, from the order's errors (``"5005: text"`` a line),
    #: as a notification's ``Message`` would say it; "" when none.
    message: str = ""
    #: The response body, as text.
    raw: str = ""


# Every form Bandwidth's error bodies take: ResponseStatus/ErrorCode + Description,
# Error(s)/Code + Description, and the LOA files' resultCode + resultMessage.
_CODE_NAMES = frozenset({"errorcode", "code", "resultcode"})
_DESCRIPTION_NAMES = frozenset({"description", "resultmessage"})


def error_details(text: str) -> tuple[str, str]:
    """Bandwidth's error code and description in an error answer's body, ``""`` for
    each one absent; a body that is not XML gives its first 200 characters as the
    description."""
    code = description = ""
    root = parse_answer(text)
    if root is not None:
        for element in root.iter():
            name = local_name(element.tag)
            value = (element.text or "").strip()
            if name.casefold() in _CODE_NAMES and not code and value:
                code = value
            elif name.casefold() in _DESCRIPTION_NAMES and not description:
                description = value
    elif text.strip():
        description = " ".join(text.split())[:200]
    return code, description


def refusal_in(root: Element) -> bool:
    """True for a body that reports an error although its HTTP status is a success.

    Bandwidth answers some refusals with ``200``: a ``ResponseStatus`` carrying an
    ``ErrorCode``, or a ``resultCode`` other than ``0``. An order's ``ErrorList`` is not
    one: it is part of a FAILED or PARTIAL order's state.
    """
    status = child(root, "ResponseStatus")
    if status is not None and text_of(status, "ErrorCode"):
        return True
    for element in root.iter():
        if local_name(element.tag).casefold() == "resultcode":
            code = (element.text or "").strip()
            if code and code != "0":
                return True
    return False


_ERROR_ELEMENTS = frozenset({"error", "errors", "errorcode", "errorlist", "responsestatus"})


def carries_error(root: Element, expected: tuple[str, ...]) -> bool:
    """True for a success answer that holds none of the ``expected`` elements but an
    error (``Errors/Error``, ``SearchResult/Error``…): an error sent with HTTP 200. An
    answer that holds what was asked for is its state, errors included (a FAILED order
    lists its ``ErrorList``)."""
    if not expected:
        return False
    names = {local_name(element.tag) for element in root.iter()}
    if names & set(expected):
        return False
    return bool({name.casefold() for name in names} & _ERROR_ELEMENTS)


def parse_answer(text: str) -> Element | None:
    """An answer's XML root, safely parsed (DTDs refused); None for an empty or
    unreadable body."""
    if not text.strip():
        return None
    try:
        return parse_xml(text)
    except NotificationParseError:
        return None


def all_named(root: Element, name: str) -> list[Element]:
    """Every element under ``root`` (itself included) named ``name``, any namespace."""
    return [element for element in root.iter() if local_name(element.tag) == name]


def child(element: Element | None, *path: str) -> Element | None:
    """The element at ``path`` (direct children by local name) under ``element``, or None."""
    for name in path:
        if element is None:
            return None
        element = next((c for c in element if local_name(c.tag) == name), None)
    return element


def text_of(element: Element | None, *path: str) -> str:
    """The stripped text at ``path`` under ``element``, ``""`` when absent."""
    found = child(element, *path)
    return (found.text or "").strip() if found is not None else ""


def read_subscription(element: Element) -> Subscription:
    """A ``<Subscription>`` element of a list or get answer."""
    callback = child(element, "CallbackSubscription")
    email = text_of(element, "EmailSubscription", "Email")
    username = text_of(
        callback, "CallbackCredentials", "BasicAuthentication", "Username"
    ) or text_of(callback, "User")
    credentials = child(callback, "CallbackCredentials")
    # Only a Basic pair is credentials our endpoint accepts: a PublicKey alone (for
    # Bandwidth's other products) gets every delivery a 401 here.
    basic = child(credentials, "BasicAuthentication")
    has_credentials = bool(username) or basic is not None
    public_key_only = (
        not has_credentials
        and credentials is not None
        and child(credentials, "PublicKey") is not None
    )
    expiry_text = text_of(callback, "Expiry")
    return Subscription(
        id=text_of(element, "SubscriptionId"),
        order_type=text_of(element, "OrderType"),
        event_type=text_of(element, "EventType"),
        order_id=text_of(element, "OrderId"),
        url=text_of(callback, "URL"),
        expiry=int(expiry_text) if expiry_text.isdigit() else None,
        status=text_of(callback, "Status"),
        number_format=text_of(callback, "NumberFormat"),
        username=username,
        has_credentials=has_credentials,
        public_key_only=public_key_only,
        email=email,
        is_callback=callback is not None,
    )


def _numbers(elements: Iterable[Element]) -> tuple[str, ...]:
    return tuple(text for e in elements if (text := (e.text or "").strip()))


def _read_orders(root: Element, order_id: str, raw: str) -> OrderState:
    completed = child(root, "CompletedNumbers")
    numbers = _numbers(
        number
        for tn in (completed if completed is not None else ())
        for number in tn
        if local_name(number.tag) == "FullNumber"
    )
    return OrderState(
        order_type="orders",
        order_id=text_of(root, "Order", "id") or order_id,
        status=text_of(root, "OrderStatus"),
        customer_order_id=text_of(root, "Order", "CustomerOrderId"),
        last_modified_date=text_of(root, "LastModifiedDate"),
        telephone_numbers=numbers,
        message=_error_list_message(root),
        raw=raw,
    )


def _read_portins(root: Element, order_id: str, raw: str) -> OrderState:
    listed = child(root, "ListOfPhoneNumbers")
    return OrderState(
        order_type="portins",
        order_id=text_of(root, "OrderId") or order_id,
        # <Status> here is the response's own (Code/Description); the order's is this.
        status=text_of(root, "ProcessingStatus"),
        customer_order_id=text_of(root, "CustomerOrderId"),
        last_modified_date=text_of(root, "LastModifiedDate"),
        # What a FOC notification carries too: without it a reconciled FOC and Bandwidth's
        # own would be different news, and the FOC's receivers would run twice.
        actual_foc_date=text_of(root, "ActualFocDate"),
        telephone_numbers=_numbers(listed if listed is not None else ()),
        message=_error_list_message(root),
        raw=raw,
    )


def _read_disconnects(root: Element, order_id: str, raw: str) -> OrderState:
    request = child(root, "orderRequest")
    # The numbers Bandwidth disconnected, not the ones asked for (orderRequest's
    # TelephoneNumberList): a FAILED disconnect has none, a PARTIAL one some.
    done = child(root, "DisconnectedTelephoneNumberList")
    return OrderState(
        order_type="disconnects",
        order_id=text_of(request, "id") or order_id,
        status=text_of(root, "OrderStatus"),
        customer_order_id=text_of(request, "CustomerOrderId"),
        last_modified_date=text_of(root, "LastModifiedDate"),
        telephone_numbers=_numbers(done if done is not None else ()),
        message=_error_list_message(root),
        raw=raw,
    )


def _error_list_message(root: Element) -> str:
    """An order's errors as a notification's ``Message`` reads: ``"5006: text"``, one
    per line. Orders and disconnects list them as ``ErrorList/Error``; port-ins as
    repeated ``Errors`` elements right under the root."""
    error_list = child(root, "ErrorList")
    errors = [
        e for e in (error_list if error_list is not None else ()) if local_name(e.tag) == "Error"
    ]
    errors += [e for e in root if local_name(e.tag) == "Errors"]
    lines = [
        ": ".join(part for part in (text_of(error, "Code"), text_of(error, "Description")) if part)
        for error in errors
    ]
    return "\n".join(line for line in lines if line)


#: How to read ``GET /accounts/{id}/{order type}/{id}``, by order type (casefolded).
ORDER_READERS: dict[str, Callable[[Element, str, str], OrderState]] = {
    "orders": _read_orders,
    "portins": _read_portins,
    "disconnects": _read_disconnects,
}


# --- the account's numbers (inserviceNumbers, discnumbers) ----------------------------


@dataclass(frozen=True)
class NumbersPage:
    """One page of a ``<TNs>`` answer (``inserviceNumbers``, ``discnumbers``)."""

    #: The numbers as Bandwidth wrote them (10 digits or E.164), in its order.
    numbers: tuple[str, ...]
    #: ``TotalCount``: every page's numbers together, when Bandwidth said (else None).
    total: int | None
    #: The ``page`` key of the next page (the first number on it), "" on the last page.
    next_page: str


# The next page's link, however it is written: escaped text inside <next>
# (``Link=&lt;https://…?page=…&amp;size=…&gt;;rel="next";``), or raw inside an XML comment
# there, which a parser drops. Read from the body's text, not the parsed tree.
_NEXT = re.compile(r"<next\b[^>]*>(.*?)</next\s*>", re.IGNORECASE | re.DOTALL)
_URL = re.compile(r"https?://[^\s<>\"';]+")


def read_numbers_page(text: str) -> NumbersPage:
    """A page of the account's numbers; an empty body (``204``) is an empty last page.
    Raises ``ValueError`` for an answer that is not a ``<TNs>`` (the caller says whose)."""
    root = parse_answer(text)
    if root is None:
        if text.strip():
            raise ValueError("the answer is not XML")
        return NumbersPage((), 0, "")
    if local_name(root.tag) != "TNs" and not all_named(root, "TelephoneNumbers"):
        raise ValueError(f"the answer is a <{local_name(root.tag)}>, not a <TNs>")
    lists = all_named(root, "TelephoneNumbers")
    numbers = _numbers(
        e for found in lists for e in found if local_name(e.tag) == "TelephoneNumber"
    )
    total_text = text_of(root, "TotalCount")
    total = int(total_text) if total_text.isdigit() else None
    return NumbersPage(numbers, total, _next_page(text))


def _next_page(text: str) -> str:
    found = _NEXT.search(text)
    if found is None:
        return ""
    # Escaped once in the XML text, sometimes twice (``&amp;amp;``) by a serialiser.
    link = html.unescape(html.unescape(found.group(1)))
    url = _URL.search(link)
    if url is None:
        return ""
    pages = parse_qs(urlsplit(url.group(0)).query).get("page", [])
    return pages[0].strip() if pages else ""
