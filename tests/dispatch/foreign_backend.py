"""A task backend built on another Tasks framework: what ``django-tasks-rq`` 0.12 is
under Django 6's ``django.tasks`` (check E011 must refuse it)."""

from __future__ import annotations

from typing import Any


class OtherFrameworkBackend:
    """Loads like a backend and accepts every enqueue, but is no backend of ours."""

    supports_defer = True

    def __init__(self, alias: str, params: dict[str, Any]) -> None:
        self.alias = alias

    def enqueue(self, task: Any, args: Any, kwargs: Any) -> None:
        raise TypeError("'Task' object is not callable")  # what its worker would say
