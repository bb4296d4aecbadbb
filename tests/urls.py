from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponseBase
from django.urls import URLPattern, URLResolver, include, path

urlpatterns: list[URLPattern | URLResolver] = [
    path("admin/", admin.site.urls),
    path("bandwidth/notifications/", include("django_bw_notifications.urls")),
    path("api/bandwidth/", include("django_bw_notifications.api.urls")),
    path("ops/bandwidth/", include("django_bw_notifications.ops.urls")),
]


# A host that routes the view itself, and one that subclasses it (tests/intake/test_endpoints.py).
from django_bw_notifications.views import WebhookView  # noqa: E402


class HostWebhookView(WebhookView):
    """A host project's own subclass, as the README allows."""


class DispatchHookView(WebhookView):
    """A subclass that overrides dispatch() itself (where exemptions used to live)."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = super().dispatch(request, *args, **kwargs)
        response["X-Hooked"] = "yes"
        return response


urlpatterns += [
    path("hosted/notifications/", WebhookView.as_view(), name="hosted_webhook"),
    path("subclassed/notifications/", HostWebhookView.as_view(), name="subclassed_webhook"),
    path("hooked/notifications/", DispatchHookView.as_view(), name="hooked_webhook"),
    # The client tests' CALLBACK_URL (https://example.com/bandwidth/): the plain endpoint.
    path("bandwidth/", WebhookView.as_view(), name="callback_webhook"),
]
