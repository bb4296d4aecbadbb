"""System checks: malformed settings and unsafe deployments, found at startup.

Ids are ``bw_notifications.E0nn`` (errors) and ``bw_notifications.W0nn`` (warnings).
Numbers are never reused; a retired id stays listed here as a comment.

One module, over the usual size, so that every id is allocated in one place and read
next to its neighbours (a new check takes the next free number here, nowhere else);
each check reads its setting through :mod:`.conf` and a rule through its owner.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.db import connections, router
from django.urls import NoReverseMatch, reverse
from django.utils.module_loading import import_string

from .accounts import account_names, account_problems, endpoints, is_credential_list
from .conf import PREFIX, SECRET_HEADERS, SILENT_NEVER, app_settings, duration_problem
from .intake import spool
from .intake.addresses import parse_networks
from .routes import SLASH_MIDDLEWARE as _SLASH_MIDDLEWARE
from .routes import callback_url_problem, routes_to_endpoint, slash_middleware_installed

_MISSING = object()


def _setting(name: str) -> Any:
    return getattr(settings, PREFIX + name, _MISSING)


def _no_credentials(level: type[Warning | Error], check_id: str, where: str) -> CheckMessage:
    """W001 (any run) and E009 (``check --deploy``): an endpoint accepts anyone."""
    if not account_names():
        return level(
            "BW_NOTIFICATIONS_BASIC_AUTH is empty: anyone who finds the notification URL "
            "can post notifications.",
            hint="Set BW_NOTIFICATIONS_BASIC_AUTH = [(username, password)] with a long "
            "random password, and give Bandwidth the same pair as the subscription's "
            "CallbackCredentials.",
            id=check_id,
        )
    if where == "the plain endpoint":
        hint = (
            "No account is named 'default', so the plain endpoint takes "
            "BW_NOTIFICATIONS_BASIC_AUTH: set a pair there, or name an account 'default' "
            "and give it a BASIC_AUTH pair."
        )
    else:
        hint = (
            "Give the account a BASIC_AUTH pair with a long random password (or set "
            "BW_NOTIFICATIONS_BASIC_AUTH for every endpoint), and the same pair to "
            "Bandwidth as the subscription's CallbackCredentials."
        )
    return level(
        f"{where} accepts anyone: it has no credentials (its account sets no BASIC_AUTH "
        "pair and BW_NOTIFICATIONS_BASIC_AUTH is empty, or its account sets an empty one).",
        hint=hint,
        id=check_id,
    )


def _unprotected_endpoints() -> list[str]:
    """Labels of the endpoints that accept anyone, each account once: the ``default``
    account's two URLs (the plain one and its own) share its credentials, so one
    message names both."""
    found: dict[str, str] = {}
    for e in endpoints():
        if e.credentials:
            continue
        if e.account and e.account in found:
            found[e.account] = f"account {e.account!r} (at the plain URL and at its own)"
        else:
            found[e.account or e.label] = e.label
    return list(found.values())


def _credential_lists(*, in_use: bool = False) -> list[tuple[str, Sequence[tuple[str, str]]]]:
    """Every well-formed credential list with the setting it comes from.

    The global one, then each account's own; malformed ones are E001's and E012's.
    ``in_use``: the global one only when some endpoint accepts it (an endpoint whose
    account sets no BASIC_AUTH of its own).
    """
    lists: list[tuple[str, Sequence[tuple[str, str]]]] = []
    value = _setting("BASIC_AUTH")
    global_used = any(e.credentials_setting == PREFIX + "BASIC_AUTH" for e in endpoints())
    if value not in (_MISSING, None) and is_credential_list(value) and (global_used or not in_use):
        lists.append((PREFIX + "BASIC_AUTH", value))
    for name, entry in app_settings.ACCOUNTS.items():
        if isinstance(entry, dict) and "BASIC_AUTH" in entry:
            own = entry["BASIC_AUTH"]
            if is_credential_list(own) and own:
                lists.append((f"{PREFIX}ACCOUNTS[{name!r}]['BASIC_AUTH']", own))
    return lists


@register(Tags.security)
def check_basic_auth(**kwargs: Any) -> list[CheckMessage]:
    """E001 for malformed credentials; E002 for a ':' in any endpoint's username; W001
    for each endpoint that accepts anyone while DEBUG is off."""
    value = _setting("BASIC_AUTH")
    if value not in (_MISSING, None) and not is_credential_list(value):
        return [
            Error(
                "BW_NOTIFICATIONS_BASIC_AUTH must be a list of (username, password) pairs "
                "of non-empty strings.",
                hint='For example: [("bandwidth", "a-long-random-password")].',
                id="bw_notifications.E001",
            )
        ]
    messages: list[CheckMessage] = [
        Error(
            f"{where} entry {index}: the username {username!r} contains ':', which HTTP "
            "Basic authentication cannot carry: every delivery with it would be refused.",
            hint="Choose a username without ':'.",
            id="bw_notifications.E002",
        )
        for where, pairs in _credential_lists()
        for index, (username, _password) in enumerate(pairs)
        if ":" in username
    ]
    if not settings.DEBUG:
        messages += [
            _no_credentials(Warning, "bw_notifications.W001", where)
            for where in _unprotected_endpoints()
        ]
    return messages


@register()
def check_max_body_size(**kwargs: Any) -> list[CheckMessage]:
    """E003: the body size cap must be a positive integer."""
    value = _setting("MAX_BODY_SIZE")
    if value is _MISSING or value is None:
        return []  # None (no cap) is allowed; check --deploy warns (W008)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return []
    return [
        Error(
            f"BW_NOTIFICATIONS_MAX_BODY_SIZE must be a positive integer (bytes) or None, "
            f"got {value!r}.",
            hint="Leave it unset for the default (1 MiB, about 17,000 telephone numbers).",
            id="bw_notifications.E003",
        )
    ]


@register()
def check_realm(**kwargs: Any) -> list[CheckMessage]:
    """E004: the realm must fit in an HTTP header."""
    value = _setting("REALM")
    if value is _MISSING:
        return []
    if isinstance(value, str) and value and value.isprintable():
        try:
            value.encode("latin-1")
            return []
        except UnicodeEncodeError:
            pass
    return [
        Error(
            f"BW_NOTIFICATIONS_REALM must be a non-empty, printable Latin-1 string, got {value!r}.",
            hint='For example: "Bandwidth notifications".',
            id="bw_notifications.E004",
        )
    ]


@register()
def check_stored_headers(**kwargs: Any) -> list[CheckMessage]:
    """E005 for a malformed header list; W002 when it names a secret header."""
    value = _setting("STORED_HEADERS")
    if value is _MISSING:
        return []
    if not isinstance(value, (list, tuple)) or not all(
        isinstance(name, str) and name for name in value
    ):
        return [
            Error(
                "BW_NOTIFICATIONS_STORED_HEADERS must be a list of header names.",
                hint='For example: ["Content-Type", "User-Agent"].',
                id="bw_notifications.E005",
            )
        ]
    secret = sorted(name for name in value if name.lower() in SECRET_HEADERS)
    if secret:
        return [
            Warning(
                f"BW_NOTIFICATIONS_STORED_HEADERS lists {', '.join(secret)}; "
                "headers that carry secrets are never stored.",
                hint="Remove them from the list.",
                id="bw_notifications.W002",
            )
        ]
    return []


@register()
def check_spool_dir(**kwargs: Any) -> list[CheckMessage]:
    """E006 for a malformed spool setting; W004 when the directory cannot be written."""
    value = _setting("SPOOL_DIR")
    if value is _MISSING or value is None:
        return []
    if not isinstance(value, (str, os.PathLike)) or not str(value):
        return [
            Error(
                f"BW_NOTIFICATIONS_SPOOL_DIR must be a directory path, got {value!r}.",
                hint='For example: BASE_DIR / "var" / "bw-spool".',
                id="bw_notifications.E006",
            )
        ]
    path = Path(value)
    if not spool.writable(path):
        return [
            Warning(
                f"BW_NOTIFICATIONS_SPOOL_DIR {str(path)!r} cannot be created or written by "
                "this process: during a database outage notifications would be lost.",
                hint="Create the directory and make it writable by the web server's user.",
                id="bw_notifications.W004",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_spool_configured(**kwargs: Any) -> list[CheckMessage]:
    """W005 (deploy): no spool, so a database outage loses the notifications sent meanwhile."""
    if _setting("SPOOL_DIR") not in (_MISSING, None, ""):
        return []
    return [
        Warning(
            "BW_NOTIFICATIONS_SPOOL_DIR is not set: notifications that arrive while the "
            "database is unavailable are answered 503 and Bandwidth never sends them again.",
            hint="Set it to a local directory on persistent storage and run "
            "bw_notifications_drain_spool from cron.",
            id="bw_notifications.W005",
        )
    ]


@register(Tags.security)
def check_network_settings(**kwargs: Any) -> list[CheckMessage]:
    """E007 for a malformed allow-list; E008 for malformed proxy settings."""
    errors: list[CheckMessage] = []
    allowed = _setting("ALLOWED_IPS")
    if allowed is not _MISSING and allowed is not None:
        problem = None
        if isinstance(allowed, str) or not isinstance(allowed, Sequence):
            problem = "must be a list of IP addresses or CIDR networks"
        else:
            try:
                parse_networks(allowed)
            except ValueError as err:
                problem = str(err)
        if problem:
            errors.append(
                Error(
                    f"BW_NOTIFICATIONS_ALLOWED_IPS: {problem}.",
                    hint='For example: ["203.0.113.0/24", "2001:db8::/32"].',
                    id="bw_notifications.E007",
                )
            )
    header = _setting("CLIENT_IP_HEADER")
    count = _setting("TRUSTED_PROXY_COUNT")
    if (header not in (_MISSING, None) and not (isinstance(header, str) and header.strip())) or (
        count is not _MISSING
        and not (isinstance(count, int) and not isinstance(count, bool) and count > 0)
    ):
        errors.append(
            Error(
                "BW_NOTIFICATIONS_CLIENT_IP_HEADER must be a header name and "
                "BW_NOTIFICATIONS_TRUSTED_PROXY_COUNT a positive integer.",
                hint='For example: "X-Forwarded-For" and 1 behind a single proxy.',
                id="bw_notifications.E008",
            )
        )
    return errors


#: Passwords that are placeholders, not secrets (compared case-insensitively).
_PLACEHOLDERS = ("change", "example", "placeholder", "password", "secret", "todo", "xxx", "demo")
_MIN_PASSWORD_LENGTH = 16


@register(Tags.security, deploy=True)
def check_deploy_credentials(**kwargs: Any) -> list[CheckMessage]:
    """E009: an endpoint without credentials in production; W006 short and W007
    placeholder passwords, in every endpoint's credentials."""
    messages: list[CheckMessage] = []
    if not settings.DEBUG:
        messages += [
            _no_credentials(Error, "bw_notifications.E009", w) for w in _unprotected_endpoints()
        ]
    for where, pairs in _credential_lists(in_use=True):
        for index, (username, password) in enumerate(pairs):
            if len(password) < _MIN_PASSWORD_LENGTH:
                messages.append(
                    Warning(
                        f"{where} entry {index}: the password is shorter than "
                        f"{_MIN_PASSWORD_LENGTH} characters.",
                        hint='Use a long random password, e.g. python -c "import secrets; '
                        'print(secrets.token_urlsafe(32))".',
                        id="bw_notifications.W006",
                    )
                )
            lowered = password.lower()
            if lowered == username.lower() or any(word in lowered for word in _PLACEHOLDERS):
                messages.append(
                    Warning(
                        f"{where} entry {index}: the password looks like a placeholder.",
                        hint="Replace it with a long random password.",
                        id="bw_notifications.W007",
                    )
                )
    return messages


