"""The package's settings, read from ``django.conf.settings`` on every access.

Each property is one ``BW_NOTIFICATIONS_<NAME>`` setting with its default. Nothing is
cached or written back into ``settings``, so ``override_settings`` works in tests. Shape
errors are reported by the system checks in :mod:`django_bw_notifications.checks`; the
properties return what is set, and code that uses them must not assume more. The health
thresholds are the exception: a wrong one raises ``ImproperlyConfigured`` with the
check's words, which the probe, the scrape and the command answer as "cannot tell".
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

PREFIX = "BW_NOTIFICATIONS_"

#: The longest health threshold, in seconds (ten years): beyond it a duration is not
#: one (``sys.maxsize`` overflows Python's dates); None says "never" where it may.
LONGEST_DURATION = 10 * 365 * 24 * 3600

#: What ``BW_NOTIFICATIONS_SILENT_AFTER = None`` does.
SILENT_NEVER = "never report silence"

#: Request headers that may hold secrets: never stored, even when listed.
SECRET_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})


def duration_problem(name: str, value: object, *, none_means: str | None = None) -> str | None:
    """What is wrong with ``value`` as the setting ``name``'s number of seconds (more than
    0, or None when ``none_means`` says what None does), or None when nothing is. System
    check E014 and the properties below say the same."""
    if value is None and none_means is not None:
        return None
    if (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and 0 < value <= LONGEST_DURATION
    ):
        return None
    allowed = f", or None ({none_means})" if none_means is not None else ""
    return (
        f"{PREFIX}{name} must be a number of seconds above 0 and at most "
        f"{LONGEST_DURATION:,} (ten years){allowed}, got {value!r}"
    )


class Settings:
    """Typed access to every ``BW_NOTIFICATIONS_*`` setting."""

    def _get(self, name: str, default: Any) -> Any:
        return getattr(settings, PREFIX + name, default)

    @property
    def BASIC_AUTH(self) -> Sequence[tuple[str, str]]:
        """``(username, password)`` pairs; any one is accepted. Empty: no authentication."""
        value = self._get("BASIC_AUTH", ())
        return value if value is not None else ()

    @property
    def REALM(self) -> str:
        """The realm sent in ``WWW-Authenticate: Basic realm="…"``."""
        return str(self._get("REALM", "Bandwidth notifications"))

    @property
    def MAX_BODY_SIZE(self) -> int | None:
        """Largest body accepted, in bytes (1 MiB: room for ~17,000 padded numbers).

        ``None`` removes the cap (``check --deploy`` warns).
        """
        value = self._get("MAX_BODY_SIZE", 1024 * 1024)
        return None if value is None else int(value)

    @property
    def ALLOWED_IPS(self) -> Sequence[str]:
        """Addresses or CIDR networks allowed to post; empty: any (Bandwidth publishes none)."""
        return tuple(self._get("ALLOWED_IPS", ()) or ())

    @property
    def CLIENT_IP_HEADER(self) -> str | None:
        """Header a trusted proxy puts the client address in (``X-Forwarded-For``); None:
        use the connection's address. Set it only behind a proxy that overwrites it."""
        return self._get("CLIENT_IP_HEADER", None) or None

    @property
    def TRUSTED_PROXY_COUNT(self) -> int:
        """How many trusted proxies append to ``CLIENT_IP_HEADER``; the client address is
        that many entries from the right."""
        return int(self._get("TRUSTED_PROXY_COUNT", 1))

    @property
    def SPOOL_DIR(self) -> Path | None:
        """Directory where deliveries the database could not take are written; None: off."""
        value = self._get("SPOOL_DIR", None)
        return Path(value) if value else None

    @property
    def TIME_BUDGET(self) -> float:
        """Seconds within which the endpoint answers, whatever the database does (10).

        Past it, the delivery is spooled (``200``) or refused with ``503``. Keep it well
        under your server's worker timeout (gunicorn: 30 s).
        """
        return float(self._get("TIME_BUDGET", 10))

    @property
    def STORED_HEADERS(self) -> Sequence[str]:
        """Request headers copied onto each stored notification (an allow-list)."""
        return tuple(
            self._get(
                "STORED_HEADERS",
                ("Content-Type", "Content-Length", "User-Agent", "X-Forwarded-For", "X-Real-IP"),
            )
        )

    @property
    def API_PERMISSION_CLASSES(self) -> Sequence[str | type[Any]]:
        """DRF permission classes (dotted paths or classes) for reading the REST API; by
        default a staff user with the ``view_notification`` permission, as in the admin."""
        return tuple(
            self._get(
                "API_PERMISSION_CLASSES", ("django_bw_notifications.api.permissions.CanView",)
            )
        )

    @property
    def API_REPLAY_PERMISSION_CLASSES(self) -> Sequence[str | type[Any]]:
        """DRF permission classes needed, besides the read ones, to replay through the API."""
        return tuple(
            self._get(
                "API_REPLAY_PERMISSION_CLASSES",
                ("django_bw_notifications.api.permissions.CanReplay",),
            )
        )

    @property
    def DISPATCH(self) -> str:
        """``"inline"``: receivers run in the process that stored the notification, once
        the answer has been sent. ``"task"``: a task on Django's Tasks framework runs
        them, on whatever backend is configured. Or the dotted path of an enqueue
        function. Read by ``scheduling`` only."""
        return str(self._get("DISPATCH", "inline"))

    @property
    def KEEP_STATE(self) -> bool:
        """Keep the order book and the number inventory in each dispatch, and run no
        receiver for a copy of news already told (True, the default). False: neither;
        the tables stay as they are and ``bw_notifications_rebuild_state`` fills them."""
        return bool(self._get("KEEP_STATE", True))

    @property
    def TASK_BACKEND(self) -> str:
        """The ``TASKS`` alias dispatch tasks are enqueued on."""
        return str(self._get("TASK_BACKEND", "default"))

    @property
    def TASK_QUEUE(self) -> str:
        """The queue name dispatch tasks are enqueued on."""
        return str(self._get("TASK_QUEUE", "default"))

    @property
    def TASK_MAX_ATTEMPTS(self) -> int:
        """Dispatches tried per notification before it is left failed (for replay)."""
        return int(self._get("TASK_MAX_ATTEMPTS", 5))

    @property
    def TASK_RETRY_DELAY(self) -> float:
        """Seconds before the first retry; each further retry waits twice as long."""
        return float(self._get("TASK_RETRY_DELAY", 30))

    @property
    def SILENT_AFTER(self) -> float | None:
        """Seconds without a delivery on an endpoint before health reports it (one day);
        None: never (an endpoint that legitimately hears nothing for days)."""
        value = self._get("SILENT_AFTER", 24 * 3600)
        problem = duration_problem("SILENT_AFTER", value, none_means=SILENT_NEVER)
        if problem:
            raise ImproperlyConfigured(problem)
        return None if value is None else float(value)

    @property
    def STUCK_AFTER(self) -> float:
        """Seconds after which an unfinished dispatch counts as stuck for health (15
        minutes: three runs of a sweeper every five)."""
        value = self._get("STUCK_AFTER", 900)
        problem = duration_problem("STUCK_AFTER", value)
        if problem:
            raise ImproperlyConfigured(problem)
        return float(value)

    @property
    def FAILED_ALERT_AT(self) -> int | None:
        """How many failed notifications make a health problem (1: any); None: failed
        receivers are the admin's to show, never a problem."""
        value = self._get("FAILED_ALERT_AT", 1)
        return None if value is None else int(value)

    @property
    def PROBE_CACHE(self) -> float:
        """Seconds the uptime probe reuses its last answer, per process (0: it looks
        afresh every time, a few indexed queries; raise it for a probe called often)."""
        return float(self._get("PROBE_CACHE", 0))

    @property
    def METRICS_BASIC_AUTH(self) -> Sequence[tuple[str, str]]:
        """``(username, password)`` pairs a Prometheus scrape may present; empty: the
        metrics are protected like the REST API (``API_PERMISSION_CLASSES``)."""
        value = self._get("METRICS_BASIC_AUTH", ())
        return value if value is not None else ()

    @property
    def METRICS_SUBSCRIPTIONS_EVERY(self) -> float:
        """Seconds between two listings of an account's subscriptions for the metrics,
        per process (5 minutes; 0: the metrics never call the Numbers API)."""
        return float(self._get("METRICS_SUBSCRIPTIONS_EVERY", 300))

    @property
    def ACCOUNTS(self) -> dict[str, Any]:
        """Bandwidth accounts by name: API credentials, callback URL and subscriptions
        wanted, for the Numbers API client and its commands (see ``accounts``)."""
        value = self._get("ACCOUNTS", {})
        return value if isinstance(value, dict) else {}

    @property
    def API_TIMEOUT(self) -> float:
        """Seconds the Numbers API client waits for connecting and for each read."""
        return float(self._get("API_TIMEOUT", 10))

    @property
    def API_MAX_RETRIES(self) -> int:
        """Retries of a Numbers API call after a 429, a 5xx or a timeout (0: none)."""
        return int(self._get("API_MAX_RETRIES", 3))

    @property
    def API_BACKOFF(self) -> float:
        """Seconds before the first retry of a Numbers API call; each next one waits twice
        as long (a ``Retry-After`` from Bandwidth wins, up to a minute)."""
        return float(self._get("API_BACKOFF", 1))

    @property
    def RENEW_BEFORE(self) -> int:
        """Seconds: ``subscriptions renew`` extends a subscription expiring sooner, and
        ``subscriptions status`` flags it."""
        return int(self._get("RENEW_BEFORE", 30 * 24 * 3600))

    @property
    def RECONCILE_AFTER(self) -> int:
        """Seconds without news after which ``bw_notifications_reconcile`` asks Bandwidth
        about an order that is not in a final state."""
        return int(self._get("RECONCILE_AFTER", 3600))


#: The one settings object the package reads.
app_settings = Settings()
