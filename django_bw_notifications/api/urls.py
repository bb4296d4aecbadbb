"""Include with ``path("<anything>/", include("django_bw_notifications.api.urls"))``.

URL names (namespace ``bw_notifications_api``): ``root`` (the endpoints by name),
``notification-list``, ``notification-detail``, ``notification-replay``,
``order-timeline``, ``order-list``, ``order-detail``, ``number-list``, ``number-detail``,
``health``, and ``schema`` (OpenAPI as JSON; with the ``api`` extra installed).
"""

from django.urls import path
from rest_framework.compat import inflection, uritemplate
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONOpenAPIRenderer
from rest_framework.request import Request
from rest_framework.schemas import get_schema_view
from rest_framework.views import APIView

from . import views
from .permissions import read_permissions

app_name = "bw_notifications_api"


class _ReadPermission(BasePermission):
    """The schema is readable by whoever may read the API."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        return all(p.has_permission(request, view) for p in read_permissions())


urlpatterns = [
    path("", views.ApiRoot.as_view(), name="root"),
    path("notifications/", views.NotificationList.as_view(), name="notification-list"),
    path("notifications/<int:pk>/", views.NotificationDetail.as_view(), name="notification-detail"),
    path("notifications/<int:pk>/replay/", views.Replay.as_view(), name="notification-replay"),
    path("timeline/", views.OrderTimeline.as_view(), name="order-timeline"),
    path("orders/", views.OrderList.as_view(), name="order-list"),
    path("orders/<int:pk>/", views.OrderDetail.as_view(), name="order-detail"),
    path("numbers/", views.NumberList.as_view(), name="number-list"),
    path("numbers/<int:pk>/", views.NumberDetail.as_view(), name="number-detail"),
    path("health/", views.Health.as_view(), name="health"),
]

# DRF builds OpenAPI schemas only with ``uritemplate`` and ``inflection`` installed (the
# ``api`` extra); without them there is no schema URL rather than one that fails.
if uritemplate is not None and inflection is not None:
    urlpatterns.append(
        path(
            "schema/",
            get_schema_view(
                title="Bandwidth notifications",
                description="Notifications received from Bandwidth's Numbers API.",
                version="1",
                permission_classes=[_ReadPermission],
                renderer_classes=[JSONOpenAPIRenderer],
                urlconf="django_bw_notifications.api.urls",
            ),
            name="schema",
        )
    )