@register(Tags.security, deploy=True)
def check_deploy_body_cap(**kwargs: Any) -> list[CheckMessage]:
    """W008: the body size cap is off."""
    if _setting("MAX_BODY_SIZE") is None:
        return [
            Warning(
                "BW_NOTIFICATIONS_MAX_BODY_SIZE is None: bodies of any size are read into memory.",
                hint="Leave it unset (1 MiB) or set a number of bytes.",
                id="bw_notifications.W008",
            )
        ]
    return []


@register()
def check_dispatch(**kwargs: Any) -> list[CheckMessage]:
    """E010 for an unknown dispatch mode; E011 for task mode without a usable queue."""
    mode = _setting("DISPATCH")
    if mode is _MISSING or mode == "inline":
        return []
    if mode != "task":
        try:
            function = import_string(str(mode))
        except ImportError:
            function = None
        if callable(function):
            return []
        return [
            Error(
                f"BW_NOTIFICATIONS_DISPATCH is {mode!r}, which is not a mode nor the "
                "dotted path of a function.",
                hint='Use "inline" (receivers run after the commit, in the request), '
                '"task" (Django\'s Tasks framework runs them) or the dotted path of a '
                "function that enqueues a notification on your own queue.",
                id="bw_notifications.E010",
            )
        ]
    try:
        from .dispatch import tasks  # importing is the first check
    except ImportError:
        return [
            Error(
                'BW_NOTIFICATIONS_DISPATCH is "task", but neither django.tasks (Django 6.0+) '
                "nor the django-tasks backport can be imported.",
                hint='On Django 5.2: pip install "django-bw-notifications[tasks]" (the '
                "django-tasks backport).",
                id="bw_notifications.E011",
            )
        ]
    alias = app_settings.TASK_BACKEND
    configured = getattr(settings, "TASKS", None)
    if configured is not None and alias not in configured:
        return [
            Error(
                f"BW_NOTIFICATIONS_TASK_BACKEND is {alias!r}, which is not in TASKS.",
                hint=f"Use one of {', '.join(sorted(configured))}, or add {alias!r} to TASKS.",
                id="bw_notifications.E011",
            )
        ]
    problem = tasks.unusable_backend()
    if problem:
        return [
            Error(
                f"{problem}.",
                hint="Use a backend made for the Tasks framework this Django has "
                "(django.tasks on Django 6.0+, the django-tasks backport on 5.2), with "
                "BW_NOTIFICATIONS_TASK_QUEUE among its QUEUES; docs/scale.md lists the "
                "backends we test.",
                id="bw_notifications.E011",
            )
        ]
    return []


