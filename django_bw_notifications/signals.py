"""Signals fired for every stored notification, after its row is committed.

Every receiver is called with ``sender=Notification`` (the model class),
``notification=`` the stored :class:`~django_bw_notifications.models.Notification` and
``replay=`` (``True`` when re-dispatched from admin or a command), and must accept
``**kwargs``. A receiver that raises does not stop the others; its error and traceback
are recorded on the notification (``processing_state="failed"``), which can then be
replayed. Each receiver runs in its own transaction: if it raises, its own database
writes are rolled back, never the notification.

Names compare case-insensitively: ``order_signal("PORTINS", "complete") is
order_signal("portins", "COMPLETE")``. Friendly module attributes exist for every order
type, status and event in :mod:`django_bw_notifications.catalog`::

    signals.portins            # is order_signal("portins")
    signals.portins_complete   # is order_signal("portins", "COMPLETE")
    signals.messaging_lost     # is event_signal("MESSAGING_LOST")

Firing order for one notification: ``notification_received``, the order type's signal,
the order type + status signal, the event type's signal, ``note_added``; then the state
it changed: ``order_changed`` (``sender=Order``) and one ``number_changed`` per number
(``sender=AccountNumber``), with their own kwargs (see each).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from django.dispatch import Signal

from . import catalog

__all__ = [
    "all_signals",
    "event_signal",
    "health_problem",
    "health_recovered",
    "note_added",
    "notification_received",
    "number_changed",
    "on_event",
    "on_order",
    "order_changed",
    "order_signal",
]

#: Fires for every new (non-duplicate) notification, order or event, known or not.
#: kwargs: ``notification``, ``replay``.
notification_received = Signal()

#: Fires when a notification carries a ``Note`` (a note was added to the order), after
#: the order signals. kwargs: ``notification``, ``replay``.
note_added = Signal()

#: Fires once per change of an order in the order book (its status, or its FOC date),
#: in the dispatch of the notification that changed it, before that notification's own
#: signals. ``sender=Order``; kwargs: ``order`` (the
#: :class:`~django_bw_notifications.models.Order`, already changed),
#: ``previous_status`` (``""`` for an order seen for the first time), ``notification``,
#: ``replay``.
order_changed = Signal()

#: Fires once per change of a number in the inventory (its state, or its
#: ``messaging_lost`` flag), in the dispatch of the notification that changed it.
#: ``sender=AccountNumber``; kwargs: ``number`` (the
#: :class:`~django_bw_notifications.models.AccountNumber`, already changed),
#: ``previous_state`` (``""`` for a number seen for the first time), ``notification``,
#: ``replay``.
number_changed = Signal()

#: Fires once when ``bw_notifications_health`` first finds a problem (a silent account,
#: stuck or failed notifications), not again while it lasts. ``sender=Problem``
#: (:class:`django_bw_notifications.ops.health.Problem`); kwargs: ``problem``. Connect it
#: to post to Slack or page someone; a receiver that raises is logged and the others run.
health_problem = Signal()

#: Fires once when a problem announced by :data:`health_problem` has cleared.
#: ``sender=Problem``; kwargs: ``problem`` (as it was raised).
health_recovered = Signal()

_lock = threading.Lock()
_order_signals: dict[tuple[str, str | None], Signal] = {}
_event_signals: dict[str, Signal] = {}

_Receiver = TypeVar("_Receiver", bound=Callable[..., Any])


def order_signal(order_type: str, status: str | None = None) -> Signal:
    """The signal for ``order_type`` (any status), or for ``order_type`` and ``status``.

    Any name works, catalogued or not (Bandwidth adds order types and states over time);
    the same signal is returned for every spelling that differs only in case.
    kwargs sent: ``notification``, ``replay``.
    """
    key = (_key(order_type, "order_type"), None if status is None else _key(status, "status"))
    return _get_or_create(_order_signals, key)


def event_signal(event_type: str) -> Signal:
    """The signal for notifications of ``event_type`` (such as ``MESSAGING_LOST``).

    kwargs sent: ``notification``, ``replay``.
    """
    return _get_or_create(_event_signals, _key(event_type, "event_type"))


def on_order(
    order_type: str, status: str | None = None, *, strict: bool = True, **connect_kwargs: Any
) -> Callable[[_Receiver], _Receiver]:
    """Decorator connecting a receiver to :func:`order_signal`.

    With ``strict`` (the default), a name missing from the catalogue raises
    ``ValueError`` at import time, so ``@on_order("portin", "complete")`` fails loudly
    instead of never firing. Pass ``strict=False`` for types Bandwidth added since.
    """
    if strict and not catalog.is_known_order_type(order_type):
        raise ValueError(
            f"unknown order type {order_type!r}; known: {', '.join(catalog.ORDER_STATUSES)} "
            "(pass strict=False for a type not in the catalogue)"
        )
    if strict and status is not None and not catalog.is_known_status(order_type, status):
        known = _known_statuses(order_type)
        raise ValueError(
            f"unknown status {status!r} for {order_type!r}; known: {', '.join(known)} "
            "(pass strict=False for a status not in the catalogue)"
        )
    signal = order_signal(order_type, status)

    def decorator(func: _Receiver) -> _Receiver:
        signal.connect(func, **connect_kwargs)
        return func

    return decorator


def on_event(
    event_type: str, *, strict: bool = True, **connect_kwargs: Any
) -> Callable[[_Receiver], _Receiver]:
    """Decorator connecting a receiver to :func:`event_signal` (see :func:`on_order`)."""
    if strict and not catalog.is_known_event_type(event_type):
        raise ValueError(
            f"unknown event type {event_type!r}; known: {', '.join(catalog.EVENT_TYPES)} "
            "(pass strict=False for an event type not in the catalogue)"
        )
    signal = event_signal(event_type)

    def decorator(func: _Receiver) -> _Receiver:
        signal.connect(func, **connect_kwargs)
        return func

    return decorator


def signals_for(order_type: str, status: str, event_type: str, has_note: bool) -> list[Signal]:
    """The signals one notification fires, in order; only those that exist are looked up.

    A signal nobody asked for has no receivers, so it is not created here.
    """
    found: list[Signal | None] = [notification_received]
    if order_type.strip():
        type_key = catalog.normalise_name(order_type)
        found.append(_order_signals.get((type_key, None)))
        if status.strip():
            found.append(_order_signals.get((type_key, catalog.normalise_name(status))))
    if event_type.strip():
        found.append(_event_signals.get(catalog.normalise_name(event_type)))
    if has_note:
        found.append(note_added)
    return [signal for signal in found if signal is not None]


def all_signals() -> dict[str, Signal]:
    """Every signal by friendly name: the catalogued ones and any asked for by name so far.

    ``{"notification_received": …, "portins": …, "portins_complete": …, …,
    "note_added": …}``; used by :func:`django_bw_notifications.testing.capture_signals`.
    """
    named = {"notification_received": notification_received}
    named.update((name, factory()) for name, factory in _FRIENDLY.items())
    with _lock:
        order_signals = list(_order_signals.items())
        event_signals = list(_event_signals.items())
    for (order_type, status), signal in order_signals:
        parts = (order_type,) if status is None else (order_type, status)
        named.setdefault(_attribute_name(*parts), signal)
    for event_type, signal in event_signals:
        named.setdefault(_attribute_name(event_type), signal)
    named["note_added"] = note_added
    named["order_changed"] = order_changed
    named["number_changed"] = number_changed
    return named


def _key(name: str, what: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{what} must be a non-empty string, got {name!r}")
    return catalog.normalise_name(name)


def _get_or_create(registry: dict[Any, Signal], key: Any) -> Signal:
    signal = registry.get(key)
    if signal is None:
        with _lock:
            signal = registry.setdefault(key, Signal())
    return signal


def _known_statuses(order_type: str) -> list[str]:
    wanted = catalog.normalise_name(order_type)
    return [
        status
        for name, statuses in catalog.ORDER_STATUSES.items()
        if catalog.normalise_name(name) == wanted
        for status in statuses
    ]


def _attribute_name(*parts: str) -> str:
    return "_".join(catalog.normalise_name(part) for part in parts)


# Friendly names, resolved on first access (PEP 562) so the catalogue stays the only list.
_FRIENDLY: dict[str, Callable[[], Signal]] = {}
for _type, _statuses in catalog.ORDER_STATUSES.items():
    _FRIENDLY[_attribute_name(_type)] = partial(order_signal, _type)
    for _status in _statuses:
        _FRIENDLY[_attribute_name(_type, _status)] = partial(order_signal, _type, _status)
for _event in catalog.EVENT_TYPES:
    _FRIENDLY[_attribute_name(_event)] = partial(event_signal, _event)


def __getattr__(name: str) -> Signal:
    try:
        return _FRIENDLY[name]()
    except KeyError:
        raise AttributeError(
            f"module {__name__!r} has no attribute {name!r} (friendly signal names are "
            "<ordertype>, <ordertype>_<status> or <event>, lower-case, from the catalogue)"
        ) from None


def __dir__() -> list[str]:
    return sorted([*globals(), *_FRIENDLY])
