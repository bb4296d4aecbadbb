"""Which notification moves a number where: the one table of the number inventory.

A number moves only on a *final* notification of an order, and only its completed
numbers (``CompletedTelephoneNumbers``) move: a FAILED order lists the numbers it tried,
which did not change. ``MESSAGING_LOST`` is not a state but a flag on the number (set by
the event, cleared when an order puts the number in service again). Names compare
case-insensitively, as everywhere. ``docs/orders-and-numbers.md`` shows the same table;
a test checks they agree.

Out-of-order notifications never move a number back: a transition applies only when
its moment (Bandwidth's ``LastModifiedDate``, else our arrival) is not older than the
moment of the number's current state (:mod:`.book`).
"""

from __future__ import annotations

from collections.abc import Mapping

from ..catalog import normalise_name
from .models import NumberState

__all__ = ["FLAGGING_EVENTS", "NUMBER_TRANSITIONS", "flags_messaging_lost", "number_transition"]

#: (order type, status) → the state its completed numbers move to.
NUMBER_TRANSITIONS: Mapping[tuple[str, str], str] = {
    ("orders", "COMPLETE"): NumberState.IN_SERVICE,
    ("orders", "PARTIAL"): NumberState.IN_SERVICE,
    ("portins", "COMPLETE"): NumberState.IN_SERVICE,
    ("portins", "PARTIAL"): NumberState.IN_SERVICE,
    ("importtnorders", "COMPLETE"): NumberState.IN_SERVICE,
    ("importtnorders", "PARTIAL"): NumberState.IN_SERVICE,
    ("disconnects", "COMPLETE"): NumberState.DISCONNECTED,
    ("disconnects", "PARTIAL"): NumberState.DISCONNECTED,
    ("portouts", "COMPLETE"): NumberState.PORTED_OUT,
}

#: Event types that set the ``messaging_lost`` flag on the numbers they name.
FLAGGING_EVENTS: frozenset[str] = frozenset({"MESSAGING_LOST"})

_BY_KEY = {
    (normalise_name(order_type), normalise_name(status)): state
    for (order_type, status), state in NUMBER_TRANSITIONS.items()
}
_FLAG_KEYS = frozenset(normalise_name(event) for event in FLAGGING_EVENTS)


def number_transition(order_type: str, status: str) -> str | None:
    """The state a notification of ``order_type`` in ``status`` moves its completed
    numbers to (any case), or None when it moves none."""
    return _BY_KEY.get((normalise_name(order_type), normalise_name(status)))


def flags_messaging_lost(event_type: str) -> bool:
    """True for an event (any case) that sets the ``messaging_lost`` flag."""
    return normalise_name(event_type) in _FLAG_KEYS
