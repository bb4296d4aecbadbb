from django.urls import include, path

from .anchors import views

urlpatterns = [
    path("bare/", views.bare),
    path("raw/", views.raw),
    path("floor/", views.floor),
    path("claimed/", views.claimed),
    path("rows/", views.rows),
    path("naive/", views.naive),
    path("ours/", include("django_bw_notifications.urls")),
]