@register(Tags.urls)
def check_url_included(**kwargs: Any) -> list[CheckMessage]:
    """W003: the app is installed but its endpoint is not routed."""
    if not _routed("bw_notifications:webhook"):
        return [
            Warning(
                "The Bandwidth notification endpoint is not in the URLconf, so no "
                "notification can be received.",
                hint='Add path("bandwidth/notifications/", '
                'include("django_bw_notifications.urls")) to your urlpatterns.',
                id="bw_notifications.W003",
            )
        ]
    return []


@register(Tags.urls)
def check_url_without_slash(**kwargs: Any) -> list[CheckMessage]:
    """W011: the endpoint's URL without its trailing slash is not served (a POST there is
    redirected, or a 500 with DEBUG, and the notification lost)."""
    try:
        url = reverse("bw_notifications:webhook")
    except NoReverseMatch:
        return []  # W003 says so
    bare = url.rstrip("/")
    if not bare or slash_middleware_installed() or routes_to_endpoint(bare):
        return []
    answer = (
        "Django redirects it (a 500 with DEBUG on) and Bandwidth does not follow redirects"
        if settings.APPEND_SLASH
        and "django.middleware.common.CommonMiddleware" in settings.MIDDLEWARE
        else "it is answered 404"
    )
    return [
        Warning(
            f"A POST to {bare} (the endpoint's URL without its trailing slash) is not "
            f"received: {answer}, and the notification is lost.",
            hint=f'Add "{_SLASH_MIDDLEWARE}" to MIDDLEWARE (anywhere), so that both URLs '
            "reach the endpoint.",
            id="bw_notifications.W011",
        )
    ]


