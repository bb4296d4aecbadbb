"""Include with ``path("<anything>/", include("django_bw_notifications.urls"))``.

The endpoint's URL name is ``bw_notifications:webhook``. Give Bandwidth the URL with its
trailing slash: a POST redirected by ``APPEND_SLASH`` loses its body.
"""

from django.urls import path

from . import views

app_name = "bw_notifications"

urlpatterns = [
    path("", views.webhook, name="webhook"),
]
