"""Are notifications arriving and being handled? The facts behind the admin's banner,
``bw_notifications_health`` and the API's ``health/``.

Bandwidth never retries, so silence is the usual failure: an expired subscription, a
broken proxy, a wrong password all look like nothing at all. Two facts catch it: the
time since each endpoint last received a delivery (``BW_NOTIFICATIONS_SILENT_AFTER``),
and notifications whose dispatch has not finished (``BW_NOTIFICATIONS_STUCK_AFTER``). A
third is loud but easy to leave lying: notifications a receiver failed on
(``BW_NOTIFICATIONS_FAILED_ALERT_AT``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import router
from django.utils import timezone
from django.utils.timesince import timesince

from ..accounts import endpoints, recorded_names
from ..conf import app_settings
from ..database.budget import bounded
from ..intake.delivery import DELIVERED
from ..models import Notification

__all__ = ["COUNT_CAP", "EndpointHealth", "Health", "Problem", "check_health", "read_deadline"]

#: Failed notifications are counted up to this many (the admin's list says more).
COUNT_CAP = 10_000


@dataclass(frozen=True)
class EndpointHealth:
    """When one endpoint (one account's) last received a delivery."""

    account: str
    label: str
    last_delivery_at: datetime | None
    #: Nothing received for longer than ``BW_NOTIFICATIONS_SILENT_AFTER`` (or ever).
    silent: bool

    @property
    def name(self) -> str:
        """How people are told about it: ``account 'east'``, or ``the endpoint`` when no
        accounts are configured."""
        return endpoint_name(self.account)


def endpoint_name(account: str) -> str:
    """How people are told about an account's endpoint: ``account 'east'``, or ``the
    endpoint`` for ``""`` (no accounts configured). The admin's dashboard says it so too."""
    return f"account {account!r}" if account else "the endpoint"


@dataclass(frozen=True)
class Problem:
    """One thing to look at. ``key`` stays the same while the problem lasts (its message
    may change: the counts in it grow), so an alert is raised once and cleared once."""

    #: ``stuck``, ``failed`` or ``silent:<account>``.
    key: str
    #: One sentence for a person: what is wrong, then ``": "`` and what to do.
    message: str
    #: The account it concerns; "" when it concerns the whole app.
    account: str = ""

    @property
    def summary(self) -> str:
        """What is wrong, without the advice: what a clearing says (``cleared: 3
        notification(s) failed in a receiver``), where advice would be stale."""
        return self.message.split(": ", 1)[0]


@dataclass(frozen=True)
class Health:
    """The state of the whole app at ``checked_at``."""

    checked_at: datetime
    #: Notifications whose dispatch has not finished ``BW_NOTIFICATIONS_STUCK_AFTER`` on.
    stuck: int
    #: Notifications whose last dispatch failed (up to :data:`COUNT_CAP`).
    failed: int
    endpoints: tuple[EndpointHealth, ...]

    @property
    def issues(self) -> tuple[Problem, ...]:
        """Each thing to look at, with the key an alert is raised and cleared by."""
        found = []
        if self.stuck:
            after = _duration(app_settings.STUCK_AFTER)
            found.append(
                Problem(
                    "stuck",
                    f"{self.stuck} notification(s) not dispatched {after} after arrival: is "
                    "bw_notifications_dispatch_pending running from cron?",
                )
            )
        threshold = app_settings.FAILED_ALERT_AT
        if threshold is not None and self.failed >= max(threshold, 1):
            more = "+" if self.failed >= COUNT_CAP else ""
            found.append(
                Problem(
                    "failed",
                    f"{self.failed}{more} notification(s) failed in a receiver: fix the "
                    "receiver, then replay them (bw_notifications_replay --failed)",
                )
            )
        for endpoint in self.endpoints:
            if not endpoint.silent:
                continue
            who = endpoint.name
            if endpoint.last_delivery_at is None:
                message = f"{who} has received nothing yet"
            else:
                since = (
                    "less than a minute"
                    if self.checked_at - endpoint.last_delivery_at < timedelta(minutes=1)
                    # Plain spaces: the message goes to logs, JSON and Slack, where
                    # timesince's non-breaking ones are noise.
                    else timesince(endpoint.last_delivery_at, self.checked_at).replace("\xa0", " ")
                )
                message = (
                    f"{who} has received nothing for {since} (last delivery "
                    f"{endpoint.last_delivery_at:%Y-%m-%d %H:%M %Z}): check the "
                    "subscriptions (bw_notifications_subscriptions status)"
                )
            found.append(Problem(f"silent:{endpoint.account}", message, endpoint.account))
        return tuple(found)

    @property
    def problems(self) -> list[str]:
        """One sentence per thing to look at; empty when all is well."""
        return [problem.message for problem in self.issues]

    @property
    def ok(self) -> bool:
        """True when there is nothing to look at."""
        return not self.problems

    def as_dict(self) -> dict[str, object]:
        """For JSON: the command's ``--json`` and the API."""
        return {
            "ok": self.ok,
            "checked_at": self.checked_at.isoformat(),
            "stuck": self.stuck,
            "failed": self.failed,
            "endpoints": [
                {
                    "account": e.account,
                    "last_delivery_at": e.last_delivery_at.isoformat()
                    if e.last_delivery_at
                    else None,
                    "silent": e.silent,
                }
                for e in self.endpoints
            ],
            "problems": self.problems,
        }


def _duration(seconds: float) -> str:
    if seconds >= 120 and seconds % 60 == 0:
        return f"{int(seconds // 60)} minutes"
    return f"{seconds:g} s"


def read_deadline() -> float:
    """When the operators' reads give up: ``BW_NOTIFICATIONS_TIME_BUDGET`` from now (a
    :func:`time.monotonic` instant). The probe, the scrape, the API's ``health/``, the
    admin's banner and ``bw_notifications_health`` all read within it, so a lock or a
    stalled database makes them answer ``503`` (or say so) in time instead of holding a
    worker until it is killed, and the deliveries waiting for one with it."""
    return time.monotonic() + app_settings.TIME_BUDGET


def check_health(
    now: datetime | None = None, *, verdict_only: bool = False, deadline: float | None = None
) -> Health:
    """Measure it: one indexed query per account (two for ``default``, whose rows may
    carry ``""``), one for stuck, one for failed; all before ``deadline``
    (:func:`read_deadline` when not given), or a :class:`~django.db.DatabaseError`.

    Failed ones are counted up to :data:`COUNT_CAP`, or with ``verdict_only`` up to
    ``BW_NOTIFICATIONS_FAILED_ALERT_AT`` only: all :attr:`Health.ok` depends on (the
    probe and the scrape, which counts them exactly itself, ask that way)."""
    now = now or timezone.now()
    failed_up_to = (app_settings.FAILED_ALERT_AT or 1) if verdict_only else COUNT_CAP
    silent_after = app_settings.SILENT_AFTER
    stuck_after = app_settings.STUCK_AFTER
    accounts: dict[str, str] = {}
    for endpoint in endpoints():
        accounts.setdefault(endpoint.account, endpoint.label)  # default's two URLs: one
    statements = sum(len(recorded_names(account)) for account in accounts) + 2
    using = router.db_for_read(Notification)
    with bounded(using, read_deadline() if deadline is None else deadline, statements):
        seen = []
        for account, label in accounts.items():
            last = max(
                (
                    moment
                    for recorded in recorded_names(account)
                    if (moment := _last_delivery(using, recorded)) is not None
                ),
                default=None,
            )
            silent = silent_after is not None and (
                last is None or now - last > timedelta(seconds=silent_after)
            )
            seen.append(EndpointHealth(account, label, last, silent))
        failed = Notification.objects.using(using).failed().values("pk")[: failed_up_to + 1].count()
        stuck = Notification.objects.using(using).stuck(stuck_after).count()
    return Health(
        checked_at=now,
        stuck=stuck,
        failed=min(failed, failed_up_to),
        endpoints=tuple(seen),
    )


def _last_delivery(using: str, account: str) -> datetime | None:
    """When rows recorded as ``account`` last arrived from Bandwidth (the
    ``(account, -received_at)`` index)."""
    return (
        Notification.objects.using(using)
        .filter(account=account, source=DELIVERED)
        .order_by("-received_at")
        .values_list("received_at", flat=True)
        .first()
    )
