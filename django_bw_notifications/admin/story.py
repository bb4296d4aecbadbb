"""The detail page's story of one notification: what failed (first, when it did), its
numbers page by page, its order's timeline, other notifications of the same numbers, and
its XML for display."""

from __future__ import annotations

import math
from typing import Any

from ..models import Notification, ProcessingState, TelephoneNumber
from ..parsing import pretty_xml

#: Telephone numbers shown per page of a notification's detail.
NUMBERS_PER_PAGE = 100
#: Rows shown in the order timeline and the same-numbers table of a detail page.
RELATED_ROWS = 50
#: "Other notifications of these numbers" looks at this many of a notification's numbers
#: and at most this many notification ids.
SAME_NUMBERS_CHECKED = 100
SAME_NUMBERS_IDS = 1_000
#: The body shown pretty-printed is cut at this many characters.
XML_DISPLAY_LIMIT = 200_000


def failure(notification: Notification) -> dict[str, Any] | None:
    """What the top of a failed notification's page says: which receivers raised what,
    on which attempt and when (None unless its receivers failed).

    From its latest recorded attempt; a notification failed before attempts were recorded
    has only ``last_error``, which is shown whole.
    """
    if notification.processing_state != ProcessingState.FAILED:
        return None
    latest = notification.dispatch_attempts.order_by("-number").first()
    receivers = [
        {"receiver": f.get("receiver", "?"), "error": f.get("error", "")}
        for f in (latest.failures if latest else [])
        if isinstance(f, dict)
    ]
    return {
        "receivers": receivers,
        "error": "" if receivers else notification.last_error,
        "when": latest.started_at if latest else notification.last_attempt_at,
        "attempt": latest.number if latest else notification.attempts,
        "attempts": notification.attempts,
        "trigger": latest.trigger if latest else "",
    }


def numbers_page(notification: Notification, requested: str | None) -> dict[str, Any]:
    total = notification.telephone_number_count
    pages = max(1, math.ceil(total / NUMBERS_PER_PAGE))
    try:
        page = min(max(1, int(requested or 1)), pages)
    except ValueError:
        page = 1
    start = (page - 1) * NUMBERS_PER_PAGE
    rows = list(notification.telephone_numbers.order_by("id")[start : start + NUMBERS_PER_PAGE])
    return {
        "rows": rows,
        "total": total,
        "page": page,
        "pages": pages,
        "first": start + 1,
        "last": start + len(rows),
        "previous": page - 1 if page > 1 else None,
        "next": page + 1 if page < pages else None,
    }


def timeline(notification: Notification) -> dict[str, Any] | None:
    """Every notification of the same order, oldest first (None for events)."""
    if not notification.order_id:
        return None
    same_order = Notification.objects.of_order(notification.order_id, notification.order_type)
    rows = list(same_order[: RELATED_ROWS + 1])
    return {
        "rows": rows[:RELATED_ROWS],
        "more": len(rows) > RELATED_ROWS,
        "total": same_order.count() if len(rows) > RELATED_ROWS else len(rows),
    }


def same_numbers(notification: Notification) -> dict[str, Any]:
    """Other notifications listing this one's numbers, oldest first.

    Matched in E.164 form (as sent when a number has none), on the first
    ``SAME_NUMBERS_CHECKED`` numbers: past that (a 5,000-number order), each number's
    own search link is the better question. Ids are collected first so that the
    planner cannot choose to walk every notification by date.
    """
    mine = list(
        notification.telephone_numbers.order_by("id").values_list("number", "e164")[
            :SAME_NUMBERS_CHECKED
        ]
    )
    e164s = {e164 for _, e164 in mine if e164}
    as_sent = {number for number, e164 in mine if not e164}
    ids = list(
        TelephoneNumber.objects.matching(e164s, as_sent)
        .exclude(notification_id=notification.pk)
        .order_by("notification_id")
        .values_list("notification_id", flat=True)
        .distinct()[:SAME_NUMBERS_IDS]
    )
    rows = list(
        Notification.objects.filter(pk__in=ids).order_by("received_at", "id")[: RELATED_ROWS + 1]
    )
    return {
        "rows": rows[:RELATED_ROWS],
        "more": len(rows) > RELATED_ROWS,
        "partial": notification.telephone_number_count > SAME_NUMBERS_CHECKED,
        "checked": SAME_NUMBERS_CHECKED,
        "unchecked": max(notification.telephone_number_count - SAME_NUMBERS_CHECKED, 0),
    }


def raw_xml(text: str) -> dict[str, Any]:
    shown = text[:XML_DISPLAY_LIMIT]
    return {
        "pretty": pretty_xml(shown) if len(text) <= XML_DISPLAY_LIMIT else shown,
        "received": shown,
        "truncated": len(text) > XML_DISPLAY_LIMIT,
        "length": len(text),
    }
