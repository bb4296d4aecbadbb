"""A small client for the parts of Bandwidth's Numbers API this package needs.

Subscriptions (list, get, create, update, delete) and the status of an order
(``orders``, ``portins``, ``disconnects``). HTTP goes through ``httpx`` (the ``client``
extra: ``pip install django-bw-notifications[client]``); XML is built with the standard
library and parsed with the notifications' safe parser (DTDs refused).

Authentication: HTTP Basic with the account's API user, or an OAuth2 bearer token from
the client credentials grant when the account sets ``CLIENT_ID``. Calls are retried with
exponential backoff after a ``429``, a ``5xx`` or a timeout; a ``POST`` (which creates)
only when Bandwidth cannot have acted on it (``429``, ``503``, no connection), so a
retry never creates a second subscription. Every other failure raises
:class:`BandwidthAPIError` carrying Bandwidth's error code and description. Secrets never
appear in messages, logs or ``repr()``.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote
from xml.etree.ElementTree import Element, SubElement, tostring

from .accounts import Account
from .conf import app_settings
from .parsing import NotificationParseError, _local_name, parse_xml

if TYPE_CHECKING:
    import httpx

__all__ = [
    "RECONCILABLE_ORDER_TYPES",
    "BandwidthAPIError",
    "NumbersClient",
    "OrderState",
    "Subscription",
    "SubscriptionSpec",
]

logger = logging.getLogger("django_bw_notifications.numbers_api")

#: Order types whose current state the client can fetch (``get_order``).
RECONCILABLE_ORDER_TYPES = ("orders", "portins", "disconnects")

_MAX_RETRY_AFTER = 60.0
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# A POST Bandwidth may have carried out must not be sent again (it would create twice).
_POST_RETRY_STATUSES = frozenset({429, 503})


class BandwidthAPIError(Exception):
    """Bandwidth refused a call, or could not be reached.

    ``status`` is the HTTP status (None when there was no answer); ``code`` and
    ``description`` are Bandwidth's own, from its error XML, when it sent them.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str = "",
        description: str = "",
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.description = status, code, description


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
    #: True when Bandwidth says the subscription has callback credentials.
    has_credentials: bool = False
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
    telephone_numbers: tuple[str, ...] = ()
    #: Why it failed or is partial, from the order's errors (``"5005: text"`` a line),
    #: as a notification's ``Message`` would say it; "" when none.
    message: str = ""
    #: The response body, as text.
    raw: str = ""


