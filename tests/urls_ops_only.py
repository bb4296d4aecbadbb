"""A host that routes the endpoint and the operations URLs, not the REST API."""

from django.urls import include, path

urlpatterns = [
    path("bandwidth/notifications/", include("django_bw_notifications.urls")),
    path("ops/bandwidth/", include("django_bw_notifications.ops.urls")),
]
