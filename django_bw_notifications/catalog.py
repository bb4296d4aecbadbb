"""The order types, statuses and event types Bandwidth is known to send.

One table, used by the signals module (friendly names), the admin filters and the
docs. It is a catalogue, not a whitelist: anything else Bandwidth sends is stored and
dispatched all the same (names stay open strings everywhere in this package).

Sources: Bandwidth's Numbers API webhook documentation (order-type/state table) and the
other states seen in Bandwidth's own material; see ``shared/BANDWIDTH.md`` section 4.
"""

from __future__ import annotations

#: Order type (as Bandwidth spells it) -> the statuses Bandwidth notifies for it.
ORDER_STATUSES: dict[str, tuple[str, ...]] = {
    "portins": (
        "PENDING_DOCUMENTS",
        "SUBMITTED",
        "FOC",
        "REQUESTED_SUPP",
        "COMPLETE",
        "CANCELLED",
        "EXCEPTION",
        "REQUESTED_CANCEL",
        "SNAPBACK",
    ),
    "orders": ("COMPLETE", "PARTIAL", "BACKORDERED", "FAILED", "SUBMITTED"),
    "portouts": (
        "COMPLETE",
        "NEW",
        "MODIFY",
        "SOA_PENDING",
        "SOA_CONFLICT",
        "CANCELLED",
    ),
    "disconnects": ("COMPLETE", "PARTIAL", "FAILED"),
    "dldas": ("RECEIVED", "PROCESSING", "COMPLETE", "PARTIAL", "FAILED"),
    "lsrorders": (
        "PENDING",
        "FOC",
        "EXCEPTION",
        "COMPLETE",
        "CANCELLED",
        "PARTIAL",
        "FAILED",
    ),
    "e911s": (
        "RECEIVED",
        "PROCESSING",
        "COMPLETE",
        "ADJUSTED_COMPLETE",
        "PARTIAL",
        "ADJUSTED_PARTIAL",
        "FAILED",
    ),
    "tnoptions": ("RECEIVED", "PROCESSING", "COMPLETE", "PARTIAL", "FAILED"),
    "externalTns": ("COMPLETE", "PARTIAL", "FAILED"),
    "lidb": ("PROCESSING", "COMPLETE", "PARTIAL", "FAILED"),
    "lidbs": ("PROCESSING", "COMPLETE", "PARTIAL", "FAILED"),
    "bulkPortins": (
        "DRAFT",
        "VALID_DRAFT_TNS",
        "INVALID_DRAFT_TNS",
        "IN_PROGRESS",
        "NEEDS_ATTENTION",
        "PARTIAL",
        "COMPLETED",
        "CANCELLED",
    ),
    "importtnorders": ("COMPLETE", "PARTIAL", "FAILED", "EXCEPTION"),
    "removeImportedTnOrders": ("PROCESSING", "COMPLETE", "PARTIAL", "FAILED"),
    "importVoiceTnOrders": ("COMPLETE", "PARTIAL", "FAILED", "EXCEPTION"),
    "removeImportedVoiceTnOrders": ("PROCESSING", "COMPLETE", "PARTIAL", "FAILED"),
    "csrs": ("COMPLETE", "FAILED", "ACTION_REQUIRED"),
    "emergencyNotificationGroup": ("COMPLETE", "FAILED"),
    "emergencyEndpointGroup": ("COMPLETE", "FAILED"),
    # Bandwidth spells this one both ways; both are listed so either is "known".
    "tollfreePortingValidations": ("PROCESSING", "FAILED", "COMPLETE", "CANCELLED"),
    "tollFreePortingValidations": ("PROCESSING", "FAILED", "COMPLETE", "CANCELLED"),
    "importToAccounts": ("PROCESSING", "COMPLETE", "PARTIAL", "FAILED"),
}

#: Event types Bandwidth documents for event subscriptions.
EVENT_TYPES: tuple[str, ...] = ("MESSAGING_LOST",)


def normalise_name(name: str) -> str:
    """Return the case-insensitive key for an order type, status or event type."""
    return name.strip().casefold()