class NumbersClient:
    """Calls the Numbers API for one :class:`~django_bw_notifications.accounts.Account`.

    Use as a context manager, or call :meth:`close`. ``transport`` is for tests
    (an ``httpx`` transport); ``backoff``, ``timeout`` and ``max_retries`` default to the
    ``BW_NOTIFICATIONS_API_*`` settings.
    """

    def __init__(
        self,
        account: Account,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        backoff: float | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        try:
            import httpx
        except ImportError:  # pragma: no cover - depends on the environment
            raise BandwidthAPIError(
                "the Numbers API client needs httpx: pip install 'django-bw-notifications[client]'"
            ) from None
        account.require_api()
        self.account = account
        self.max_retries = app_settings.API_MAX_RETRIES if max_retries is None else max_retries
        self.backoff = app_settings.API_BACKOFF if backoff is None else backoff
        self._httpx = httpx
        self._http = httpx.Client(
            timeout=app_settings.API_TIMEOUT if timeout is None else timeout,
            transport=transport,
            headers={
                "Accept": "application/xml",
                "User-Agent": "django-bw-notifications",
            },
            follow_redirects=False,
        )
        self._token: str = ""
        self._token_expires = 0.0
        self._basic = None if account.uses_oauth else (account.api_username, account.api_password)

    def __repr__(self) -> str:
        return f"NumbersClient(account={self.account.name!r}, base={self.account.api_base_url!r})"

    def __enter__(self) -> NumbersClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    # Subscriptions ------------------------------------------------------------------

    def list_subscriptions(self) -> list[Subscription]:
        """Every subscription of the account."""
        root = self._call("GET", "/subscriptions", expect=("Subscriptions", "Subscription"))
        return [_subscription(element) for element in _all(root, "Subscription")]

    def get_subscription(self, subscription_id: str) -> Subscription:
        """One subscription, with its latest delivery status and time left."""
        root = self._call(
            "GET", f"/subscriptions/{_segment(subscription_id)}", expect=("Subscription",)
        )
        found = _all(root, "Subscription")
        if not found:
            raise BandwidthAPIError(
                f"Bandwidth's answer for subscription {subscription_id} holds no <Subscription>"
            )
        return _subscription(found[0])

    def create_subscription(self, spec: SubscriptionSpec) -> str:
        """Create a subscription; returns its id (from the ``Location`` header)."""
        response = self._send("POST", "/subscriptions", spec.to_xml())
        location: str = response.headers.get("Location", "")
        subscription_id: str = location.rstrip("/").rpartition("/")[2]
        if not subscription_id:
            root = _parse(response.text)
            subscription_id = _text(root, "SubscriptionId") if root is not None else ""
        if not subscription_id:
            raise BandwidthAPIError(
                "Bandwidth created the subscription but did not say its id (no Location header)",
                status=response.status_code,
            )
        return subscription_id

    def update_subscription(self, subscription_id: str, spec: SubscriptionSpec) -> None:
        """Replace a subscription's settings (URL, credentials, expiry, number format)."""
        self._send("PUT", f"/subscriptions/{_segment(subscription_id)}", spec.to_xml())

    def delete_subscription(self, subscription_id: str) -> None:
        """Delete a subscription."""
        self._send("DELETE", f"/subscriptions/{_segment(subscription_id)}")

    # Orders -------------------------------------------------------------------------

    def get_order(self, order_type: str, order_id: str) -> OrderState:
        """The current state of an order of a type in :data:`RECONCILABLE_ORDER_TYPES`."""
        reader = _ORDER_READERS.get(order_type.casefold())
        if reader is None:
            raise BandwidthAPIError(
                f"fetching {order_type} orders is not supported yet "
                f"(supported: {', '.join(RECONCILABLE_ORDER_TYPES)})"
            )
        path_type = order_type.casefold()  # Bandwidth's paths are lower case
        response = self._send("GET", f"/{path_type}/{_segment(order_id)}")
        root = _parse(response.text)
        if root is None:
            raise BandwidthAPIError(
                f"Bandwidth's answer for {path_type} {order_id} is not XML",
                status=response.status_code,
            )
        if _carries_error(root, ("OrderStatus", "ProcessingStatus")):
            raise _error(f"GET /{path_type}/{order_id}", response)
        return reader(root, order_id, response.text)

    # HTTP ---------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, expect: tuple[str, ...] = ()) -> Element:
        response = self._send(method, path)
        root = _parse(response.text)
        if root is None:
            raise BandwidthAPIError(
                f"Bandwidth's answer to {method} {path} is not XML", status=response.status_code
            )
        if _carries_error(root, expect):
            raise _error(f"{method} {path}", response)
        return root

    def _send(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
    ) -> httpx.Response:
        url = f"{self.account.api_base_url}/accounts/{_segment(self.account.account_id)}{path}"
        where = f"{method} {path}"  # ids only: never a secret
        attempt = 0
        refreshed = False
        while True:
            try:
                response = self._http.request(
                    method,
                    url,
                    content=body,
                    headers=self._headers(body is not None),
                    auth=self._basic,
                )
            except self._httpx.TransportError as err:
                # A timeout after the request was sent may have been acted on: a POST
                # is only retried when no connection was made.
                sent = not isinstance(err, (self._httpx.ConnectError, self._httpx.ConnectTimeout))
                if attempt < self.max_retries and (method != "POST" or not sent):
                    self._sleep(attempt, None)
                    attempt += 1
                    continue
                raise BandwidthAPIError(
                    f"could not reach Bandwidth for {where}: {type(err).__name__}"
                    f"{': ' + str(err) if str(err) else ''} (after {attempt + 1} attempt(s))"
                ) from None
            if response.is_success:
                root = _parse(response.text)
                if root is not None and _refusal_in(root):
                    raise _error(where, response)
                return response
            if response.status_code == 401 and self.account.uses_oauth and not refreshed:
                self._token = ""  # expired or revoked early: one fresh token, once
                refreshed = True
                continue
            retry = _POST_RETRY_STATUSES if method == "POST" else _RETRY_STATUSES
            if response.status_code in retry and attempt < self.max_retries:
                self._sleep(attempt, response.headers.get("Retry-After"))
                attempt += 1
                continue
            raise _error(where, response)

    def _headers(self, has_body: bool) -> dict[str, str]:
        headers = {"Content-Type": "application/xml; charset=utf-8"} if has_body else {}
        if self.account.uses_oauth:
            headers["Authorization"] = f"Bearer {self._bearer()}"
        return headers

    def _bearer(self) -> str:
        if self._token and time.monotonic() < self._token_expires:
            return self._token
        try:
            response = self._http.post(
                self.account.token_url,
                data={"grant_type": "client_credentials"},
                auth=(self.account.client_id, self.account.client_secret),
                headers={"Accept": "application/json"},
            )
        except self._httpx.TransportError as err:
            raise BandwidthAPIError(
                f"could not reach Bandwidth's token endpoint: {type(err).__name__}"
            ) from None
        try:
            payload: Any = response.json()
        except ValueError:
            payload = {}
        if response.status_code != 200 or not isinstance(payload, dict):
            payload = payload if isinstance(payload, dict) else {}
            raise BandwidthAPIError(
                f"Bandwidth refused an OAuth2 token ({response.status_code}): "
                f"{payload.get('error_description') or payload.get('error') or 'no reason given'}"
                " (check CLIENT_ID and CLIENT_SECRET)",
                status=response.status_code,
                code=str(payload.get("error", "")),
                description=str(payload.get("error_description", "")),
            )
        token = payload.get("access_token")
        if not isinstance(token, str) or not token:
            raise BandwidthAPIError("Bandwidth's token endpoint returned no access_token")
        lifetime = payload.get("expires_in", 300)
        lifetime = float(lifetime) if isinstance(lifetime, (int, float)) else 300.0
        self._token = token
        # Renewed a little early, so a token never expires in flight.
        self._token_expires = time.monotonic() + max(lifetime - 30, 1)
        return token

    def _sleep(self, attempt: int, retry_after: str | None) -> None:
        delay = self.backoff * (2**attempt)
        if retry_after:
            # Seconds; an HTTP date keeps the backoff.
            with contextlib.suppress(ValueError):
                delay = min(max(float(retry_after), 0.0), _MAX_RETRY_AFTER)
        logger.info("Retrying a Numbers API call in %.2f s (retry %d)", delay, attempt + 1)
        time.sleep(delay)


def _error(where: str, response: httpx.Response) -> BandwidthAPIError:
    """The exception for a refusal, with Bandwidth's code and description when given."""
    code = description = ""
    root = _parse(response.text)
    if root is not None:
        for element in root.iter():
            name = _local_name(element.tag)
            text = (element.text or "").strip()
            if name.casefold() in _CODE_NAMES and not code and text:
                code = text
            elif name.casefold() in _DESCRIPTION_NAMES and not description:
                description = text
    elif response.text.strip():
        description = " ".join(response.text.split())[:200]
    hint = {
        401: " (check the account's API credentials)",
        403: " (the API user lacks the role for this call, or the account id is wrong)",
    }.get(response.status_code, "")
    detail = ": ".join(part for part in (code, description) if part) or response.reason_phrase
    return BandwidthAPIError(
        f"Bandwidth answered {response.status_code} to {where}: {detail}{hint}",
        status=response.status_code,
        code=code,
        description=description,
    )


# Every form Bandwidth's error bodies take: ResponseStatus/ErrorCode + Description,
# Error(s)/Code + Description, and the LOA files' resultCode + resultMessage.
_CODE_NAMES = frozenset({"errorcode", "code", "resultcode"})
_DESCRIPTION_NAMES = frozenset({"description", "resultmessage"})


def _refusal_in(root: Element) -> bool:
    """True for a body that reports an error although its HTTP status is a success.

    Bandwidth answers some refusals with ``200``: a ``ResponseStatus`` carrying an
    ``ErrorCode``, or a ``resultCode`` other than ``0``. An order's ``ErrorList`` is not
    one: it is part of a FAILED or PARTIAL order's state.
    """
    status = _child(root, "ResponseStatus")
    if status is not None and _text(status, "ErrorCode"):
        return True
    for element in root.iter():
        if _local_name(element.tag).casefold() == "resultcode":
            code = (element.text or "").strip()
            if code and code != "0":
                return True
    return False


_ERROR_ELEMENTS = frozenset({"error", "errors", "errorcode", "errorlist", "responsestatus"})


def _carries_error(root: Element, expected: tuple[str, ...]) -> bool:
    """True for a success answer that holds none of the ``expected`` elements but an
    error (``Errors/Error``, ``SearchResult/Error``…): an error sent with HTTP 200. An
    answer that holds what was asked for is its state, errors included (a FAILED order
    lists its ``ErrorList``)."""
    if not expected:
        return False
    names = {_local_name(element.tag) for element in root.iter()}
    if names & set(expected):
        return False
    return bool({name.casefold() for name in names} & _ERROR_ELEMENTS)


def _parse(text: str) -> Element | None:
    if not text.strip():
        return None
    try:
        return parse_xml(text)
    except NotificationParseError:
        return None


def _all(root: Element, name: str) -> list[Element]:
    return [element for element in root.iter() if _local_name(element.tag) == name]


def _child(element: Element | None, *path: str) -> Element | None:
    for name in path:
        if element is None:
            return None
        element = next((c for c in element if _local_name(c.tag) == name), None)
    return element


def _text(element: Element | None, *path: str) -> str:
    found = _child(element, *path)
    return (found.text or "").strip() if found is not None else ""


def _subscription(element: Element) -> Subscription:
    callback = _child(element, "CallbackSubscription")
    email = _text(element, "EmailSubscription", "Email")
    username = _text(callback, "CallbackCredentials", "BasicAuthentication", "Username") or _text(
        callback, "User"
    )
    has_credentials = bool(username) or _child(callback, "CallbackCredentials") is not None
    expiry_text = _text(callback, "Expiry")
    return Subscription(
        id=_text(element, "SubscriptionId"),
        order_type=_text(element, "OrderType"),
        event_type=_text(element, "EventType"),
        order_id=_text(element, "OrderId"),
        url=_text(callback, "URL"),
        expiry=int(expiry_text) if expiry_text.isdigit() else None,
        status=_text(callback, "Status"),
        number_format=_text(callback, "NumberFormat"),
        username=username,
        has_credentials=has_credentials,
        email=email,
        is_callback=callback is not None,
    )


def _numbers(elements: Iterable[Element]) -> tuple[str, ...]:
    return tuple(text for e in elements if (text := (e.text or "").strip()))


def _read_orders(root: Element, order_id: str, raw: str) -> OrderState:
    completed = _child(root, "CompletedNumbers")
    numbers = _numbers(
        number
        for tn in (completed if completed is not None else ())
        for number in tn
        if _local_name(number.tag) == "FullNumber"
    )
    return OrderState(
        order_type="orders",
        order_id=_text(root, "Order", "id") or order_id,
        status=_text(root, "OrderStatus"),
        customer_order_id=_text(root, "Order", "CustomerOrderId"),
        last_modified_date=_text(root, "LastModifiedDate"),
        telephone_numbers=numbers,
        message=_error_list_message(root),
        raw=raw,
    )


def _read_portins(root: Element, order_id: str, raw: str) -> OrderState:
    listed = _child(root, "ListOfPhoneNumbers")
    return OrderState(
        order_type="portins",
        order_id=_text(root, "OrderId") or order_id,
        # <Status> here is the response's own (Code/Description); the order's is this.
        status=_text(root, "ProcessingStatus"),
        customer_order_id=_text(root, "CustomerOrderId"),
        last_modified_date=_text(root, "LastModifiedDate"),
        telephone_numbers=_numbers(listed if listed is not None else ()),
        message=_error_list_message(root),
        raw=raw,
    )


def _read_disconnects(root: Element, order_id: str, raw: str) -> OrderState:
    request = _child(root, "orderRequest")
    # The numbers Bandwidth disconnected, not the ones asked for (orderRequest's
    # TelephoneNumberList): a FAILED disconnect has none, a PARTIAL one some.
    done = _child(root, "DisconnectedTelephoneNumberList")
    return OrderState(
        order_type="disconnects",
        order_id=_text(request, "id") or order_id,
        status=_text(root, "OrderStatus"),
        customer_order_id=_text(request, "CustomerOrderId"),
        last_modified_date=_text(root, "LastModifiedDate"),
        telephone_numbers=_numbers(done if done is not None else ()),
        message=_error_list_message(root),
        raw=raw,
    )


def _error_list_message(root: Element) -> str:
    """An order's errors as a notification's ``Message`` reads: ``"5006: text"``, one
    per line. Orders and disconnects list them as ``ErrorList/Error``; port-ins as
    repeated ``Errors`` elements right under the root."""
    error_list = _child(root, "ErrorList")
    errors = [
        e for e in (error_list if error_list is not None else ()) if _local_name(e.tag) == "Error"
    ]
    errors += [e for e in root if _local_name(e.tag) == "Errors"]
    lines = [
        ": ".join(part for part in (_text(error, "Code"), _text(error, "Description")) if part)
        for error in errors
    ]
    return "\n".join(line for line in lines if line)


_ORDER_READERS = {
    "orders": _read_orders,
    "portins": _read_portins,
    "disconnects": _read_disconnects,
}


def _segment(value: str) -> str:
    """One URL path segment, percent-encoded (ids come from notifications: untrusted)."""
    return quote(value, safe="")
