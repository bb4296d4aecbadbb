"""The operators' URLs: the uptime probe, the readiness probe and the Prometheus scrape.

The probes take no credentials and say nothing but ``ok`` or ``unhealthy``, so they can
face the internet. The scrape is protected: by ``BW_NOTIFICATIONS_METRICS_BASIC_AUTH``
when set (what Prometheus' ``basic_auth`` sends), else like the REST API.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections, router
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe
from rest_framework.exceptions import NotAuthenticated
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.permissions import BasePermission
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from ..api.permissions import read_permissions
from ..conf import app_settings
from ..database.budget import bounded
from ..intake import spool
from ..intake.auth import challenge, credentials_accepted
from ..models import Notification
from .health import check_health, read_deadline

__all__ = ["Metrics", "WithinTimeBudget", "probe", "ready"]

logger = logging.getLogger(__name__)

#: The last probe answer of this process: (monotonic time, healthy).
_last_probe: tuple[float, bool] | None = None


class _Outage:
    """Tells once, at WARNING, that a URL of this process cannot read what it answers
    from, and once, at INFO, that it can again: a monitor polling every few seconds
    through an outage must not flood the logs (the alert is ``bw_notifications_health``'s).
    """

    def __init__(self, what: str) -> None:
        self.what = what
        self.since: float | None = None

    def failed(self, err: Exception) -> None:
        if self.since is not None:
            return
        self.since = time.monotonic()
        expected = isinstance(err, (DatabaseError, ImproperlyConfigured))
        logger.warning(
            "The %s cannot read the health (%s); it answers 503 until it can (told once)",
            self.what,
            err,
            exc_info=not expected,  # an unexpected error keeps its traceback
        )

    def recovered(self) -> None:
        if self.since is None:
            return
        logger.info(
            "The %s reads the health again, after %.0f s", self.what, time.monotonic() - self.since
        )
        self.since = None


_probe_outage = _Outage("uptime probe")
_scrape_outage = _Outage("metrics scrape")


def _answer(healthy: bool) -> HttpResponse:
    return _quiet(
        HttpResponse(
            b"ok\n" if healthy else b"unhealthy\n",
            status=200 if healthy else 503,
            content_type="text/plain; charset=utf-8",
        )
    )


def _quiet(response: HttpResponse) -> HttpResponse:
    """Keep an expected 5xx out of ``django.request``'s ERROR log: it mails ADMINS, and a
    monitor polling an unhealthy probe every minute would flood them. The problem itself
    is told once, by ``bw_notifications_health``."""
    response._has_been_logged = True  # type: ignore[attr-defined]  # Django's own marker
    return response


@csrf_exempt  # GET and HEAD only: a POST gets 405, not the CSRF page
@login_not_required  # a monitor has no session, whatever LoginRequiredMiddleware says
@never_cache
@require_safe
def probe(request: HttpRequest) -> HttpResponse:
    """``200 ok`` when ``bw_notifications_health`` would find nothing to look at,
    ``503 unhealthy`` when it would (or the database cannot be read). For an uptime
    monitor: it turns red when an account goes silent, so it must not decide whether a
    load balancer sends Bandwidth's deliveries here (that is :func:`ready`)."""
    global _last_probe
    ttl = app_settings.PROBE_CACHE
    now = time.monotonic()
    if ttl > 0 and _last_probe is not None and now - _last_probe[0] < ttl:
        return _answer(_last_probe[1])
    try:
        # Within the time budget: a locked table answers 503 in time, not a 500 at the
        # worker's timeout with the worker held all along.
        healthy = check_health(verdict_only=True).ok
    except Exception as err:  # never a 500: a probe that cannot look says unhealthy
        _probe_outage.failed(err)
        healthy = False
    else:
        _probe_outage.recovered()
    _last_probe = (now, healthy)
    return _answer(healthy)


@csrf_exempt
@login_not_required
@never_cache
@require_safe
def ready(request: HttpRequest) -> HttpResponse:
    """``200 ok`` while this process can take a delivery (the database answers, or a
    spool directory is writable), else ``503``: for a load balancer's health check."""
    using = router.db_for_write(Notification)
    try:
        with bounded(using, read_deadline()), connections[using].cursor() as cursor:
            cursor.execute("SELECT 1")
        return _answer(True)
    except DatabaseError:
        directory = app_settings.SPOOL_DIR
        return _answer(directory is not None and spool.can_write_now(directory))


def _unreadable(reason: str = "the database cannot be read") -> HttpResponse:
    return _quiet(
        HttpResponse(f"{reason}\n".encode(), status=503, content_type="text/plain; charset=utf-8")
    )


class _FirstRenderer(BaseContentNegotiation):
    """Errors in JSON whatever Prometheus' ``Accept`` asks (it asks for text)."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> Any:
        return next(iter(parsers), None)

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


class _ScrapeCredentials(BasePermission):
    """One of ``BW_NOTIFICATIONS_METRICS_BASIC_AUTH``, compared in constant time."""

    def has_permission(self, request: Request, view: Any) -> bool:
        header = request.headers.get("authorization")
        if credentials_accepted(header, app_settings.METRICS_BASIC_AUTH):
            return True
        raise NotAuthenticated("Scraping needs one of BW_NOTIFICATIONS_METRICS_BASIC_AUTH.")


class WithinTimeBudget(APIView):
    """A DRF view whose whole request reads within the time budget: DRF's authentication
    and permissions read the user (and the session) from the database before the view
    runs, and on a persistent connection to a server that stopped answering they would
    wait until the worker is killed. :attr:`deadline` is the request's, for the view's
    own reads; a database error anywhere answers ``503``, kept out of ``django.request``'s
    ERROR log (a poller would mail ``ADMINS`` every time)."""

    #: When this request's reads give up (a :func:`time.monotonic` instant).
    deadline: float

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        from django.contrib.auth import get_user_model

        self.deadline = read_deadline()
        # The session, the user, and (Basic) the password's user: three at most.
        with bounded(router.db_for_read(get_user_model()), self.deadline, statements=3):
            super().initial(request, *args, **kwargs)

    def database_unreadable(self, err: DatabaseError) -> HttpResponse:
        """The answer when the database cannot be read in time (a 503 in plain text)."""
        return _unreadable()

    def handle_exception(self, exc: Exception) -> Any:
        if isinstance(exc, DatabaseError):
            return _quiet(self.database_unreadable(exc))
        return super().handle_exception(exc)


class Metrics(WithinTimeBudget):
    """Every ``bw_notifications_*`` metric in Prometheus' text format, measured now."""

    renderer_classes = [JSONRenderer]
    content_negotiation_class = _FirstRenderer
    schema = None  # not a JSON operation of the REST API

    def _own_credentials(self) -> bool:
        return bool(app_settings.METRICS_BASIC_AUTH)

    def get_authenticators(self) -> list[Any]:
        return [] if self._own_credentials() else super().get_authenticators()

    def get_permissions(self) -> list[BasePermission]:
        return [_ScrapeCredentials()] if self._own_credentials() else read_permissions()

    def get_authenticate_header(self, request: Request) -> str:
        if self._own_credentials():
            return challenge("Bandwidth notifications metrics")
        return super().get_authenticate_header(request)

    def database_unreadable(self, err: DatabaseError) -> HttpResponse:
        _scrape_outage.failed(err)
        return _unreadable()

    def get(self, request: Request, **kwargs: Any) -> HttpResponse:
        try:
            from prometheus_client.exposition import choose_encoder

            from .metrics import registry
        except ImportError:
            return HttpResponse(
                b"prometheus_client is not installed: "
                b"pip install 'django-bw-notifications[metrics]'\n",
                status=501,
                content_type="text/plain; charset=utf-8",
            )
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        try:
            body = encoder(registry(self.deadline))  # a DatabaseError: handle_exception's
        except ImproperlyConfigured as err:  # a health threshold: E014 says so too
            _scrape_outage.failed(err)
            return _unreadable(str(err))
        _scrape_outage.recovered()
        response = HttpResponse(body, content_type=content_type)
        response["Cache-Control"] = "no-store"
        return response
