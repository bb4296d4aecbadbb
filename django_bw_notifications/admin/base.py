"""What every admin of this app shares: read-only evidence, capped counts, no NUL."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from .pagination import CappedCountPaginator


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Received data is evidence: nobody adds or edits it; deleting is for superusers."""

    paginator = CappedCountPaginator
    show_full_result_count = False  # no second COUNT(*) of the unfiltered table

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        refusal = self.refuse_unusable_filters(request, request.path)
        if refusal is not None:
            return refusal
        try:
            return super().changelist_view(request, extra_context)
        except OverflowError:
            # A date at the calendar's edge that cannot be converted for the database
            # (0001-01-01T00:00+14:00 on SQLite): a message, not a 500.
            return self._cleared(request, request.path, "a date out of range")

    def refuse_unusable_filters(self, request: HttpRequest, back: str) -> HttpResponse | None:
        """A redirect with a message when the query string holds a NUL character (no
        stored value contains one, and PostgreSQL refuses it in a query: a 500); None when
        the filters are usable. Every view built on the list's filters asks here first."""
        if any("\x00" in key or "\x00" in value for key, value in request.GET.items()):
            return self._cleared(request, back, "a NUL character, which no notification contains")
        return None

    def _cleared(self, request: HttpRequest, back: str, what: str) -> HttpResponse:
        self.message_user(
            request, f"A filter or search held {what}; the filters were cleared.", messages.ERROR
        )
        return HttpResponseRedirect(back)
