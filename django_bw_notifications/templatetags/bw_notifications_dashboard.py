"""The app index's dashboard: per account, the notifications received in the last day
and week, those our receivers failed on, and the deliveries refused.

Two queries whatever the size of the tables and the number of accounts: one grouped
count over the widest window's notifications (the ``(account, -received_at)`` index),
one over its refused deliveries. Every figure links to the admin list of the rows it
counted, filtered from the same moment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django import template
from django.db.models import Count, Model, Q
from django.utils import timezone
from django.utils.http import urlencode

from ..accounts import endpoints, recorded_names
from ..models import Notification, ProcessingState, RejectedDelivery
from ..ops.health import endpoint_name

register = template.Library()

#: The windows counted, narrowest first: (heading, length); "in the last" precedes it.
WINDOWS: tuple[tuple[str, timedelta], ...] = (
    ("24 hours", timedelta(hours=24)),
    ("7 days", timedelta(days=7)),
)


@dataclass(frozen=True)
class Figure:
    """One count, and the admin list showing the rows it counted."""

    count: int
    url: str


@dataclass(frozen=True)
class WindowFigures:
    """An account's figures for one window; ``refused`` is None for a user who may not
    view refused deliveries."""

    heading: str
    received: Figure
    failed: Figure
    refused: Figure | None


@dataclass(frozen=True)
class AccountRow:
    """One line of the dashboard."""

    #: The account's name; health's words for the plain endpoint when it records none.
    name: str
    #: False for an account rows still carry after it left ``BW_NOTIFICATIONS_ACCOUNTS``.
    configured: bool
    #: In the order of :data:`WINDOWS`.
    windows: tuple[WindowFigures, ...]


@register.inclusion_tag("bw_notifications/admin/dashboard.html")
def bw_dashboard(app_list: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``{% bw_dashboard app_list %}`` on an admin index page.

    ``app_list`` is the admin's own answer for the user: the dashboard is shown only
    when it offers the notification list, and the refused column only when it offers
    the refused deliveries' list (the links start from the URLs it gives, right for a
    custom admin site too). Nothing the user may not see is counted.
    """
    notifications_url = _list_url(app_list, Notification)
    if notifications_url is None:
        return {"shown": False}
    rejected_url = _list_url(app_list, RejectedDelivery)
    # Whole seconds: the links repeat the moment, and short ones read better.
    now = timezone.now().replace(microsecond=0)
    cutoffs = [now - length for _, length in WINDOWS]
    notifications = _counts(
        Notification,
        cutoffs,
        received=Q(),
        failed=Q(processing_state=ProcessingState.FAILED),
    )
    refused = _counts(RejectedDelivery, cutoffs, refused=Q()) if rejected_url else {}

    def figure(
        counts: Mapping[str, Mapping[str, int]],
        kind: str,
        window: int,
        names: tuple[str, ...],
        url: str,
        **more: str,
    ) -> Figure:
        count = sum(counts.get(name, {}).get(f"{kind}_{window}", 0) for name in names)
        query = {"received_at__gte": cutoffs[window].isoformat(), **_account_query(names), **more}
        return Figure(count, f"{url}?{urlencode(query)}")

    rows = [
        AccountRow(
            name=_shown_name(account),
            configured=configured,
            windows=tuple(
                WindowFigures(
                    heading=heading,
                    received=figure(notifications, "received", i, names, notifications_url),
                    failed=figure(
                        notifications,
                        "failed",
                        i,
                        names,
                        notifications_url,
                        processing_state=ProcessingState.FAILED.value,
                    ),
                    refused=figure(refused, "refused", i, names, rejected_url)
                    if rejected_url
                    else None,
                )
                for i, (heading, _) in enumerate(WINDOWS)
            ),
        )
        for account, names, configured in _accounts([*notifications, *refused])
    ]
    return {
        "shown": True,
        "refused_shown": rejected_url is not None,
        "rows": rows,
        "counted_at": now,
    }


def _list_url(app_list: Sequence[Mapping[str, Any]], model: type[Model]) -> str | None:
    """The model's admin list, when the admin offers it to this user (view or change
    permission, as its ``has_view_permission`` says)."""
    for app in app_list:
        for entry in app.get("models", ()):
            if entry.get("model") is model:
                return entry.get("admin_url") or None
    return None


def _counts(
    model: type[Model], cutoffs: Sequence[datetime], **kinds: Q
) -> dict[str, dict[str, int]]:
    """Per recorded account, a count per kind and window (``failed_0``: failed in the
    first window): one grouped query over the rows of the widest window."""
    columns = {
        f"{kind}_{i}": Count("pk", filter=Q(received_at__gte=cutoff) & condition)
        for kind, condition in kinds.items()
        for i, cutoff in enumerate(cutoffs)
    }
    rows = (
        model._default_manager.filter(received_at__gte=min(cutoffs))
        .order_by()  # no ORDER BY: the counts need no sort
        .values("account")
        .annotate(**columns)
    )
    return {str(row.pop("account")): row for row in rows}


def _accounts(counted: Iterable[str]) -> list[tuple[str, tuple[str, ...], bool]]:
    """``(account, the values its rows carry, configured)`` for each line: the accounts
    health lists, in its order, with zeros when nothing came; then any account the rows
    carry that no endpoint records any more (one removed from the setting), so that no
    counted row goes unshown."""
    configured: list[str] = []
    for endpoint in endpoints():
        if endpoint.account not in configured:  # the default account has two URLs
            configured.append(endpoint.account)
    lines = [(account, recorded_names(account), True) for account in configured]
    covered = {name for _, names, _ in lines for name in names}
    lines += [(account, (account,), False) for account in sorted(set(counted) - covered)]
    return lines


def _account_query(names: tuple[str, ...]) -> dict[str, str]:
    """The lists' query string parameters for rows carrying one of ``names``."""
    # Field lookups, not the notification list's account filter: that one reads "" as
    # "all", and ignores its parameter while fewer than two accounts are configured.
    if len(names) > 1:  # the default account's rows, and those stored before it existed
        return {"account__in": ",".join(names)}
    return {"account__exact": names[0]}


def _shown_name(account: str) -> str:
    """The account's name; for "" (the plain endpoint while no account is called
    ``default``) the words health uses."""
    return account or endpoint_name(account)