@register(Tags.urls)
def check_callback_urls(**kwargs: Any) -> list[CheckMessage]:
    """W012: an account's ``CALLBACK_URL`` does not reach that account's endpoint here
    (Bandwidth would post every notification where it is lost or misfiled)."""
    from .accounts import AccountError, get_account

    messages: list[CheckMessage] = []
    for name in account_names():
        try:
            account = get_account(name)
        except AccountError:
            continue  # E012 says so
        problem = callback_url_problem(account)
        if problem:
            messages.append(
                Warning(
                    f"BW_NOTIFICATIONS_ACCOUNTS[{name!r}]: {problem}.",
                    hint=f"Set CALLBACK_URL to the public URL of reverse("
                    f'"bw_notifications:account_webhook", kwargs={{"account": {name!r}}}) '
                    "(the plain endpoint's for the 'default' account), with its trailing "
                    "slash; behind a proxy that rewrites paths, silence this check.",
                    id="bw_notifications.W012",
                )
            )
    return messages


@register()
def check_accounts(**kwargs: Any) -> list[CheckMessage]:
    """E012: each BW_NOTIFICATIONS_ACCOUNTS entry must be usable."""
    value = _setting("ACCOUNTS")
    if value is _MISSING or value is None:
        return []
    if not isinstance(value, dict):
        return [
            Error(
                "BW_NOTIFICATIONS_ACCOUNTS must be a dict of account name -> settings.",
                hint='For example: {"default": {"ACCOUNT_ID": "9900000", ...}}; see the '
                'README, "Setting up Bandwidth".',
                id="bw_notifications.E012",
            )
        ]
    return [
        Error(problem, hint='See the README, "Setting up Bandwidth".', id="bw_notifications.E012")
        for name, entry in value.items()
        for problem in account_problems(name, entry)
    ]


