"""The endpoint Bandwidth POSTs to: authenticate, read, parse, store, answer.

Order of the gates, cheapest and least revealing first: method (405), credentials (401
with a ``WWW-Authenticate`` challenge, before anything is read), size (413, from
``Content-Length`` before reading, then while reading), content type (415), XML (400).
Every refusal after authentication is kept as a ``RejectedDelivery``: Bandwidth never
sends a notification twice.

The view opts out of ``ATOMIC_REQUESTS`` for every database: the notification is
committed in its own transaction before the response, and receivers run after that
commit, so nothing a receiver does can roll it back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.core.handlers.wsgi import WSGIRequest
from django.db import DatabaseError, connections, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils import timezone
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from . import spool
from .accounts import endpoint
from .addresses import client_address, is_allowed
from .auth import challenge, credentials_accepted
from .conf import SECRET_HEADERS, app_settings
from .ingest import ingest, record_rejection
from .models import Notification
from .parsing import NotificationParseError, ParsedNotification, parse_notification

__all__ = ["WebhookView", "webhook"]

logger = logging.getLogger("django_bw_notifications")

# Types that are certainly not XML. Anything else (including no Content-Type at all) is
# given to the parser: a notification must not be lost to a mislabelled header.
_NOT_XML_TYPES = frozenset(
    {"application/json", "application/x-www-form-urlencoded", "multipart/form-data", "text/html"}
)
_MAX_HEADER_VALUE = 1000
_NO_ACCOUNT = "no such account endpoint"


class _Refused(Exception):
    def __init__(self, status: int, reason: str, body: bytes = b"", size: int = 0) -> None:
        super().__init__(reason)
        self.status, self.reason, self.body, self.size = status, reason, body, size


class WebhookView(View):
    """Receive one Bandwidth notification. POST only; HEAD answers 200 for probes."""

    http_method_names = ["post", "head"]

    def head(self, request: HttpRequest, account: str | None = None) -> HttpResponse:
        if endpoint(account) is None:
            return _text(404, _NO_ACCOUNT)
        return HttpResponse(status=200)

    def post(self, request: HttpRequest, account: str | None = None) -> HttpResponse:
        """``account``: the ``BW_NOTIFICATIONS_ACCOUNTS`` name from the URL; None for the
        plain endpoint (the ``default`` account's, or no account's)."""
        started = time.perf_counter()
        receiver = endpoint(account)
        if receiver is None:
            # An account that is not configured (checked before anything is read).
            logger.warning("404: no account %r in BW_NOTIFICATIONS_ACCOUNTS", account)
            return _text(404, _NO_ACCOUNT)
        remote_addr = client_address(request.META)
        refusal = _gatekeep(request, remote_addr, receiver.credentials)
        if refusal is not None:
            return refusal

        headers = _stored_headers(request)
        content_type = request.META.get("CONTENT_TYPE", "")
        try:
            body, parsed = _receive(request, content_type)
        except _Refused as refused:
            logger.warning(
                "Refused a delivery from %s: %s %s", remote_addr, refused.status, refused.reason
            )
            record_rejection(
                status_code=refused.status,
                reason=refused.reason,
                body=refused.body,
                body_size=refused.size,
                content_type=content_type,
                remote_addr=remote_addr,
                headers=headers,
            )
            return _text(refused.status, refused.reason)

        try:
            result = ingest(
                parsed,
                remote_addr=remote_addr,
                headers=headers,
                account=receiver.account,
            )
        except DatabaseError:
            return _spool(body, parsed.text, remote_addr, headers, receiver.account)
        _log_delivery(result.notification, result.created, started)
        return _text(200, "OK")


def _gatekeep(
    request: HttpRequest, remote_addr: str | None, credentials: Sequence[tuple[str, str]]
) -> HttpResponse | None:
    """The 403 (address not allowed) or 401 (challenge) answer, or None to go on.

    Nothing of the body has been read yet, and nothing is stored for these.
    """
    if not is_allowed(remote_addr, app_settings.ALLOWED_IPS):
        # Could be Bandwidth from a new address: worth a look, so WARNING.
        logger.warning("403: %s is not in BW_NOTIFICATIONS_ALLOWED_IPS", remote_addr)
        return _text(403, "this address may not post notifications")
    if not credentials:
        return None
    has_header = "HTTP_AUTHORIZATION" in request.META
    _authorization_watch.observe(has_header)
    if credentials_accepted(request.META.get("HTTP_AUTHORIZATION"), credentials):
        return None
    # Normal traffic: Bandwidth's first request never carries credentials.
    logger.debug(
        "401 challenge to %s (Authorization header %s)",
        remote_addr,
        "present" if has_header else "absent",
    )
    response = _text(401, "Authentication required.")
    response["WWW-Authenticate"] = challenge(app_settings.REALM)
    return response


def _receive(request: HttpRequest, content_type: str) -> tuple[bytes, ParsedNotification]:
    """Read and parse an authenticated delivery; raises _Refused (413, 411, 415, 400)."""
    body = _read_body(request, app_settings.MAX_BODY_SIZE)
    media_type = content_type.split(";")[0].strip().lower()
    if media_type in _NOT_XML_TYPES:
        raise _Refused(
            415,
            f"Content-Type {media_type} is not XML; Bandwidth notifications are application/xml",
            body,
            len(body),
        )
    try:
        return body, parse_notification(body)
    except NotificationParseError as err:
        raise _Refused(400, str(err), body, len(body)) from None


def _log_delivery(notification: Notification, created: bool, started: float) -> None:
    """One INFO line per stored delivery; the same facts as ``extra`` for structured logs."""
    outcome = "stored" if created else "duplicate"
    duration_ms = round((time.perf_counter() - started) * 1000, 1)
    logger.info(
        "Notification %s %s: order_type=%s status=%s event_type=%s state=%s numbers=%d in %.1f ms",
        notification.pk,
        outcome,
        notification.order_type or "-",
        notification.status or "-",
        notification.event_type or "-",
        notification.processing_state,
        notification.telephone_number_count,
        duration_ms,
        extra={
            "notification_id": notification.pk,
            "outcome": outcome,
            "order_type": notification.order_type,
            "status": notification.status,
            "event_type": notification.event_type,
            "processing_state": notification.processing_state,
            "duration_ms": duration_ms,
        },
    )


def _spool(
    body: bytes, text: str, remote_addr: str | None, headers: dict[str, str], account: str
) -> HttpResponse:
    # The database did not take it. Bandwidth will not send it again: answer 200 only
    # once the delivery is durably on disk, else 503 (recorded in the subscription's
    # status) with the body in the log, the last place it can be recovered from.
    directory = app_settings.SPOOL_DIR
    if directory is not None:
        try:
            path = spool.write(
                directory,
                body,
                received_at=timezone.now(),
                remote_addr=remote_addr,
                headers=headers,
                account=account,
            )
        except OSError:
            logger.exception("Could not spool a notification to %s", directory)
        else:
            logger.error(
                "Could not store a notification; spooled it to %s "
                "(run manage.py bw_notifications_drain_spool once the database is back)",
                path,
                exc_info=True,
            )
            return _text(200, "OK")
    logger.exception("Could not store a notification; its body follows:\n%s", text)
    return _text(503, "the notification could not be stored; see the server log")


def _text(status: int, text: str) -> HttpResponse:
    response = HttpResponse(text + "\n", status=status, content_type="text/plain; charset=utf-8")
    # This module logs its own refusals at the right level (401s at DEBUG: they are
    # Bandwidth's normal first request); this stops django.request repeating them as
    # WARNING, the way Django marks responses it has logged itself.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def _read_body(request: HttpRequest, limit: int | None) -> bytes:
    limit_text = f"at most {limit} bytes are accepted (BW_NOTIFICATIONS_MAX_BODY_SIZE)"
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if limit is not None and declared > limit:
        raise _Refused(413, f"the body is {declared} bytes; {limit_text}", size=declared)
    stream: Any = request
    chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
    if chunked and not declared and isinstance(request, WSGIRequest):
        # Django's WSGIRequest reads nothing without Content-Length. A server that
        # de-chunks the body says so with wsgi.input_terminated (gunicorn does); read
        # its input directly. Otherwise the body cannot be read: say so, not "empty".
        if not request.environ.get("wsgi.input_terminated"):
            raise _Refused(
                411,
                "a chunked body without Content-Length cannot be read by this server; "
                "use a WSGI server that de-chunks (gunicorn) or an ASGI server",
            )
        stream = request.environ["wsgi.input"]
    # Reading one byte past the limit tells "exactly at the limit" from "over it"
    # without ever holding more than limit + 1 bytes.
    if limit is None:
        return bytes(stream.read())
    body = bytes(stream.read(limit + 1))
    if len(body) > limit:
        raise _Refused(413, f"the body is over {limit} bytes; {limit_text}", size=len(body))
    return body


def _stored_headers(request: HttpRequest) -> dict[str, str]:
    stored = {}
    for name in app_settings.STORED_HEADERS:
        if name.lower() in SECRET_HEADERS:
            continue
        value = request.headers.get(name)
        if value is not None:
            stored[name] = value[:_MAX_HEADER_VALUE]
    return stored


class _AuthorizationWatch:
    """Warns once when challenges keep going to requests that never carry Authorization.

    With credentials configured, Bandwidth's retry after the challenge carries the header.
    If no request in this process ever has, something in front of Django (Apache mod_wsgi
    without ``WSGIPassAuthorization On``, a proxy) is probably stripping it, and every
    delivery is being lost. A heuristic: counters only, nothing about the requests kept.
    """

    threshold = 3

    def __init__(self) -> None:
        self.with_header = self.without_header = 0
        self.warned = False

    def observe(self, has_header: bool) -> None:
        if has_header:
            self.with_header += 1
            return
        self.without_header += 1
        if not self.warned and not self.with_header and self.without_header >= self.threshold:
            self.warned = True
            logger.warning(
                "%d requests were challenged and none carried an Authorization header. If "
                "Bandwidth has credentials for this subscription, something in front of "
                "Django strips the header and every notification is lost (Apache mod_wsgi: "
                "set WSGIPassAuthorization On). Check with manage.py bw_notifications_send.",
                self.without_header,
            )


_authorization_watch = _AuthorizationWatch()


def _non_atomic_everywhere(
    view: Callable[..., HttpResponseBase],
) -> Callable[..., HttpResponseBase]:
    for alias in connections:
        view = transaction.non_atomic_requests(using=alias)(view)
    return view


#: The view ``django_bw_notifications.urls`` routes to, ready for any host project:
#: CSRF-exempt, exempt from ``LoginRequiredMiddleware``, outside ``ATOMIC_REQUESTS``.
webhook = csrf_exempt(login_not_required(_non_atomic_everywhere(WebhookView.as_view())))
