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
from typing import TYPE_CHECKING, Any
from urllib.parse import quote
from xml.etree.ElementTree import Element

from ..accounts import Account
from ..conf import app_settings
from .resources import (
    ORDER_READERS,
    OrderState,
    Subscription,
    SubscriptionSpec,
    all_named,
    carries_error,
    error_details,
    parse_answer,
    read_numbers_page,
    read_subscription,
    refusal_in,
    text_of,
)

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

logger = logging.getLogger("django_bw_notifications.bandwidth.client")

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

    def _where(self, method: str, path: str, what: str = "") -> str:
        """A call as messages name it: ``GET /subscriptions (account 'east' at
        https://…)``, with ``what`` for a create (``order:portins``). Ids only, never a
        secret."""
        about = f" {what}" if what else ""
        return (
            f"{method} {path}{about} (account {self.account.name!r} at {self.account.api_base_url})"
        )

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
        return [read_subscription(element) for element in all_named(root, "Subscription")]

    def get_subscription(self, subscription_id: str) -> Subscription:
        """One subscription, with its latest delivery status and time left."""
        root = self._call(
            "GET", f"/subscriptions/{_segment(subscription_id)}", expect=("Subscription",)
        )
        found = all_named(root, "Subscription")
        if not found:
            raise BandwidthAPIError(
                f"Bandwidth's answer for subscription {subscription_id} holds no <Subscription>"
            )
        return read_subscription(found[0])

    def create_subscription(self, spec: SubscriptionSpec) -> str:
        """Create a subscription; returns its id (from the ``Location`` header)."""
        response = self._send("POST", "/subscriptions", spec.to_xml(), what=spec.kind)
        location: str = response.headers.get("Location", "")
        subscription_id: str = location.rstrip("/").rpartition("/")[2]
        if not subscription_id:
            root = parse_answer(response.text)
            subscription_id = text_of(root, "SubscriptionId") if root is not None else ""
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
        reader = ORDER_READERS.get(order_type.casefold())
        if reader is None:
            raise BandwidthAPIError(
                f"fetching {order_type} orders is not supported yet "
                f"(supported: {', '.join(RECONCILABLE_ORDER_TYPES)})"
            )
        path_type = order_type.casefold()  # Bandwidth's paths are lower case
        response = self._send("GET", f"/{path_type}/{_segment(order_id)}")
        root = parse_answer(response.text)
        if root is None:
            raise BandwidthAPIError(
                f"Bandwidth's answer to {self._where('GET', f'/{path_type}/{order_id}')} "
                f"{_not_xml(response.text)}",
                status=response.status_code,
            )
        if carries_error(root, ("OrderStatus", "ProcessingStatus")):
            raise _error(self._where("GET", f"/{path_type}/{order_id}"), response)
        return reader(root, order_id, response.text)

    # Numbers ------------------------------------------------------------------------

    def in_service_numbers(self, *, page_size: int = 1000) -> list[str]:
        """Every number the account has in service, as Bandwidth writes them (10 digits
        or E.164), through all pages.

        ``GET /inserviceNumbers?page=1&size=N``, then each next page by the key in the
        answer's ``<Links><next>`` (keyset paging: the first number of the next page);
        ``204`` when there are none. Only the key is taken from the link: the next call
        goes to the account's own base URL, whatever host the link names.
        """
        if not 1 <= page_size <= 5000:
            raise BandwidthAPIError("page_size must be between 1 and 5000")
        numbers: list[str] = []
        page, seen = "1", set()
        while page:
            seen.add(page)
            path = f"/inserviceNumbers?page={quote(page, safe='')}&size={page_size}"
            response = self._send("GET", path)
            try:
                found = read_numbers_page(response.text)
            except ValueError as err:
                raise BandwidthAPIError(
                    f"Bandwidth's answer to {self._where('GET', '/inserviceNumbers')} "
                    f"(page {page}): {err}",
                    status=response.status_code,
                ) from None
            numbers.extend(found.numbers)
            if found.next_page in seen:
                raise BandwidthAPIError(
                    f"Bandwidth's in-service pages loop (page {found.next_page} again); "
                    f"{len(numbers)} numbers read"
                )
            page = found.next_page
        return numbers

    # HTTP ---------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, expect: tuple[str, ...] = ()) -> Element:
        response = self._send(method, path)
        root = parse_answer(response.text)
        if root is None:
            raise BandwidthAPIError(
                f"Bandwidth's answer to {self._where(method, path)} {_not_xml(response.text)}",
                status=response.status_code,
            )
        if carries_error(root, expect):
            raise _error(self._where(method, path), response)
        return root

    def _send(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        what: str = "",
    ) -> httpx.Response:
        url = f"{self.account.api_base_url}/accounts/{_segment(self.account.account_id)}{path}"
        where = self._where(method, path, what)
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
            if response.is_redirect:
                raise _redirected(where, response)
            if response.is_success:
                root = parse_answer(response.text)
                if root is not None and refusal_in(root):
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
                f"could not reach Bandwidth's token endpoint {self.account.token_url} for "
                f"account {self.account.name!r}: {type(err).__name__}"
            ) from None
        try:
            payload: Any = response.json()
        except ValueError:
            payload = {}
        if response.status_code != 200 or not isinstance(payload, dict):
            payload = payload if isinstance(payload, dict) else {}
            raise BandwidthAPIError(
                f"Bandwidth refused an OAuth2 token for account {self.account.name!r} "
                f"({response.status_code}): "
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
    code, description = error_details(response.text)
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


def _redirected(where: str, response: httpx.Response) -> BandwidthAPIError:
    """The exception for a redirect: the client follows none (credentials would go to
    wherever it points, a POST's body would be lost)."""
    location = response.headers.get("Location", "")
    login = any(word in location.lower() for word in ("login", "signin", "sign-in", "sso", "auth"))
    why = (
        "a login page: API_BASE_URL is not the Numbers API (https://dashboard.bandwidth.com/api), "
        "or a proxy wants a login"
        if login
        else "check API_BASE_URL"
    )
    return BandwidthAPIError(
        f"Bandwidth answered {response.status_code} to {where} with a redirect to "
        f"{location or '(no Location)'}, which is not followed: {why}",
        status=response.status_code,
    )


def _not_xml(text: str) -> str:
    """How an answer that could not be read is described: a DOCTYPE (refused: DTDs are
    forbidden, and an HTML page has one) is named as such, not as "not XML"."""
    if "<!doctype" in text[:1000].lower():
        return "has a DOCTYPE, which is refused (an HTML page? a proxy's or a login's)"
    return "is not XML"


def _segment(value: str) -> str:
    """One URL path segment, percent-encoded (ids come from notifications: untrusted)."""
    return quote(value, safe="")
