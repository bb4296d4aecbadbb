from django.apps import AppConfig


class ReceiversConfig(AppConfig):
    name = "receivers"

    def ready(self) -> None:
        from . import handlers  # noqa: F401  (connects the receivers)