@register()
def check_time_budget(**kwargs: Any) -> list[CheckMessage]:
    """E013: the time budget must be a positive number of seconds."""
    value = _setting("TIME_BUDGET")
    if value is _MISSING:
        return []
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 1 <= value <= 300:
        return []
    return [
        Error(
            f"BW_NOTIFICATIONS_TIME_BUDGET must be a number of seconds from 1 to 300, "
            f"got {value!r}.",
            hint="Leave it unset (10 s), or keep it well under your server's worker "
            "timeout (gunicorn: 30 s).",
            id="bw_notifications.E013",
        )
    ]


# Security-tagged, not database-tagged: Django 6.1 runs those only with --database.
@register(Tags.security, deploy=True)
def check_connect_timeout(**kwargs: Any) -> list[CheckMessage]:
    """W009 (deploy): a PostgreSQL database we write to may take longer to connect than
    the time budget (libpq waits forever by default), so a database address that never
    answers would hold requests until the worker is killed, and the delivery is lost."""
    from .models import Notification, RejectedDelivery

    try:
        budget = float(app_settings.TIME_BUDGET)
    except (TypeError, ValueError):
        return []  # E013 says so
    aliases = {router.db_for_write(Notification), router.db_for_write(RejectedDelivery)}
    messages: list[CheckMessage] = []
    for alias in sorted(aliases):
        database = connections.settings.get(alias, {})
        if "postgresql" not in str(database.get("ENGINE", "")):
            continue
        configured = (database.get("OPTIONS") or {}).get(
            "connect_timeout", os.environ.get("PGCONNECT_TIMEOUT")
        )
        try:
            seconds = float(configured) if configured not in (None, "") else 0.0
        except (TypeError, ValueError):
            seconds = 0.0
        # libpq: 0 or absent means wait forever, and under 2 means 2 (its least).
        waits = max(seconds, 2.0) if seconds > 0 else 0.0
        if 0 < waits <= budget / 2:
            continue
        least = " (libpq waits at least 2 s)" if waits != seconds else ""
        shown = "none (libpq waits forever)" if waits <= 0 else f"{configured} s{least}"
        messages.append(
            Warning(
                f"DATABASES[{alias!r}] has connect_timeout {shown}, against a time budget of "
                f"{budget:g} s: a database address that does not answer holds each "
                "delivery until the worker is killed, and it is lost.",
                hint=f'Set DATABASES[{alias!r}]["OPTIONS"]["connect_timeout"] to at most '
                f"{max(int(budget / 2), 1)} (seconds; half of BW_NOTIFICATIONS_TIME_BUDGET), "
                "so that the delivery is spooled in time.",
                id="bw_notifications.W009",
            )
        )
    return messages


