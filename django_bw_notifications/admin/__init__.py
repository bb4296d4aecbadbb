"""Read-only admin for received notifications and refused deliveries.

Built for an operator who knows only an order id or a telephone number: search finds
every notification of it, and the detail page tells the whole story (parsed fields,
numbers, the order's timeline, other notifications of the same numbers, what our
receivers did, the XML as received). Received data is evidence: nobody adds or edits
it here; deleting is for superusers. Replaying signals needs the
``bw_notifications.replay_notification`` permission.

Every page stays fast on millions of rows: no full-table ``COUNT(*)`` or ``DISTINCT``,
no per-row queries, exact-match searches on indexed columns.

Modules: ``notifications`` (the list, the detail page, replay), ``story`` (the detail
page's queries), ``rejected``, ``state`` (the order board and the numbers list),
``filters`` (index-only list filters), ``pagination`` (capped counts), ``base`` (what
they share).
"""

from .notifications import NotificationAdmin
from .pagination import CappedCountPaginator
from .rejected import RejectedDeliveryAdmin
from .state import AccountNumberAdmin, OrderAdmin

__all__ = [
    "AccountNumberAdmin",
    "CappedCountPaginator",
    "NotificationAdmin",
    "OrderAdmin",
    "RejectedDeliveryAdmin",
]
