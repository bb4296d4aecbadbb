"""Include with ``path("<anything>/", include("django_bw_notifications.urls"))``.

The endpoint's URL name is ``bw_notifications:webhook``. Give Bandwidth the URL with its
trailing slash; :class:`~django_bw_notifications.middleware.EndpointWithoutSlashMiddleware`
serves the URL without it too (a POST redirected by ``APPEND_SLASH`` loses its body, and
Bandwidth does not follow redirects).

Each account of ``BW_NOTIFICATIONS_ACCOUNTS`` also has its own endpoint one level
below, ``bw_notifications:account_webhook`` with ``account=<name>`` (404 for a name that
is not configured).
"""

from django.urls import path

from . import views

app_name = "bw_notifications"

urlpatterns = [
    path("", views.webhook, name="webhook"),
    path("<str:account>/", views.webhook, name="account_webhook"),
]
