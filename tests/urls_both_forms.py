"""A host that routes the endpoint's URL without its slash itself (W011 stays quiet)."""

from django.urls import URLPattern, URLResolver, include, path

from django_bw_notifications.views import webhook

urlpatterns: list[URLPattern | URLResolver] = [
    path("bandwidth/notifications/", include("django_bw_notifications.urls")),
    path("bandwidth/notifications", webhook),
]
