"""An optional read-and-replay REST API over stored notifications (Django REST framework).

Add ``path("api/bandwidth/", include("django_bw_notifications.api.urls"))`` to expose it:
filtered, cursor-paginated lists; one notification with its numbers; an order's
timeline; replaying a notification's signals; and an OpenAPI schema. Reading needs
``IsAdminUser`` and replaying the ``bw_notifications.replay_notification`` permission
by default (``BW_NOTIFICATIONS_API_PERMISSION_CLASSES`` and
``BW_NOTIFICATIONS_API_REPLAY_PERMISSION_CLASSES``).
"""
