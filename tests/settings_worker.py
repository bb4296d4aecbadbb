"""Settings for the task workers started by ``test_task_workers.py`` (PostgreSQL only).

The database is the test run's own (``WORKER_DB_NAME``); dispatch is on the database
task backend, and a slow receiver is connected so that a worker can be killed mid-run.
"""

import os

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES, INSTALLED_APPS

DATABASES["default"]["NAME"] = os.environ["WORKER_DB_NAME"]
INSTALLED_APPS = [*INSTALLED_APPS, "tests.workerapp"]
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
BW_NOTIFICATIONS_DISPATCH = "task"
