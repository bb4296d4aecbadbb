from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("bandwidth/notifications/", include("django_bw_notifications.urls")),
    path("api/bandwidth/", include("django_bw_notifications.api.urls")),
]
