from django.apps import AppConfig


class AnchorsConfig(AppConfig):
    name = "bench.server.anchors"
    label = "bench_anchors"

    def ready(self) -> None:
        from . import receivers  # noqa: F401
