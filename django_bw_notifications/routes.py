"""Which of our endpoints a URL reaches in this project, asked of Django's own resolver
(no request needed): the slash middleware, the system checks and
``bw_notifications_subscriptions ensure`` all ask here."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.urls import Resolver404, ResolverMatch, resolve
from django.utils.module_loading import import_string

from .accounts import Account, Endpoint, endpoint

__all__ = [
    "SLASH_MIDDLEWARE",
    "callback_url_problem",
    "endpoint_at",
    "endpoint_of_url",
    "routes_to_endpoint",
    "slash_middleware_installed",
]

#: The middleware that serves the endpoint's URL without its trailing slash.
SLASH_MIDDLEWARE = "django_bw_notifications.middleware.EndpointWithoutSlashMiddleware"


def resolve_or_none(path: str, urlconf: str | None = None) -> ResolverMatch | None:
    """Django's match for ``path``, or None when nothing routes it."""
    try:
        return resolve(path, urlconf)
    except Resolver404:
        return None


def routes_to_endpoint(path: str, urlconf: str | None = None) -> bool:
    """True when ``path`` resolves to a :class:`~django_bw_notifications.views.WebhookView`
    (any subclass, however routed)."""
    from .views import WebhookView

    match = resolve_or_none(path, urlconf)
    view_class = getattr(match.func, "view_class", None) if match else None
    return isinstance(view_class, type) and issubclass(view_class, WebhookView)


def slash_middleware_installed() -> bool:
    """True when ``MIDDLEWARE`` holds :data:`SLASH_MIDDLEWARE` or a subclass of it (a
    host's own, by any dotted path)."""
    from .middleware import EndpointWithoutSlashMiddleware

    for dotted in settings.MIDDLEWARE:
        if dotted == SLASH_MIDDLEWARE:
            return True
        try:
            middleware = import_string(dotted)
        except ImportError:
            continue  # Django says so at startup
        if isinstance(middleware, type) and issubclass(middleware, EndpointWithoutSlashMiddleware):
            return True
    return False


def endpoint_at(path: str) -> Endpoint | None:
    """The endpoint a request to ``path`` reaches (its path as Django sees it), None for
    a path that reaches none; a path without its trailing slash counts when
    ``EndpointWithoutSlashMiddleware`` serves it."""
    candidates = [path]
    if not path.endswith("/") and slash_middleware_installed():
        candidates.append(path + "/")
    for candidate in candidates:
        if routes_to_endpoint(candidate):
            match = resolve_or_none(candidate)
            assert match is not None
            return endpoint(match.kwargs.get("account"))
    return None


def endpoint_of_url(url: str) -> Endpoint | None:
    """The endpoint a POST to the public ``url`` reaches here, None for none: its path,
    less the ``FORCE_SCRIPT_NAME`` prefix Django strips, through :func:`endpoint_at`."""
    path = urlsplit(url).path or "/"
    prefix = (getattr(settings, "FORCE_SCRIPT_NAME", None) or "").rstrip("/")
    if prefix and (path == prefix or path.startswith(prefix + "/")):
        path = path[len(prefix) :] or "/"
    return endpoint_at(path)


def callback_url_problem(account: Account) -> str:
    """Why Bandwidth's POSTs to ``account``'s ``CALLBACK_URL`` would not reach that
    account's endpoint here ("" when they would, or when it has none)."""
    if not account.callback_url:
        return ""
    reached = endpoint_of_url(account.callback_url)
    if reached is None:
        return (
            f"its CALLBACK_URL {account.callback_url} reaches no notification endpoint of "
            "this project (a typo, a missing trailing slash?)"
        )
    if reached.account != account.name:
        whose = f"account {reached.account!r}'s" if reached.account else "the plain"
        return (
            f"its CALLBACK_URL {account.callback_url} reaches {whose} endpoint, not this "
            "account's: its notifications would be stored under the wrong account or refused"
        )
    return ""
