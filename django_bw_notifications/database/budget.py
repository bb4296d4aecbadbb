"""The time budget in the database: statements that give up before a deadline.

A lock, a stalled server or a failover makes a statement fail in time instead of holding
the request until the worker is killed: PostgreSQL gets a transaction-local
``statement_timeout`` and a watchdog (:mod:`.deadlines`) for a server that stops
answering altogether; SQLite a shortened busy timeout. What to do when the budget runs
out (spool, answer 503) is the caller's decision.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

from django.db import DatabaseError, connections, transaction

from .deadlines import Watch, severed_at

__all__ = ["SEVER_GRACE", "BudgetSpent", "bounded", "shares"]


class BudgetSpent(DatabaseError):
    """The time budget ran out before (or while) the database was asked."""


@contextlib.contextmanager
def bounded(using: str, deadline: float | None, statements: int = 1) -> Iterator[None]:
    """A transaction on ``using`` whose statements give up before ``deadline``.

    ``deadline`` is a :func:`time.monotonic` instant; each of the ``statements`` that
    follow may take an equal share of the time left. PostgreSQL gets a transaction-local
    ``statement_timeout`` (lock waits included), SQLite a busy timeout for the duration;
    other backends run unbounded (their own timeouts apply). Connecting is bounded by
    the database's ``connect_timeout`` (``check --deploy`` warns without one). Raises
    :class:`BudgetSpent` when no time is left. ``None``: an ordinary transaction.
    """
    if deadline is None:
        with transaction.atomic(using=using):
            yield
        return
    connection = connections[using]
    remaining, share_ms = shares(connection, deadline, statements)
    if connection.vendor == "sqlite":
        # SQLite waits once, for the write lock, up to its busy timeout; with
        # transaction_mode IMMEDIATE that wait is the BEGIN itself, so the timeout is
        # shortened before the transaction starts.
        with _sqlite_busy_timeout(connection, remaining), transaction.atomic(using=using):
            yield
        return
    nested = connection.in_atomic_block
    postgresql = connection.vendor == "postgresql"
    # The server bounds each statement; the watchdog bounds the whole conversation,
    # COMMIT included, for a server or network that stops answering altogether.
    watch: contextlib.AbstractContextManager[Watch | None] = (
        severed_at(deadline + SEVER_GRACE, connection.connection)
        if postgresql
        else contextlib.nullcontext()
    )
    with watch as watched, transaction.atomic(using=using):
        if postgresql:
            try:
                # Inside the try: a server that stops answering may hold this first
                # statement too, and its severed connection must be closed the same way.
                with connection.cursor() as cursor:
                    # Transaction-local, so gone at COMMIT.
                    cursor.execute(
                        "SELECT set_config('statement_timeout', %s, true)", [f"{share_ms}ms"]
                    )
                yield
            except BaseException:
                if watched is not None and watched.severed:
                    # Closed inside the transaction, so Django drops the dead connection
                    # on the way out instead of reconnecting within the request (a
                    # connect_timeout more, past the budget).
                    connection.close()
                raise
            finally:
                if nested and not (watched is not None and watched.severed):
                    # Inside a caller's transaction it would outlive this block (a
                    # severed connection is gone, and must not be reconnected here).
                    with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
                        cursor.execute("SET LOCAL statement_timeout TO DEFAULT")
        else:
            yield


@contextlib.contextmanager
def _sqlite_busy_timeout(connection: Any, remaining: float) -> Iterator[None]:
    """SQLite's busy timeout at most ``remaining`` seconds within the block: shortened
    only when the configured one (Python's default: 5 s) is longer, then restored."""
    configured = _sqlite_timeout(connection)
    if configured <= remaining:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA busy_timeout = {int(remaining * 1000)}")
    try:
        yield
    finally:
        with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {int(configured * 1000)}")


def shares(connection: Any, deadline: float, statements: int) -> tuple[float, int]:
    """Connect (bounded by ``connect_timeout``), then split what is left of the budget:
    the seconds remaining, and each statement's share in milliseconds."""
    connection.ensure_connection()
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise BudgetSpent("the time budget was spent before the database was asked")
    return remaining, max(1, int(remaining * 1000 / max(statements, 1)))


#: Past the deadline, how long the server's own statement_timeout gets to answer before
#: the watchdog severs the connection.
SEVER_GRACE = 0.25


def _sqlite_timeout(connection: Any) -> float:
    return float(connection.settings_dict.get("OPTIONS", {}).get("timeout", 5.0))
