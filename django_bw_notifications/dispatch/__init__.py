"""From a stored row to receivers run exactly once.

:mod:`.scheduling` decides inline or task, what the sweeper picks up and what a replay
does; :mod:`.claims` holds the SQL that claims a notification under a lease and records
its outcome; :mod:`.receivers` runs the signals' receivers, each in a savepoint;
:mod:`.tasks` is the Tasks framework's entry (imported in task mode only).
"""
