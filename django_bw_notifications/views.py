"""The endpoint Bandwidth POSTs to: HTTP in, an answer out, nothing else decided here.

Gates, cheapest and least revealing first, before any work: method (405), account
(404), address (403), credentials (401 with a ``WWW-Authenticate`` challenge, before
anything is read), size (413, from ``Content-Length`` before reading, then while
reading), content type (415). Then the delivery goes to
:func:`django_bw_notifications.intake.pipeline.accept`, which decides whether it is stored,
spooled or refused, within ``BW_NOTIFICATIONS_TIME_BUDGET``; this view turns that into
the answer. Receivers run once the answer has been sent (:class:`_Answer`), so they
never delay or change it.

The view is CSRF-exempt, exempt from ``LoginRequiredMiddleware`` and outside
``ATOMIC_REQUESTS`` for every database, on the class itself: ``WebhookView.as_view()``
and subclasses routed by a host are as safe as the packaged URL.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.core.handlers.wsgi import WSGIRequest
from django.db import connections, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils import timezone
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from .accounts import Endpoint, endpoint
from .conf import SECRET_HEADERS, app_settings
from .intake import pipeline
from .intake.addresses import client_address, is_allowed
from .intake.auth import challenge, credentials_accepted, presented_username
from .intake.delivery import Delivery
from .models import Notification

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


def _non_atomic_everywhere(function: Callable[..., Any]) -> Callable[..., Any]:
    for alias in connections:
        function = transaction.non_atomic_requests(using=alias)(function)
    return function


class _Answer(HttpResponse):
    """A plain-text answer that runs jobs once it has been sent.

    WSGI and ASGI servers call ``close()`` after the last byte has gone out (Django's
    test client does too), so a job registered with :meth:`after_sent` runs after
    Bandwidth has its answer, still in this process, before ``request_finished``
    closes the database connections. A job registered after that runs at once.
    """

    def __init__(self) -> None:
        super().__init__(status=200, content_type="text/plain; charset=utf-8")
        self._jobs: list[Callable[[], None]] = []
        self._sent = False
        # This module logs its own refusals at the right level (401s at DEBUG: they are
        # Bandwidth's normal first request); this stops django.request repeating them
        # as WARNING, the way Django marks responses it has logged itself.
        self._has_been_logged = True

    def say(self, status: int, text: str) -> _Answer:
        self.status_code = status
        self.content = (text + "\n").encode("utf-8")
        return self

    def after_sent(self, job: Callable[[], None]) -> None:
        if self._sent:
            job()
        else:
            self._jobs.append(job)

    def close(self) -> None:
        self._sent = True
        jobs, self._jobs = self._jobs, []
        for job in jobs:
            try:
                job()
            except Exception:
                logger.exception("A job after the answer failed")
        super().close()


class WebhookView(View):
    """Receive one Bandwidth notification. POST only; HEAD answers 200 for probes."""

    http_method_names = ["post", "head"]

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Callable[..., HttpResponseBase]:
        """The view function, CSRF-exempt, exempt from ``LoginRequiredMiddleware`` and
        outside ``ATOMIC_REQUESTS``: on the function ``as_view()`` returns, so a subclass
        that overrides ``dispatch()`` keeps them too."""
        view = _non_atomic_everywhere(super().as_view(**initkwargs))
        return csrf_exempt(login_not_required(view))

    def head(self, request: HttpRequest, account: str | None = None) -> HttpResponse:
        if endpoint(account) is None:
            return _text(404, _NO_ACCOUNT)
        return HttpResponse(status=200)

    def post(self, request: HttpRequest, account: str | None = None) -> HttpResponse:
        """``account``: the ``BW_NOTIFICATIONS_ACCOUNTS`` name from the URL; None for the
        plain endpoint (the ``default`` account's, or no account's)."""
        started = time.monotonic()
        answer_by = pipeline.deadline(started)
        receiver = endpoint(account)
        if receiver is None:
            # An account that is not configured (checked before anything is read).
            logger.warning("404: no account %r in BW_NOTIFICATIONS_ACCOUNTS", account)
            return _text(404, _NO_ACCOUNT)
        remote_addr = client_address(request.META)
        refusal = _gatekeep(request, remote_addr, receiver)
        if refusal is not None:
            return refusal

        delivery = Delivery(
            body=b"",
            received_at=timezone.now(),
            remote_addr=remote_addr,
            headers=_stored_headers(request),
            account=receiver.account,
            content_type=request.headers.get("content-type", ""),
        )
        answer = _Answer()
        try:
            outcome = _receive(request, delivery, answer_by, answer.after_sent)
        except Exception:
            # Authenticated, so Bandwidth will not send it again: never a 500.
            logger.exception("Unexpected error receiving a delivery from %s", remote_addr)
            return answer.say(503, "the notification could not be received; see the server log")
        if outcome.notification is not None:
            _log_delivery(outcome.notification, outcome.result, started)
        return answer.say(outcome.status_code, outcome.reason)


def _receive(
    request: HttpRequest,
    delivery: Delivery,
    answer_by: float,
    later: Callable[[Callable[[], None]], None],
) -> pipeline.Outcome:
    """Read an authenticated delivery and hand it to the pipeline; 4xx refusals kept."""
    try:
        body = _read_body(request, app_settings.MAX_BODY_SIZE)
    except _Refused as refused:
        return pipeline.refuse(
            dataclasses.replace(delivery, body=refused.body),
            refused.status,
            refused.reason,
            body_size=refused.size,
            answer_by=answer_by,
        )
    delivery = dataclasses.replace(delivery, body=body)
    media_type = delivery.content_type.split(";")[0].strip().lower()
    if media_type in _NOT_XML_TYPES:
        reason = (
            f"Content-Type {media_type} is not XML; Bandwidth notifications are application/xml"
        )
        return pipeline.refuse(delivery, 415, reason, answer_by=answer_by)
    return pipeline.accept(delivery, answer_by=answer_by, later=later)


def _gatekeep(
    request: HttpRequest, remote_addr: str | None, receiver: Endpoint
) -> HttpResponse | None:
    """The 403 (address not allowed) or 401 (challenge) answer, or None to go on.

    Nothing of the body has been read yet, and nothing is stored for these.
    """
    if not is_allowed(remote_addr, app_settings.ALLOWED_IPS):
        # Could be Bandwidth from a new address: worth a look, so WARNING.
        logger.warning(
            "403 at %s: %s is not in BW_NOTIFICATIONS_ALLOWED_IPS", receiver.label, remote_addr
        )
        return _text(403, "this address may not post notifications")
    credentials = receiver.credentials
    if not credentials:
        return None
    has_header = "authorization" in request.headers
    _authorization_watch.observe(has_header)
    if credentials_accepted(request.headers.get("authorization"), credentials):
        return None
    if has_header:
        # Credentials were sent and refused: a botched rotation loses every delivery,
        # so this is worth a WARNING (once a minute per username and address).
        _refusals.observe(
            presented_username(request.headers.get("authorization")), remote_addr, receiver
        )
    else:
        # Normal traffic: Bandwidth's first request never carries credentials.
        logger.debug("401 challenge to %s (no Authorization header)", remote_addr)
    response = _text(401, "Authentication required.")
    response["WWW-Authenticate"] = challenge(app_settings.REALM)
    return response


def _log_delivery(notification: Notification, result: pipeline.Result, started: float) -> None:
    """One INFO line per stored delivery; the same facts as ``extra`` for structured logs."""
    outcome = str(result)
    duration_ms = round((time.monotonic() - started) * 1000, 1)
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


def _text(status: int, text: str) -> HttpResponse:
    return _Answer().say(status, text)


def _read_body(request: HttpRequest, limit: int | None) -> bytes:
    limit_text = f"at most {limit} bytes are accepted (BW_NOTIFICATIONS_MAX_BODY_SIZE)"
    try:
        declared = int(request.headers.get("content-length") or 0)
    except ValueError:
        declared = 0
    if limit is not None and declared > limit:
        raise _Refused(413, f"the body is {declared} bytes; {limit_text}", size=declared)
    stream: Any = request
    chunked = "chunked" in request.headers.get("transfer-encoding", "").lower()
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
    try:
        body = bytes(stream.read() if limit is None else stream.read(limit + 1))
    except OSError as err:
        # The client went away mid-body (UnreadablePostError is an OSError).
        raise _Refused(400, f"the body could not be read: {err}"[:200]) from None
    if limit is not None and len(body) > limit:
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


class _RefusalLog:
    """WARNING for refused credentials, at most once a minute per username and address
    (a sender retrying a wrong password must not flood the log); the lines in between
    are counted in the next one. The password never appears."""

    interval = 60.0
    _max_keys = 1000

    def __init__(self) -> None:
        self._last: dict[tuple[str | None, str | None, str], tuple[float, int]] = {}
        self._lock = threading.Lock()

    def observe(self, username: str | None, address: str | None, receiver: Endpoint) -> None:
        key = (username, address, receiver.account)
        now = time.monotonic()
        with self._lock:
            last, suppressed = self._last.get(key, (float("-inf"), 0))
            if now - last < self.interval:
                self._last[key] = (last, suppressed + 1)
                return
            if len(self._last) >= self._max_keys:
                self._last.clear()
            self._last[key] = (now, 0)
        logger.warning(
            "401 at %s: refused credentials for username %r from %s%s. If Bandwidth sends "
            "them, its subscription's CallbackCredentials and %s differ, and every "
            "notification is being lost (rotate with both pairs configured).",
            receiver.label,
            username if username is not None else "(unreadable header)",
            address,
            f" ({suppressed} more since the last such line)" if suppressed else "",
            receiver.credentials_setting,
            extra={"username": username, "remote_addr": address, "account": receiver.account},
        )


_refusals = _RefusalLog()


#: The view ``django_bw_notifications.urls`` routes to. ``WebhookView.as_view()`` is the
#: same thing: the exemptions live on the class.
webhook = WebhookView.as_view()
