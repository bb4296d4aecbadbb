"""A fake Bandwidth on 127.0.0.1: the Numbers API's subscription and order endpoints, an
OAuth2 token endpoint, and Bandwidth's delivery side.

Real sockets and XML bodies, so the package's client is tested the way it meets
Bandwidth. What it implements follows BANDWIDTH.md section 5 and the documented
shapes: ``201`` + ``Location`` on create, ``409`` for a duplicate subscription,
``400``/``404`` with Bandwidth's error XML, ``401`` for wrong credentials, passwords never
returned, ``Expiry`` as seconds left, ``Status`` of the latest delivery. Faults (``429``,
``503``, slow answers) are injected per call with :meth:`FakeBandwidth.fail`.

Delivery works like Bandwidth's: one POST without credentials, and a second one with
them only after a ``401`` carrying ``WWW-Authenticate``; no retry after that; the outcome
recorded as the subscription's ``Status``.
"""

from __future__ import annotations

import base64
import http.client
import itertools
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.etree.ElementTree import Element, SubElement, tostring
from xml.sax.saxutils import escape

from django_bw_notifications.parsing import NotificationParseError, parse_xml


@dataclass
class FakeSubscription:
    id: str
    order_type: str = ""
    event_type: str = ""
    url: str = ""
    expires_at: float = 0.0
    username: str = ""
    password: str = ""
    number_format: str = ""
    status: str = ""

    def kind_matches(self, order_type: str = "", event_type: str = "") -> bool:
        if event_type:
            return self.event_type == event_type
        return self.order_type == order_type


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int
    times: int
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""


@dataclass
class Call:
    method: str
    path: str
    authorization: str
    body: str
    query: str = ""


