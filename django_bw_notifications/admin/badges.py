"""How the admin colours a status and a processing state (colours live here, not in the
model): ``danger``, ``warning``, ``success`` or ``neutral``, as CSS classes ``bw-…``."""

from __future__ import annotations

from django.utils.html import format_html
from django.utils.safestring import SafeString

from ..catalog import status_label, status_tone, with_label
from ..models import Notification, ProcessingState

__all__ = ["processing_badge", "processing_tone", "status_badge", "status_tone"]

_PROCESSING_TONES: dict[str, str] = {
    ProcessingState.FAILED: "danger",
    ProcessingState.PROCESSED: "success",
}


def processing_tone(state: str) -> str:
    """Failed is ``danger``, processed ``success``, anything else ``neutral``."""
    return _PROCESSING_TONES.get(state, "neutral")


def status_badge(notification: Notification, *, limit: int | None = None) -> SafeString:
    """The status as a coloured badge ("-" without one), cut to ``limit`` characters with
    the whole status and its readable label on hover."""
    status = notification.status
    if not status:
        return SafeString("-")
    shown = status if limit is None or len(status) <= limit else status[: limit - 1] + "…"
    return format_html(
        '<span class="bw-badge bw-{}" title="{}">{}</span>',
        status_tone(status),
        with_label(status, status_label(status)),
        shown,
    )


def processing_badge(notification: Notification) -> SafeString:
    """The processing state as a coloured badge, with ``+N`` copies received."""
    badge = format_html(
        '<span class="bw-badge bw-{}">{}</span>',
        processing_tone(notification.processing_state),
        notification.get_processing_state_display(),
    )
    if notification.duplicate_count:
        return format_html(
            '{} <span title="copies received">+{}</span>', badge, notification.duplicate_count
        )
    return badge
