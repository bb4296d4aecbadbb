"""Alerts: each health problem told once when it starts and once when it clears.

``bw_notifications_health`` (run from cron) calls :func:`announce`. A problem it has not
announced before is logged at ``ERROR`` on the ``django_bw_notifications.ops.alerts`` logger
(Django's ``mail_admins``, Sentry and log shippers pick that up) and sent as
:data:`~django_bw_notifications.signals.health_problem`; while it lasts, later runs stay
quiet; once it is gone, it is logged at ``INFO`` and sent as
:data:`~django_bw_notifications.signals.health_recovered`. What was announced is kept in
:class:`~django_bw_notifications.models.HealthAlert` rows, so every host and every run
agree, and two runs at once announce a problem once (its key is unique).
"""

from __future__ import annotations

import logging

from django.core import mail

from .. import signals
from .health import Health, Problem
from .models import HealthAlert

__all__ = ["AlertEmailHandler", "announce", "logger"]

#: The logger alerts go to: route its ``ERROR`` records to whoever must act.
logger = logging.getLogger(__name__)


def announce(health: Health) -> None:
    """Raise the problems of ``health`` not announced yet and clear those that are gone."""
    now = health.checked_at
    current = {problem.key: problem for problem in health.issues}
    known = {alert.key: alert for alert in HealthAlert.objects.all()}
    raised, cleared = [], []
    for key, problem in current.items():
        if key in known:
            continue
        _, created = HealthAlert.objects.get_or_create(
            key=key,
            defaults={
                "account": problem.account,
                "message": problem.message,
                "raised_at": now,
                "last_seen_at": now,
            },
        )
        if created:  # else another run raised it a moment ago
            raised.append(problem)
    ongoing = [current[key] for key in known if key in current]
    for problem in ongoing:  # its counts may have grown: the clearing says the last ones
        HealthAlert.objects.filter(key=problem.key).update(
            last_seen_at=now, message=problem.message
        )
    for key, alert in known.items():
        if key in current:
            continue
        deleted, _ = HealthAlert.objects.filter(pk=alert.pk).delete()
        if deleted:  # else another run cleared it a moment ago
            cleared.append(Problem(alert.key, alert.message, alert.account))
    # Told only once the rows say so: a run that fails before here tells nothing twice.
    for problem in raised:
        _tell(problem, started=True)
    for problem in cleared:
        _tell(problem, started=False)


def _tell(problem: Problem, *, started: bool) -> None:
    """Log the start (ERROR) or the end (INFO) of a problem and send its signal."""
    extra = {"problem": problem.key, "account": problem.account}
    if started:
        logger.error("Bandwidth notifications: %s", problem.message, extra=extra)
        signal, name = signals.health_problem, "health_problem"
    else:
        logger.info("Bandwidth notifications, cleared: %s", problem.summary, extra=extra)
        signal, name = signals.health_recovered, "health_recovered"
    # A Slack outage must not silence the e-mail, nor the next receiver.
    for receiver, result in signal.send_robust(sender=Problem, problem=problem):
        if isinstance(result, Exception):
            # Django's django.dispatch logger has already told it at ERROR, with the
            # traceback: this line only says which problem it was, once.
            logger.warning(
                "A receiver of %s (%s) raised %s; the others ran",
                name,
                getattr(receiver, "__qualname__", repr(receiver)),
                type(result).__name__,
                extra=extra,
            )


class AlertEmailHandler(logging.Handler):
    """Mails each alert to ``ADMINS``: the problem in the subject, its account and key in
    a few lines of body. Django's ``AdminEmailHandler`` would append an error report
    (the settings, about 12 KB) to every alert, made for a crashed request, not for
    "account 'east' has received nothing for 5 hours"."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            lines = [text, ""]
            for name in ("problem", "account"):
                value = getattr(record, name, "")
                if value:
                    lines.append(f"{name}: {value}")
            lines.append(f"logger: {record.name}, level: {record.levelname}")
            subject = " ".join(text.split())[:200]  # a header: one line
            # A mail failure is logging's to report (handleError), as for any handler.
            mail.mail_admins(subject, "\n".join(lines))
        except Exception:
            self.handleError(record)
