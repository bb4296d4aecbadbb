"""The admin's paginator: counts stop at a cap, so no list costs a COUNT(*) of millions."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property

__all__ = ["CappedCountPaginator"]


class CappedCountPaginator(Paginator):  # type: ignore[type-arg]
    """Counts at most ``cap`` + 1 rows, so no page load costs a COUNT(*) of millions.

    Past the cap the list says "more than 10000" and offers the first ``cap`` rows in
    pages; filters and search narrow it down from there.
    """

    cap = 10_000

    @cached_property
    def _counted(self) -> int:
        rows = self.object_list
        if isinstance(rows, QuerySet):
            # COUNT(*) over a LIMIT subquery: reads at most cap + 1 index entries.
            return rows.order_by()[: self.cap + 1].count()
        return len(rows)

    @cached_property
    def count(self) -> int:
        return min(self._counted, self.cap)

    @property
    def is_capped(self) -> bool:
        """True when there are more rows than :attr:`count` says."""
        return self._counted > self.cap