class FakeBandwidth:
    """One fake Bandwidth with any number of accounts. Start with :meth:`start`."""

    api_user = ("api-user", "api-password")
    oauth_client = ("client-id", "client-secret")

    def __init__(self) -> None:
        self.subscriptions: dict[str, dict[str, FakeSubscription]] = {}
        #: (account id, order type, order id) -> response XML.
        self.orders: dict[tuple[str, str, str], str] = {}
        #: A recorded list body to serve for an account's GET /subscriptions, as is.
        self.raw_subscriptions: dict[str, str] = {}
        #: Account id -> the numbers it has in service, as Bandwidth writes them
        #: (served by GET /inserviceNumbers, keyset-paged, ascending).
        self.in_service: dict[str, list[str]] = {}
        #: (account id, page key) -> a recorded /inserviceNumbers body, served as is.
        self.raw_in_service: dict[tuple[str, str], str] = {}
        self.calls: list[Call] = []
        #: (url, status of each POST of a delivery): [401, 200] after a challenge.
        self.deliveries: list[tuple[str, list[int]]] = []
        self.tokens: set[str] = set()
        self.token_requests = 0
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # Lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeBandwidth:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/api"

    @property
    def token_url(self) -> str:
        return self.base_url + "/v1/oauth2/token"

    # Test controls ---------------------------------------------------------------------

    def fail(
        self,
        method: str,
        path: str,
        status: int,
        *,
        times: int = 1,
        delay: float = 0.0,
        headers: dict[str, str] | None = None,
        body: str = "",
    ) -> None:
        """Answer the next ``times`` calls matching ``method`` and ``path`` (a regex searched
        in the path) with ``status`` after ``delay`` seconds (status 0: only the delay)."""
        self._faults.append(
            Fault(method, re.compile(path), status, times, delay, headers or {}, body)
        )

    def add_subscription(self, account_id: str, **values: Any) -> FakeSubscription:
        expiry = values.pop("expiry", 86400)
        subscription = FakeSubscription(
            id=str(uuid.uuid4()), expires_at=time.time() + expiry, **values
        )
        self.subscriptions.setdefault(account_id, {})[subscription.id] = subscription
        return subscription

    def set_order(self, account_id: str, order_type: str, order_id: str, xml: str) -> None:
        self.orders[(account_id, order_type, order_id)] = xml

    def changes(self) -> list[Call]:
        """The calls that would change something (POST/PUT/DELETE on subscriptions)."""
        return [
            c for c in self.calls if c.method in ("POST", "PUT", "DELETE") and "/v1/" not in c.path
        ]

    # Bandwidth's delivery side -------------------------------------------------------

    def deliver(self, account_id: str, subscription_id: str, body: bytes) -> str:
        """POST ``body`` to the subscription's URL like Bandwidth; returns the Status kept."""
        subscription = self.subscriptions[account_id][subscription_id]
        attempts: list[int] = []
        status = _post_with_challenge(subscription, body, attempts)
        self.deliveries.append((subscription.url, attempts))
        subscription.status = status
        return status

    def notify(self, account_id: str, order_type: str, body: bytes) -> list[str]:
        """Deliver ``body`` to every subscription of ``order_type`` in the account."""
        return [
            self.deliver(account_id, s.id, body)
            for s in list(self.subscriptions.get(account_id, {}).values())
            if s.order_type == order_type
        ]

    # Request handling ----------------------------------------------------------------

    def _fault_for(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.times > 0 and fault.method == method and fault.path.search(path):
                    fault.times -= 1
                    return fault
        return None

    def _authorised(self, header: str) -> bool:
        scheme, _, value = header.partition(" ")
        if scheme == "Bearer":
            return value in self.tokens
        if scheme == "Basic":
            try:
                user, _, password = base64.b64decode(value).decode().partition(":")
            except ValueError:
                return False
            return (user, password) == self.api_user
        return False

    def handle(
        self, method: str, path: str, authorization: str, body: str, query: str = ""
    ) -> _Answer:
        self.calls.append(Call(method, path, authorization, body, query))
        fault = self._fault_for(method, path)
        if fault is not None:
            time.sleep(fault.delay)
            if fault.status:
                return _Answer(fault.status, fault.body, fault.headers)
        if path == "/api/v1/oauth2/token" and method == "POST":
            return self._token(authorization, body)
        match = re.fullmatch(r"/api/accounts/([^/]+)(/.*)", path)
        if match is None:
            return _error(404, 404, "No such resource")
        if not self._authorised(authorization):
            return _error(401, 401, "Unauthorized: bad API credentials")
        account_id, rest = match.groups()
        if account_id not in self.subscriptions:
            return _error(403, 403, f"Access to account {account_id} is denied")
        subscriptions = self.subscriptions[account_id]
        if rest == "/subscriptions":
            if method == "GET" and account_id in self.raw_subscriptions:
                return _Answer(200, self.raw_subscriptions[account_id])
            if method == "GET":
                return _Answer(
                    200, _subscriptions_xml(subscriptions.values(), "SubscriptionsResponse")
                )
            if method == "POST":
                return self._create(account_id, subscriptions, body)
        found = re.fullmatch(r"/subscriptions/([^/]+)", rest)
        if found:
            subscription = subscriptions.get(found.group(1))
            if subscription is None:
                return _error(404, 12125, f"Subscription {found.group(1)} not found")
            if method == "GET":
                return _Answer(200, _subscriptions_xml([subscription], "SubscriptionResponse"))
            if method == "PUT":
                values, problem = _read_subscription(body)
                if problem:
                    return _error(400, 12122, problem)
                for name, value in values.items():
                    setattr(subscription, name, value)
                return _Answer(200, "")
            if method == "DELETE":
                del subscriptions[subscription.id]
                return _Answer(200, "")
        if rest == "/inserviceNumbers" and method == "GET":
            return self._in_service(account_id, parse_qs(query))
        order = re.fullmatch(r"/(orders|portins|disconnects)/([^/]+)", rest)
        if order and method == "GET":
            xml = self.orders.get((account_id, order.group(1), order.group(2)))
            if xml is None:
                return _error(404, 5005, f"Order {order.group(2)} not found")
            return _Answer(200, xml)
        return _error(405, 405, f"{method} {rest} is not supported")

    def _in_service(self, account_id: str, query: dict[str, list[str]]) -> _Answer:
        page, size = query.get("page", [""])[0], query.get("size", [""])[0]
        if not page or not size.isdigit():
            # Bandwidth's answer without paging parameters.
            return _error(404, 404, "page and size are required query parameters")
        if (account_id, page) in self.raw_in_service:
            return _Answer(200, self.raw_in_service[(account_id, page)])
        numbers = sorted(self.in_service.get(account_id, []), key=lambda n: n.lstrip("+1"))
        if not numbers:
            return _Answer(204, "")
        start = 0
        if page != "1":
            keys = [n.lstrip("+1") for n in numbers]
            start = next((i for i, key in enumerate(keys) if key >= page.lstrip("+1")), len(keys))
        chunk = numbers[start : start + int(size)]
        url = f"{self.base_url}/accounts/{account_id}/inserviceNumbers"
        links = f'<first>Link=&lt;{url}?page=1&amp;size={size}&gt;;rel="first";</first>'
        if start + int(size) < len(numbers):
            following = numbers[start + int(size)].lstrip("+1")
            links += f'<next>Link=&lt;{url}?page={following}&amp;size={size}&gt;;rel="next";</next>'
        listed = "".join(f"<TelephoneNumber>{n}</TelephoneNumber>" for n in chunk)
        return _Answer(
            200,
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            f"<TNs><TotalCount>{len(numbers)}</TotalCount><Links>{links}</Links>"
            f"<TelephoneNumbers><Count>{len(chunk)}</Count>{listed}</TelephoneNumbers></TNs>",
        )

    def _create(
        self, account_id: str, subscriptions: dict[str, FakeSubscription], body: str
    ) -> _Answer:
        values, problem = _read_subscription(body)
        if problem:
            return _error(400, 12122, problem)
        for existing in subscriptions.values():
            if existing.url == values["url"] and existing.kind_matches(
                values.get("order_type", ""), values.get("event_type", "")
            ):
                return _error(409, 12123, "A subscription with this type and URL already exists")
        subscription = FakeSubscription(id=str(uuid.uuid4()), **values)
        subscriptions[subscription.id] = subscription
        location = f"{self.base_url}/accounts/{account_id}/subscriptions/{subscription.id}"
        return _Answer(201, "", {"Location": location})

    def _token(self, authorization: str, body: str) -> _Answer:
        self.token_requests += 1
        scheme, _, value = authorization.partition(" ")
        try:
            client = tuple(base64.b64decode(value).decode().split(":", 1))
        except ValueError:
            client = ()
        grant = parse_qs(body).get("grant_type", [""])[0]
        if scheme != "Basic" or client != self.oauth_client:
            return _Answer(
                401,
                json.dumps({"error": "invalid_client", "error_description": "Bad client"}),
                {"Content-Type": "application/json"},
            )
        if grant != "client_credentials":
            return _Answer(400, json.dumps({"error": "unsupported_grant_type"}))
        token = uuid.uuid4().hex
        self.tokens.add(token)
        return _Answer(
            200,
            json.dumps({"access_token": token, "token_type": "Bearer", "expires_in": 3600}),
            {"Content-Type": "application/json"},
        )


@dataclass
class _Answer:
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeBandwidth
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8") if length else ""
        url = urlsplit(self.path)
        answer = self.fake.handle(
            self.command, url.path, self.headers.get("Authorization", ""), body, url.query
        )
        data = answer.body.encode("utf-8")
        try:
            self.send_response(answer.status)
            headers = {"Content-Type": "application/xml", **answer.headers}
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)

    do_GET = do_POST = do_PUT = do_DELETE = _serve


