"""``EndpointWithoutSlashMiddleware``: the endpoint answers at its URL without the
trailing slash too.

A subscription whose URL lost its trailing slash would otherwise be lost whole: with
``APPEND_SLASH`` Django answers a POST there with a ``301`` (or, with ``DEBUG``, a
``500``: it refuses to redirect a POST), Bandwidth does not follow redirects, and it
never sends the notification again. This middleware routes such a request to the
endpoint itself, so the same view gives the same answers at both URLs.

Add ``"django_bw_notifications.middleware.EndpointWithoutSlashMiddleware"`` anywhere in
``MIDDLEWARE``. It touches only a path that does not end in ``/``, that nothing in the
URLconf routes, and that routes to a :class:`~django_bw_notifications.views.WebhookView`
once the slash is added (the packaged URLs, an account's endpoint, or a host's own
``WebhookView.as_view()``); every other request passes through unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

from .routes import resolve_or_none, routes_to_endpoint

__all__ = ["EndpointWithoutSlashMiddleware"]


class EndpointWithoutSlashMiddleware:
    """Serves the endpoint's URL without its trailing slash as if it had one."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        path = request.path_info
        if path and not path.endswith("/"):
            # A host may route per request (request.urlconf, set by earlier middleware).
            urlconf = getattr(request, "urlconf", None)
            if routes_to_endpoint(path + "/", urlconf) and resolve_or_none(path, urlconf) is None:
                request.path_info = path + "/"
                request.path += "/"
        return self.get_response(request)
