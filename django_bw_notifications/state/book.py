"""Keep the order book and the number inventory, inside the dispatch transaction.

:func:`learn` runs once per dispatch of a notification, after its claim and before any
receiver, in the same transaction: what it writes commits with the receivers' work and
the recorded attempt, exactly once, or rolls back with them (a worker killed, a claim
lost). It decides three things:

- **News or a copy.** A notification that tells an order state the book already holds
  (the same :func:`~django_bw_notifications.accounts.news_key` as a notification already
  dispatched for that order, while the order is still in that state or the copy is older)
  is a copy: linked to the first (``copy_of``), counted in its ``duplicate_count``, and
  its receivers do not run. Whichever way the first arrived (a delivery, reconcile, the
  spool drain).
- **The order's change.** Its status follows the notification with the latest moment
  (Bandwidth's ``LastModifiedDate``, else our arrival): an older one arriving late never
  moves it back. ``customer_order_id`` and ``actual_foc_date`` follow the latest that
  carries one. A change is recorded (:class:`~.models.OrderChange`) and announced
  (``order_changed``).
- **The numbers' changes**, by :mod:`.transitions`, with the same rule of moments;
  each recorded (:class:`~.models.AccountNumberChange`) and announced (``number_changed``).

A later dispatch of the same notification (a replay, a retry) changes nothing again: it
announces the changes the first one recorded, with ``replay=True``.
:func:`learn` is also what ``bw_notifications_rebuild_state`` runs, without
announcements, over the stored notifications in the order of their moments, so the
rebuilt tables are the ones live processing keeps whatever order deliveries came in.

Over the usual size on purpose: the three decisions share one rule of moments (the
latest by ``LastModifiedDate`` wins, the older never moves a row back) and the copy
decision gates the others; kept in one module, that rule is read once, beside each use.
Its SQL shapes are in :mod:`.writes`, its table of transitions in :mod:`.transitions`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import F, Max
from django.db.models.functions import Coalesce, Lower
from django.dispatch import Signal
from django.utils import timezone

from .. import signals
from ..accounts import news_key
from ..catalog import is_final_status, normalise_name
from ..models import Notification, TelephoneNumber
from .models import AccountNumber, AccountNumberChange, NumberState, Order, OrderChange
from .transitions import flags_messaging_lost, number_transition
from .writes import FirstChange, insert_new

__all__ = ["Announcement", "Learned", "concerns", "learn", "moment_of"]


@dataclass(frozen=True, slots=True)
class Announcement:
    """One state signal to send: the signal, its sender and its kwargs."""

    signal: Signal
    sender: type[Any]
    kwargs: dict[str, Any]


@dataclass
class Learned:
    """What one notification taught the book."""

    #: The notification that first told the same news; its receivers then do not run.
    copy_of: Notification | None = None
    #: The state signals to send, in order (``order_changed``, then ``number_changed``).
    announcements: list[Announcement] = field(default_factory=list)


def concerns(notification: Notification) -> bool:
    """True when the book has something to learn from ``notification`` (an order with an
    id, or an event that flags numbers): its dispatch then takes a transaction even
    without receivers."""
    if notification.order_type and notification.order_id:
        return True
    return bool(notification.event_type) and flags_messaging_lost(notification.event_type)


def moment_of(notification: Notification) -> datetime:
    """When Bandwidth says the notification's state began: ``LastModifiedDate``, else
    when it reached us."""
    return notification.last_modified_date or notification.received_at


def learn(
    notification: Notification,
    db: str,
    *,
    first: bool = True,
    rebuilding: bool = False,
    linked_by_record: bool = False,
) -> Learned:
    """Bring the book up to date with ``notification`` (see the module's docstring).

    ``first``: the notification's first dispatch that commits (``attempts == 0``); a
    later one only repeats the recorded changes' announcements. ``rebuilding``: the
    rebuild's pass over the stored history, which announces nothing and keeps the copy
    decisions live processing made (``copy_of``) instead of making them again.
    ``linked_by_record``: the notification's links (``order_entry``, ``copy_of``) are
    set on the instance only, for the dispatch's record to write (one statement fewer).
    """
    if not first:
        return _recorded(notification, db)
    learned = Learned()
    announce = not rebuilding
    if notification.order_type and notification.order_id:
        order = _order(notification, db, learned, announce, rebuilding, linked_by_record)
        if learned.copy_of is None:
            target = number_transition(notification.order_type, notification.status)
            if target is not None:
                numbers = _numbers(notification, db, TelephoneNumber.Kind.COMPLETED)
                _move(notification, db, order, numbers, target, learned, announce)
    elif notification.event_type and flags_messaging_lost(notification.event_type):
        _flag(notification, db, _numbers(notification, db, None), learned, announce)
    return learned


# --- the order book ------------------------------------------------------------------


def _order(
    notification: Notification,
    db: str,
    learned: Learned,
    announce: bool,
    rebuilding: bool,
    defer: bool,
) -> Order:
    moment = moment_of(notification)
    # Through the unique index (account, LOWER(order_type), order_id): order types
    # compare case-insensitively.
    orders = Order.objects.using(db).alias(type_key=Lower("order_type")).select_for_update()
    identity = {
        "account": notification.account,
        "type_key": notification.order_type.lower(),
        "order_id": notification.order_id,
    }
    order = orders.filter(**identity).first()
    link: dict[str, Any] = {}
    if order is None:
        fresh = Order(
            account=notification.account,
            order_type=notification.order_type,
            order_id=notification.order_id,
            status=notification.status,
            status_since=moment,
            customer_order_id=notification.customer_order_id,
            actual_foc_date=notification.actual_foc_date,
            first_notified_at=notification.received_at,
            last_notified_at=notification.received_at,
            closed=is_final_status(notification.order_type, notification.status),
        )
        # Another dispatch may create it at the same moment: the unique constraint
        # decides, and the loser reads (and locks) the winner's row, then goes on as
        # for any order already there.
        first_change = FirstChange(
            OrderChange,
            "order",
            {
                "notification": notification.pk,
                "previous_status": "",
                "new_status": fresh.status,
                "changed_at": moment,
            },
        )
        inserted = insert_new(db, [fresh], "order_id", first_change)
        if inserted:
            # Created, and its first change recorded, in one statement.
            order, ours, recorded = fresh, True, True
        else:
            if inserted is None:
                Order.objects.using(db).bulk_create([fresh], ignore_conflicts=True)
            order = orders.filter(**identity).get()
            ours, recorded = inserted is None and _same_row(order, fresh), False
        if ours:
            _order_changed(order, "", notification, moment, db, learned, announce, recorded)
            if rebuilding and notification.copy_of_id is not None:
                learned.copy_of = Notification(pk=notification.copy_of_id)
            return _linked(notification, db, order, link, defer)
    first: Notification | None
    if rebuilding:
        copied = notification.copy_of_id
        first = None if copied is None else Notification(pk=copied)
    else:
        first = _first_telling(notification, db, order, moment)
        if first is not None:
            Notification.objects.using(db).filter(pk=first.pk).update(
                duplicate_count=F("duplicate_count") + 1, last_duplicate_at=timezone.now()
            )
            link["copy_of"] = first
    if first is not None:
        learned.copy_of = first
        fields, previous = _touched(order, notification), None
    else:
        news, previous = _news(order, notification, moment, db)
        fields = _touched(order, notification) + news
    if fields:
        order.save(using=db, update_fields=sorted(set(fields)))
    if previous is not None:
        _order_changed(order, previous, notification, moment, db, learned, announce)
    return _linked(notification, db, order, link, defer)


def _same_row(order: Order, fresh: Order) -> bool:
    """True when the row read back is the one just inserted (not a concurrent one)."""
    return (
        order.status == fresh.status
        and order.status_since == fresh.status_since
        and order.first_notified_at == fresh.first_notified_at
    )


def _linked(
    notification: Notification, db: str, order: Order, link: dict[str, Any], defer: bool
) -> Order:
    """Link the notification to its order (and to the first telling, for a copy).
    ``defer``: on the instance only; the dispatch's record writes them."""
    if not defer:
        Notification.objects.using(db).filter(pk=notification.pk).update(order_entry=order, **link)
    notification.order_entry = order
    if "copy_of" in link:
        notification.copy_of = link["copy_of"]
    return order


def _first_telling(
    notification: Notification, db: str, order: Order, moment: datetime
) -> Notification | None:
    """The notification already dispatched for ``order`` that told the same news, when
    ``notification`` would teach nothing new (the order is still in that state, or the
    notification is older than the order's state); else None."""
    key = news_key(notification.status, notification.actual_foc_date, notification.note)
    still_there = normalise_name(order.status) == key[0]
    if not still_there and moment >= order.status_since:
        return None
    candidates = (
        Notification.objects.using(db)
        .filter(order_entry=order, copy_of__isnull=True, status__iexact=notification.status)
        .exclude(pk=notification.pk)
        .order_by("received_at", "id")
        .only("id", "status", "actual_foc_date", "note")
    )
    for candidate in candidates:
        if news_key(candidate.status, candidate.actual_foc_date, candidate.note) == key:
            return candidate
    return None


def _latest_telling(db: str, order: Order, name: str) -> datetime:
    """The moment of the latest notification of ``order`` already linked that carries
    ``name`` (the order's current value of it came from there)."""
    carrying = Notification.objects.using(db).filter(order_entry=order, copy_of__isnull=True)
    carrying = carrying.exclude(**{name: ""}) if name == "customer_order_id" else carrying
    carrying = (
        carrying.filter(actual_foc_date__isnull=False) if name == "actual_foc_date" else carrying
    )
    latest = carrying.aggregate(latest=Max(Coalesce("last_modified_date", "received_at")))
    return latest["latest"] or order.status_since


def _touched(order: Order, notification: Notification) -> list[str]:
    """First and last news (the earliest and latest arrival of any of its
    notifications); the fields changed."""
    received = notification.received_at
    fields = []
    if received < order.first_notified_at:
        order.first_notified_at = received
        fields.append("first_notified_at")
    if received > order.last_notified_at:
        order.last_notified_at = received
        fields.append("last_notified_at")
    return fields


def _news(
    order: Order, notification: Notification, moment: datetime, db: str
) -> tuple[list[str], str | None]:
    """Apply a notification that is news to the order: the fields changed, and the
    status before when it changed the order's status or FOC date (else None)."""
    fields: list[str] = []
    if moment < order.status_since:
        # Older than the order's status: it moves nothing, but its customer order id or
        # FOC date may still be the latest one told (the newer notifications lacked it).
        # A FOC date learned so is a change of the order like any other: recorded and
        # announced (a late FOC behind a newer note), as the rebuild records it.
        for name, value in (
            ("customer_order_id", notification.customer_order_id),
            ("actual_foc_date", notification.actual_foc_date),
        ):
            current = getattr(order, name)
            if (
                value
                and value != current
                and (not current or _latest_telling(db, order, name) < moment)
            ):
                setattr(order, name, value)
                fields.append(name)
        return fields, (order.status if "actual_foc_date" in fields else None)
    previous = order.status
    moved = normalise_name(previous) != normalise_name(notification.status)
    new_foc = (
        notification.actual_foc_date is not None
        and notification.actual_foc_date != order.actual_foc_date
    )
    order.status = notification.status
    order.status_since = moment
    order.closed = is_final_status(order.order_type, order.status)
    fields += ["status", "status_since", "closed"]
    if notification.customer_order_id and notification.customer_order_id != order.customer_order_id:
        order.customer_order_id = notification.customer_order_id
        fields.append("customer_order_id")
    if new_foc:
        order.actual_foc_date = notification.actual_foc_date
        fields.append("actual_foc_date")
    return fields, (previous if moved or new_foc else None)


def _order_changed(
    order: Order,
    previous: str,
    notification: Notification,
    moment: datetime,
    db: str,
    learned: Learned,
    announce: bool,
    recorded: bool = False,
) -> None:
    """Record (unless ``recorded`` already, with the order's insert) and announce."""
    if not recorded:
        OrderChange.objects.using(db).create(
            order=order,
            notification=notification,
            previous_status=previous,
            new_status=order.status,
            changed_at=moment,
        )
    if announce:
        learned.announcements.append(
            Announcement(
                signals.order_changed,
                Order,
                {"order": order, "previous_status": previous, "notification": notification},
            )
        )


# --- the number inventory ------------------------------------------------------------


def _numbers(notification: Notification, db: str, kind: str | None) -> list[str]:
    """The notification's numbers in E.164 (those without one cannot be tracked), in
    order, each once; ``kind`` None: either list (an event's older form).

    A notification just stored in this process carries them (``stored_numbers``, set by
    the store): no statement. Otherwise (a sweep, a replay, a task worker) they are read.
    """
    in_memory = notification.stored_numbers
    if in_memory is not None:
        found: Iterable[str] = (
            tn.e164 for tn in in_memory if tn.e164 and (kind is None or tn.kind == kind)
        )
        return list(dict.fromkeys(found))
    rows = TelephoneNumber.objects.using(db).filter(notification_id=notification.pk)
    if kind is not None:
        rows = rows.filter(kind=kind)
    found = rows.exclude(e164="").order_by("id").values_list("e164", flat=True)
    return list(dict.fromkeys(found))


def _locked_numbers(db: str, account: str, numbers: Iterable[str]) -> dict[str, AccountNumber]:
    rows = AccountNumber.objects.using(db).select_for_update()
    return {row.e164: row for row in rows.filter(account=account, e164__in=list(numbers))}


def _with_new_rows(
    db: str,
    numbers: list[str],
    template: dict[str, Any],
    notification: Notification,
    moment: datetime,
) -> tuple[dict[str, AccountNumber], set[str], bool]:
    """Every number's row, locked; the set of those this call created; whether their
    first changes are recorded already (with the insert). ``template``: the fields of a
    row created for a number not there yet (all alike but the number); rows are built
    only for those."""
    account = template["account"]
    existing = _locked_numbers(db, account, numbers)
    missing = [number for number in numbers if number not in existing]
    if not missing:
        return existing, set(), False
    # In the numbers' order, as the rows are locked: two dispatches whose numbers
    # overlap wait for each other instead of deadlocking.
    fresh = {number: AccountNumber(e164=number, **template) for number in sorted(missing)}
    sample = next(iter(fresh.values()))
    first_change = FirstChange(
        AccountNumberChange,
        "number",
        {
            "notification": notification.pk,
            "previous_state": "",
            "new_state": sample.state,
            "messaging_lost": sample.messaging_lost,
            "changed_at": moment,
        },
    )
    inserted = insert_new(db, list(fresh.values()), "e164", first_change, alike=True)
    if inserted is not None:
        # The rest were created by a concurrent dispatch meanwhile: theirs, locked.
        rest = [number for number in missing if number not in inserted]
        theirs = _locked_numbers(db, account, rest) if rest else {}
        return {**existing, **inserted, **theirs}, set(inserted), True
    AccountNumber.objects.using(db).bulk_create(list(fresh.values()), ignore_conflicts=True)
    created = _locked_numbers(db, account, missing)
    ours = {
        number
        for number, row in created.items()
        if row.state == fresh[number].state and row.state_since == fresh[number].state_since
    }
    return {**existing, **created}, ours, False


#: Applies a notification to one existing row at the notification's moment: None when it
#: leaves the row as it is; else the state before, and whether that is a change to
#: record and announce (the row is saved either way).
Step = Callable[[AccountNumber, datetime], tuple[str, bool] | None]


def _apply(
    notification: Notification,
    db: str,
    numbers: list[str],
    template: dict[str, Any],
    step: Step,
    saved: list[str],
    learned: Learned,
    announce: bool,
) -> None:
    """The inventory's one loop: every number's row found or created (``template``),
    ``step`` applied to those already there, the rows it touched saved (``saved``
    fields, one statement), the changes recorded and announced."""
    if not numbers:
        return
    moment = moment_of(notification)
    rows, created, recorded = _with_new_rows(db, numbers, template, notification, moment)
    changed: list[AccountNumber] = []
    changes: list[tuple[AccountNumber, str]] = []
    for number in numbers:
        row = rows[number]
        if number in created:
            changes.append((row, ""))
            continue
        outcome = step(row, moment)
        if outcome is None:
            continue
        changed.append(row)
        previous, is_change = outcome
        if is_change:
            changes.append((row, previous))
    if changed:
        AccountNumber.objects.using(db).bulk_update(changed, saved)
    _record_number_changes(
        changes, notification, moment, db, learned, announce, created if recorded else set()
    )


def _move(
    notification: Notification,
    db: str,
    order: Order,
    numbers: list[str],
    target: str,
    learned: Learned,
    announce: bool,
) -> None:
    """An order's completed numbers to ``target`` (by :mod:`.transitions`)."""

    def step(row: AccountNumber, moment: datetime) -> tuple[str, bool] | None:
        if row.state != NumberState.UNKNOWN and moment < row.state_since:
            return None  # older than the number's state: never moves it back
        previous, flag_before = row.state, row.messaging_lost
        row.state = target
        row.order_type, row.order_id = order.order_type, order.order_id
        row.state_since = moment
        if target == NumberState.IN_SERVICE and row.messaging_lost:
            # In service again after the event: the flag is over, unless the event
            # came after this order.
            lost_at = row.messaging_lost_at
            if lost_at is None or lost_at <= moment:
                row.messaging_lost = False
        return previous, previous != target or flag_before != row.messaging_lost

    template = {
        "account": notification.account,
        "state": target,
        "order_type": order.order_type,
        "order_id": order.order_id,
        "state_since": moment_of(notification),
    }
    saved = ["state", "order_type", "order_id", "state_since", "messaging_lost"]
    _apply(notification, db, numbers, template, step, saved, learned, announce)


def _flag(
    notification: Notification,
    db: str,
    numbers: list[str],
    learned: Learned,
    announce: bool,
) -> None:
    """An event's numbers flagged ``messaging_lost``."""

    def step(row: AccountNumber, moment: datetime) -> tuple[str, bool] | None:
        if moment < row.state_since and row.state != NumberState.UNKNOWN:
            return None  # the event is older than the state it would flag
        if row.messaging_lost_at is not None and moment <= row.messaging_lost_at:
            return None
        was = row.messaging_lost
        row.messaging_lost, row.messaging_lost_at = True, moment
        return row.state, not was

    moment = moment_of(notification)
    template = {
        "account": notification.account,
        "state": NumberState.UNKNOWN,
        "state_since": moment,
        "messaging_lost": True,
        "messaging_lost_at": moment,
    }
    saved = ["messaging_lost", "messaging_lost_at"]
    _apply(notification, db, numbers, template, step, saved, learned, announce)


def _record_number_changes(
    changes: list[tuple[AccountNumber, str]],
    notification: Notification,
    moment: datetime,
    db: str,
    learned: Learned,
    announce: bool,
    recorded: set[str],
) -> None:
    """Record the changes (but those of ``recorded``, the numbers whose first change
    was written with their insert) and announce them all."""
    if not changes:
        return
    unrecorded = [(row, previous) for row, previous in changes if row.e164 not in recorded]
    if unrecorded:
        AccountNumberChange.objects.using(db).bulk_create(
            [
                AccountNumberChange(
                    number=row,
                    notification=notification,
                    previous_state=previous,
                    new_state=row.state,
                    messaging_lost=row.messaging_lost,
                    changed_at=moment,
                )
                for row, previous in unrecorded
            ]
        )
    if announce:
        learned.announcements.extend(
            Announcement(
                signals.number_changed,
                AccountNumber,
                {"number": row, "previous_state": previous, "notification": notification},
            )
            for row, previous in changes
        )


# --- a later dispatch -----------------------------------------------------------------


def _recorded(notification: Notification, db: str) -> Learned:
    """What the first dispatch learned, read back: its copy link and its changes. Each
    announcement carries the order or number as that change left it (the status or state
    it set), not as later notifications have left it since: a replay of a disconnect
    tells of a disconnected number even when the number is in service again."""
    learned = Learned()
    if notification.copy_of_id is not None:
        learned.copy_of = Notification.objects.using(db).filter(pk=notification.copy_of_id).first()
        if learned.copy_of is not None:
            return learned
    order_changes = OrderChange.objects.using(db).filter(notification=notification)
    for change in order_changes.select_related("order").order_by("id"):
        order = copy.copy(change.order)
        order.status = change.new_status
        learned.announcements.append(
            Announcement(
                signals.order_changed,
                Order,
                {
                    "order": order,
                    "previous_status": change.previous_status,
                    "notification": notification,
                },
            )
        )
    number_changes = AccountNumberChange.objects.using(db).filter(notification=notification)
    for number_change in number_changes.select_related("number").order_by("id"):
        number = copy.copy(number_change.number)
        number.state = number_change.new_state
        number.messaging_lost = number_change.messaging_lost
        learned.announcements.append(
            Announcement(
                signals.number_changed,
                AccountNumber,
                {
                    "number": number,
                    "previous_state": number_change.previous_state,
                    "notification": notification,
                },
            )
        )
    return learned
