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
        # No stored value can contain NUL, and PostgreSQL refuses it in a query (a 500):
        # say so and show the list unfiltered.
        if any("\x00" in key or "\x00" in value for key, value in request.GET.items()):
            self.message_user(
                request,
                "A filter or search held a NUL character, which no notification contains; "
                "the filters were cleared.",
                messages.ERROR,
            )
            return HttpResponseRedirect(request.path)
        return super().changelist_view(request, extra_context)