def _error(status: int, code: int, description: str) -> _Answer:
    body = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><ErrorResponse><ResponseStatus>'
        f"<ErrorCode>{code}</ErrorCode><Description>{escape(description)}</Description>"
        "</ResponseStatus></ErrorResponse>"
    )
    return _Answer(status, body)


def _read_subscription(body: str) -> tuple[dict[str, Any], str]:
    try:
        root = parse_xml(body)
    except NotificationParseError as err:
        return {}, f"The request body is not valid XML: {err}"
    if root.tag != "Subscription":
        return {}, "Expected a <Subscription> element"

    def text(*path: str) -> str:
        element: Element | None = root
        for name in path:
            element = element.find(name) if element is not None else None
        return (element.text or "").strip() if element is not None else ""

    values: dict[str, Any] = {
        "order_type": text("OrderType"),
        "event_type": text("EventType"),
        "url": text("CallbackSubscription", "URL"),
        "username": text(
            "CallbackSubscription", "CallbackCredentials", "BasicAuthentication", "Username"
        ),
        "password": text(
            "CallbackSubscription", "CallbackCredentials", "BasicAuthentication", "Password"
        ),
        "number_format": text("CallbackSubscription", "NumberFormat") or "LEGACY",
    }
    if not values["order_type"] and not values["event_type"]:
        return {}, "OrderType or EventType is required"
    if not values["url"]:
        return {}, "CallbackSubscription URL is required"
    expiry = text("CallbackSubscription", "Expiry")
    # Bandwidth's documented default: one day when Expiry is omitted.
    values["expires_at"] = time.time() + (int(expiry) if expiry.isdigit() else 86400)
    return values, ""


def _subscriptions_xml(subscriptions: Any, root_name: str) -> str:
    root = Element(root_name)
    container = SubElement(root, "Subscriptions")
    for s in subscriptions:
        element = SubElement(container, "Subscription")
        SubElement(element, "SubscriptionId").text = s.id
        if s.event_type:
            SubElement(element, "EventType").text = s.event_type
        else:
            SubElement(element, "OrderType").text = s.order_type
        callback = SubElement(element, "CallbackSubscription")
        SubElement(callback, "URL").text = s.url
        SubElement(callback, "Expiry").text = str(max(int(s.expires_at - time.time()), 0))
        if s.status:
            SubElement(callback, "Status").text = s.status
        SubElement(callback, "NumberFormat").text = s.number_format or "LEGACY"
        if s.username:
            # The password is never returned.
            credentials = SubElement(callback, "CallbackCredentials")
            basic = SubElement(credentials, "BasicAuthentication")
            SubElement(basic, "Username").text = s.username
    return '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' + tostring(
        root, encoding="unicode"
    )


def _post_with_challenge(subscription: FakeSubscription, body: bytes, attempts: list[int]) -> str:
    parts = urlsplit(subscription.url)
    path = parts.path or "/"
    host = parts.hostname
    assert host, f"a subscription URL without a host: {subscription.url!r}"

    def post(authorization: str | None) -> http.client.HTTPResponse:
        connection = http.client.HTTPConnection(host, parts.port, timeout=10)
        headers = {"Content-Type": "application/xml; charset=utf-8"}
        if authorization:
            headers["Authorization"] = authorization
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        connection.close()
        attempts.append(response.status)
        return response

    try:
        first = post(None)
        if first.status == 401 and subscription.username:
            if not first.getheader("WWW-Authenticate", "").lower().startswith("basic"):
                return "401 without WWW-Authenticate: not sent again"
            credentials = f"{subscription.username}:{subscription.password}".encode()
            second = post("Basic " + base64.b64encode(credentials).decode())
            return f"{second.status} {second.reason}"
        return f"{first.status} {first.reason}"
    except OSError as err:
        return f"Connection failed: {err}"