def is_known_order_type(order_type: str) -> bool:
    """True when ``order_type`` (any case) is in the catalogue."""
    return normalise_name(order_type) in _ORDER_TYPE_KEYS


def is_known_status(order_type: str, status: str) -> bool:
    """True when ``status`` (any case) is catalogued for ``order_type`` (any case)."""
    return normalise_name(status) in _STATUS_KEYS.get(normalise_name(order_type), ())


def is_known_event_type(event_type: str) -> bool:
    """True when ``event_type`` (any case) is in the catalogue."""
    return normalise_name(event_type) in _EVENT_TYPE_KEYS


def all_statuses() -> tuple[str, ...]:
    """Every catalogued status once, in a stable order (for admin filters and docs)."""
    seen: dict[str, None] = {}
    for statuses in ORDER_STATUSES.values():
        for status in statuses:
            seen.setdefault(status, None)
    return tuple(seen)


#: Statuses after which an order changes no more, for order types that differ from
#: :data:`_FINAL_DEFAULT` (a port-in in EXCEPTION or FOC still moves; an order
#: BACKORDERED still completes).
FINAL_STATUSES: dict[str, tuple[str, ...]] = {
    "portins": ("COMPLETE", "CANCELLED"),
    "orders": ("COMPLETE", "PARTIAL", "FAILED"),
    "disconnects": ("COMPLETE", "PARTIAL", "FAILED"),
    "bulkPortins": ("COMPLETED", "PARTIAL", "CANCELLED"),
    "csrs": ("COMPLETE", "FAILED"),
}
_FINAL_DEFAULT = frozenset(
    {
        "complete",
        "completed",
        "adjusted_complete",
        "partial",
        "adjusted_partial",
        "failed",
        "cancelled",
    }
)


def final_status_keys() -> tuple[dict[str, frozenset[str]], frozenset[str]]:
    """Final statuses as normalised keys: by order type, and for every other type."""
    return dict(_FINAL_KEYS), _FINAL_DEFAULT


def is_final_status(order_type: str, status: str) -> bool:
    """True when an order of ``order_type`` in ``status`` will not change again (any case).

    Unknown order types use the common endings (complete, partial, failed, cancelled);
    reconciliation asks Bandwidth about every order that is not final.
    """
    finals = _FINAL_KEYS.get(normalise_name(order_type), _FINAL_DEFAULT)
    return normalise_name(status) in finals


#: How an operator should read a status at a glance (admin badges). Unlisted: "neutral".
_STATUS_TONES: dict[str, str] = {
    **dict.fromkeys(
        (
            "failed",
            "exception",
            "snapback",
            "soa_conflict",
            "invalid_draft_tns",
            "needs_attention",
            "action_required",
        ),
        "danger",
    ),
    **dict.fromkeys(
        (
            "partial",
            "adjusted_partial",
            "backordered",
            "requested_supp",
            "requested_cancel",
            "cancelled",
            "pending_documents",
        ),
        "warning",
    ),
    **dict.fromkeys(("complete", "completed", "adjusted_complete", "foc"), "success"),
}


def status_tone(status: str) -> str:
    """``"danger"``, ``"warning"``, ``"success"`` or ``"neutral"`` for a status (any case)."""
    return _STATUS_TONES.get(normalise_name(status), "neutral")


_ORDER_TYPE_KEYS = frozenset(normalise_name(t) for t in ORDER_STATUSES)
_EVENT_TYPE_KEYS = frozenset(normalise_name(e) for e in EVENT_TYPES)
_STATUS_KEYS: dict[str, frozenset[str]] = {}
for _type, _statuses in ORDER_STATUSES.items():
    _STATUS_KEYS[normalise_name(_type)] = _STATUS_KEYS.get(
        normalise_name(_type), frozenset()
    ) | frozenset(normalise_name(s) for s in _statuses)
_FINAL_KEYS = {
    normalise_name(t): frozenset(normalise_name(s) for s in statuses)
    for t, statuses in FINAL_STATUSES.items()
}
