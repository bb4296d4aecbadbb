"""The client side of the time budget: sever a database connection still busy at its
deadline, so that a server that stops answering (or a lock) cannot hold a request, or
the worker that has answered one, past it.

``statement_timeout`` is enforced by the server: it cannot help when the server, a proxy
or the network stops answering in the middle of a statement (a frozen failover, a
half-open TCP connection), and the worker would wait until it is killed, losing the
delivery. One daemon thread per process keeps the deadlines of the connections being
written to; when one passes, it shuts the connection's socket down. The driver's wait
then ends at once with an ``OperationalError``, which the pipeline answers by spooling,
and Django discards the broken connection at the end of the request.
"""

from __future__ import annotations

import itertools
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["Watch", "severed_at"]

logger = logging.getLogger(__name__)


class _Watchdog:
    """Checks the deadlines being watched every :data:`_TICK` seconds, and sleeps until
    woken once nothing has been watched for :data:`_LINGER` seconds.

    A request path that watches and releases a few deadlines per request would wake a
    thread that sleeps until the earliest one each time (a context switch and a fight
    for the GIL, every time); one that ticks needs no waking while requests keep coming,
    and is at most one tick late.
    """

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._live: dict[int, tuple[float, Any, Watch]] = {}
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None
        self._asleep = False

    def watch(self, deadline: float, connection: Any, watch: Watch) -> int:
        with self._lock:
            token = next(self._ids)
            self._live[token] = (deadline, connection, watch)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="bw-notifications-deadlines", daemon=True
                )
                self._thread.start()
            elif self._asleep:
                self._lock.notify()
            return token

    def release(self, token: int) -> None:
        with self._lock:
            self._live.pop(token, None)

    def _run(self) -> None:
        quiet_since: float | None = None
        while True:
            with self._lock:
                now = time.monotonic()
                due = [token for token, (deadline, *_) in self._live.items() if deadline <= now]
                severed = [self._live.pop(token) for token in due]
                if self._live or severed:
                    quiet_since = None
                elif quiet_since is None:
                    quiet_since = now
                elif now - quiet_since >= _LINGER:
                    self._asleep = True
                    self._lock.wait()  # until the next watch()
                    self._asleep = False
                    quiet_since = None
                    continue
                if not severed:
                    self._lock.wait(_TICK)
                    continue
            for _, connection, watch in severed:
                watch.severed = True
                _sever(connection)


#: How often the watchdog looks at the deadlines it keeps (it severs at most this late).
_TICK = 0.05

#: How long the watchdog keeps ticking with nothing to watch before it sleeps.
_LINGER = 2.0


def _sever(connection: Any) -> None:
    """Shut the socket of a DB-API connection (psycopg 3 or 2) down in both directions."""
    try:
        descriptor = connection.fileno()
        # A duplicate descriptor of the same socket: shutting it down ends the
        # connection for the driver too, without closing the driver's descriptor.
        with socket.socket(fileno=socket.dup(descriptor)) as sock:
            sock.shutdown(socket.SHUT_RDWR)
    except (OSError, AttributeError, ValueError) as err:
        logger.warning("Could not sever a database connection past its deadline: %s", err)
    else:
        logger.error(
            "A database connection was still busy past its deadline; severed it (its "
            "transaction is lost whole: a delivery is spooled or answered 503, a dispatch "
            "is left for the sweeper)"
        )


_watchdog = _Watchdog()


class Watch:
    """What :func:`severed_at` yields: whether it had to sever the connection."""

    __slots__ = ("severed",)

    def __init__(self) -> None:
        #: True once the deadline passed with the connection still in use.
        self.severed = False


@contextmanager
def severed_at(deadline: float, connection: Any) -> Iterator[Watch]:
    """Within the block, sever ``connection`` (a DB-API connection) if it is still in
    use at ``deadline`` (a :func:`time.monotonic` instant). Yields a :class:`Watch`
    that says whether it did: the caller then has a dead connection, which it should
    close inside its transaction so that Django does not reconnect on the way out."""
    watch = Watch()
    token = _watchdog.watch(deadline, connection, watch)
    try:
        yield watch
    finally:
        _watchdog.release(token)
