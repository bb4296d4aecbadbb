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


#: Readable labels shown beside Bandwidth's spelling (admin, docs); only where the
#: spelling alone does not say it. Keys as Bandwidth spells them; looked up in any case.
ORDER_TYPE_LABELS: dict[str, str] = {
    "portins": "port-in",
    "orders": "new number order",
    "portouts": "port-out",
    "disconnects": "disconnect",
    "dldas": "directory listing (DLDA)",
    "lsrorders": "local service request (LSR)",
    "e911s": "E911 address",
    "tnoptions": "number options",
    "externalTns": "external numbers",
    "lidb": "caller ID name (LIDB)",
    "lidbs": "caller ID name (LIDB)",
    "bulkPortins": "bulk port-in",
    "importtnorders": "import of hosted messaging numbers",
    "removeImportedTnOrders": "removal of imported numbers",
    "importVoiceTnOrders": "import of voice numbers",
    "removeImportedVoiceTnOrders": "removal of imported voice numbers",
    "csrs": "customer service record (CSR)",
    "emergencyNotificationGroup": "emergency notification group",
    "emergencyEndpointGroup": "emergency endpoint group",
    "tollfreePortingValidations": "toll-free porting validation",
    "importToAccounts": "import to another account",
}

#: Statuses whose spelling is an abbreviation or a term of the trade.
STATUS_LABELS: dict[str, str] = {
    "PENDING_DOCUMENTS": "waiting for documents",
    "FOC": "firm order commitment: the port date is set",
    "REQUESTED_SUPP": "supplement requested: correct the order",
    "REQUESTED_CANCEL": "cancellation requested",
    "EXCEPTION": "stopped: needs attention",
    "SNAPBACK": "snapback: returned to the previous carrier",
    "PARTIAL": "partly done",
    "BACKORDERED": "back-ordered: numbers not yet available",
    "SOA_PENDING": "waiting for the number portability database",
    "SOA_CONFLICT": "conflict in the number portability database",
    "NEW": "new port-out request",
    "MODIFY": "port-out request changed",
    "ADJUSTED_COMPLETE": "complete, the address adjusted",
    "ADJUSTED_PARTIAL": "partly done, the address adjusted",
    "VALID_DRAFT_TNS": "draft, its numbers valid",
    "INVALID_DRAFT_TNS": "draft, some numbers invalid",
    "NEEDS_ATTENTION": "needs attention",
    "ACTION_REQUIRED": "action required",
}

#: Event types, as :data:`EVENT_TYPES`.
EVENT_TYPE_LABELS: dict[str, str] = {
    "MESSAGING_LOST": "messaging moved to another provider",
}


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


def order_type_label(order_type: str) -> str:
    """The readable label of an order type (any case), or ``""`` when none is known."""
    return _ORDER_TYPE_LABEL_KEYS.get(normalise_name(order_type), "")


def status_label(status: str) -> str:
    """The readable label of a status (any case), or ``""`` when none is known."""
    return _STATUS_LABEL_KEYS.get(normalise_name(status), "")


def event_type_label(event_type: str) -> str:
    """The readable label of an event type (any case), or ``""`` when none is known."""
    return _EVENT_TYPE_LABEL_KEYS.get(normalise_name(event_type), "")


def with_label(name: str, label: str) -> str:
    """``"FOC (firm order commitment: …)"``: Bandwidth's spelling first, as sent, and the
    label beside it when there is one."""
    return f"{name} ({label})" if label else name


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
_ORDER_TYPE_LABEL_KEYS = {normalise_name(k): v for k, v in ORDER_TYPE_LABELS.items()}
_STATUS_LABEL_KEYS = {normalise_name(k): v for k, v in STATUS_LABELS.items()}
_EVENT_TYPE_LABEL_KEYS = {normalise_name(k): v for k, v in EVENT_TYPE_LABELS.items()}