@register()
def check_operations(**kwargs: Any) -> list[CheckMessage]:
    """E014: the health and metrics settings must have their shapes."""
    messages: list[CheckMessage] = []
    for name, none_means, hint in (
        (
            "SILENT_AFTER",
            SILENT_NEVER,
            "Seconds, e.g. 86400 (the default: a day) for an account that hears from "
            "Bandwidth daily; None for one that may legitimately hear nothing for days.",
        ),
        (
            "STUCK_AFTER",
            None,
            "Seconds, e.g. 900 (the default): three runs of a sweeper every five minutes.",
        ),
    ):
        value = _setting(name)
        problem = (
            None if value is _MISSING else duration_problem(name, value, none_means=none_means)
        )
        if problem:
            messages.append(Error(f"{problem}.", hint=hint, id="bw_notifications.E014"))
    threshold = _setting("FAILED_ALERT_AT")
    if threshold not in (_MISSING, None) and not (
        isinstance(threshold, int) and not isinstance(threshold, bool) and threshold >= 1
    ):
        messages.append(
            Error(
                f"BW_NOTIFICATIONS_FAILED_ALERT_AT must be a whole number from 1, or None, "
                f"got {threshold!r}.",
                hint="1 (the default) makes any failed notification a health problem; None "
                "never does.",
                id="bw_notifications.E014",
            )
        )
    ttl = _setting("PROBE_CACHE")
    if ttl is not _MISSING and not (
        isinstance(ttl, (int, float)) and not isinstance(ttl, bool) and 0 <= ttl <= 3600
    ):
        messages.append(
            Error(
                f"BW_NOTIFICATIONS_PROBE_CACHE must be a number of seconds from 0 to 3600, "
                f"got {ttl!r}.",
                hint="0 (the default) looks afresh on every probe.",
                id="bw_notifications.E014",
            )
        )
    every = _setting("METRICS_SUBSCRIPTIONS_EVERY")
    if every is not _MISSING and not (
        isinstance(every, (int, float)) and not isinstance(every, bool) and every >= 0
    ):
        messages.append(
            Error(
                f"BW_NOTIFICATIONS_METRICS_SUBSCRIPTIONS_EVERY must be a number of seconds "
                f"from 0, got {every!r}.",
                hint="300 (the default) lists Bandwidth's subscriptions every 5 minutes per "
                "process; 0 never does.",
                id="bw_notifications.E014",
            )
        )
    pairs = _setting("METRICS_BASIC_AUTH")
    if pairs not in (_MISSING, None) and (
        not is_credential_list(pairs) or any(":" in username for username, _ in pairs)
    ):
        messages.append(
            Error(
                "BW_NOTIFICATIONS_METRICS_BASIC_AUTH must be a list of (username, password) "
                "pairs of non-empty strings, the usernames without ':' (HTTP Basic cannot "
                "carry one).",
                hint='For example: [("prometheus", "a-long-random-password")], the pair of '
                "the scrape job's basic_auth.",
                id="bw_notifications.E014",
            )
        )
    return messages


@register(Tags.urls)
def check_routed_extras(**kwargs: Any) -> list[CheckMessage]:
    """E015: the REST API is routed but ``rest_framework`` is not in ``INSTALLED_APPS``
    (its browsable pages would answer 500); W010: the metrics are routed but
    ``prometheus_client`` is not installed (every scrape would answer 501)."""
    from django.apps import apps

    messages: list[CheckMessage] = []
    if _routed("bw_notifications_api:root") and not apps.is_installed("rest_framework"):
        messages.append(
            Error(
                "The REST API (bw_notifications_api) is routed but 'rest_framework' is not "
                "in INSTALLED_APPS: its browsable pages would fail (TemplateDoesNotExist).",
                hint='Add "rest_framework" to INSTALLED_APPS.',
                id="bw_notifications.E015",
            )
        )
    if _routed("bw_notifications_ops:metrics"):
        try:
            import prometheus_client  # noqa: F401
        except ImportError:
            messages.append(
                Warning(
                    "bw_notifications_ops:metrics is routed but prometheus_client is not "
                    "installed: every scrape would answer 501.",
                    hint="pip install 'django-bw-notifications[metrics]'",
                    id="bw_notifications.W010",
                )
            )
    return messages


def _routed(url_name: str) -> bool:
    try:
        reverse(url_name)
    except NoReverseMatch:
        return False
    return True


@register(Tags.signals)
def check_receivers(**kwargs: Any) -> list[CheckMessage]:
    """W013: no receiver is connected to any of the app's notification signals, so
    every notification is stored (and the order book kept) but the project does nothing
    with it: most often the module of ``@on_order`` receivers is never imported."""
    from .models import AccountNumber, Notification, Order
    from .signals import (
        all_signals,
        health_problem,
        health_recovered,
        number_changed,
        order_changed,
    )

    # Each signal with the sender it is sent with; has_listeners() counts only live
    # receivers (a weakly connected one whose function is gone does not).
    senders = {order_changed: Order, number_changed: AccountNumber}
    told = [
        signal
        for signal in all_signals().values()
        if signal is not health_problem and signal is not health_recovered
    ]
    if any(signal.has_listeners(senders.get(signal, Notification)) for signal in told):
        return []
    return [
        Warning(
            "No receiver is connected to any Bandwidth notification signal: notifications "
            "are stored, but nothing in this project reacts to them.",
            hint="Import the module with your @on_order / @on_event receivers from your "
            "AppConfig.ready() (see the README's 'A first receiver'). A project that only "
            "reads the admin, the API or the order book can silence bw_notifications.W013.",
            id="bw_notifications.W013",
        )
    ]
