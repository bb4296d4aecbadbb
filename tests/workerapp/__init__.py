"""A receiver for the task workers of ``test_task_workers.py``: slow enough to be killed mid-run."""
