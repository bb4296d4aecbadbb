from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("bandwidth/notifications/", include("django_bw_notifications.urls")),
    # The optional REST API (admin users; browse it at /api/bandwidth/notifications/).
    path("api/bandwidth/", include("django_bw_notifications.api.urls")),
    # The uptime probe, the readiness probe and the Prometheus scrape (the metrics extra).
    path("ops/bandwidth/", include("django_bw_notifications.ops.urls")),
]
