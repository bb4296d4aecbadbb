"""Include with ``path("<anything>/", include("django_bw_notifications.ops.urls"))``.

URL names (namespace ``bw_notifications_ops``): ``probe`` (an uptime monitor's: no
credentials, ``200``/``503``), ``ready`` (a load balancer's: can this process take a
delivery) and ``metrics`` (the Prometheus scrape; the ``metrics`` extra).
"""

from django.urls import path

from . import views

app_name = "bw_notifications_ops"

urlpatterns = [
    path("probe/", views.probe, name="probe"),
    path("ready/", views.ready, name="ready"),
    path("metrics/", views.Metrics.as_view(), name="metrics"),
]
