"""Faults that stall or kill, tried as a deployment meets them: gunicorn, PostgreSQL.

Each test deploys the test database behind a real gunicorn (2 sync workers,
``tests.faultapp.settings``), throws one fault at it, runs the cron jobs a deployment
runs (the drain, the sweeper, a replay) as separate processes, and then checks the
delivery guarantee (``shared/DESIGN.md`` §1): every delivery answered ``200`` is stored
exactly once and its receivers completed exactly once; every other answer is an honest
refusal; never a ``500``, never an answer later than the time budget. Receivers' work
is counted in rows (``tests.faultapp``), so a run rolled back by a kill does not count.
"""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from django_bw_notifications.models import Notification, ProcessingState
from django_bw_notifications.testing import build_order_notification
from tests.support import basic, on_postgres, other_session

pytestmark = [on_postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
ENDPOINT = "/bandwidth/notifications/"
RUNS_TABLE = "bw_test_faultapp_receiverrun"

gunicorn = pytest.importorskip("gunicorn")


@dataclass
class Deployment:
    """A gunicorn serving the test database, and how to reach and control it."""

    url: str
    process: subprocess.Popen[bytes]
    env: dict[str, str]
    control: Path
    spool: Path
    log: Path
    answers: list[tuple[str, int, float]] = field(default_factory=list)

    def behave(self, order_id: str, behaviour: str) -> None:
        """What the receivers do for this order (``fail``, ``sleep N``, "" for normal)."""
        path = self.control / order_id
        if behaviour:
            path.write_text(behaviour)
        else:
            path.unlink(missing_ok=True)

    def deliver(self, order_id: str, timeout: float = 60) -> int:
        """POST one notification like Bandwidth; its status (0: no answer at all)."""
        # The same order id, the same body: a second delivery of it is a copy.
        body = build_order_notification(
            order_id=order_id,
            numbers=["9195551234"],
            subscription_id="3f0b6f3c-2a49-4c1e-9d6b-1c2f0e1d9a77",
            last_modified_date="2026-12-01T10:00:00.000Z",
        )
        request = urllib.request.Request(
            self.url + ENDPOINT,
            data=body,
            headers={"Content-Type": "application/xml", "Authorization": basic()},
            method="POST",
        )
        return self._answer(order_id, request, timeout)

    def get(self, path: str, authorization: str = "", timeout: float = 60) -> int:
        """GET one of the operators' URLs as a monitor would; its status (0: no answer)."""
        headers = {"Authorization": authorization} if authorization else {}
        return self._answer(path, urllib.request.Request(self.url + path, headers=headers), timeout)

    def _answer(self, label: str, request: urllib.request.Request, timeout: float) -> int:
        """Send ``request``; record and return its status (0: no answer at all)."""
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status = int(response.status)
        except urllib.error.HTTPError as err:
            status = err.code
        except (ConnectionError, urllib.error.URLError, TimeoutError):
            status = 0
        self.answers.append((label, status, time.monotonic() - started))
        return status

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A management command in its own process, as cron runs it."""
        return subprocess.run(
            [sys.executable, "-m", "django", *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=check,
        )

    def workers(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]


def runs() -> dict[str, int]:
    """Completed receiver runs by order id."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT order_id, COUNT(*) FROM {RUNS_TABLE} GROUP BY order_id")
        return dict(cursor.fetchall())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def deployed(
    tmp_path: Path, *, worker_timeout: int = 30, spool: bool = True, **env: str
) -> Iterator[Deployment]:
    port = free_port()
    control, spool_dir, log = tmp_path / "control", tmp_path / "spool", tmp_path / "server.log"
    control.mkdir()
    full_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.faultapp.settings",
        "FAULT_DB_NAME": connection.settings_dict["NAME"],
        "FAULT_SPOOL_DIR": str(spool_dir) if spool else "",
        "BW_FAULT_CONTROL_DIR": str(control),
        "PYTHONPATH": str(ROOT),
    }
    subprocess.run(
        [sys.executable, "-m", "django", "migrate", "bw_test_faultapp", "--verbosity", "0"],
        env=full_env,
        cwd=ROOT,
        check=True,
        timeout=120,
    )
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {RUNS_TABLE}")
    server_env = {**full_env, **env}
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "tests.faultapp.wsgi:application",
                "--workers",
                "2",
                "--bind",
                f"127.0.0.1:{port}",
                "--timeout",
                str(worker_timeout),
                "--graceful-timeout",
                "2",
            ],
            env=server_env,
            cwd=ROOT,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    deployment = Deployment(f"http://127.0.0.1:{port}", process, full_env, control, spool_dir, log)
    try:
        _wait_until_serving(deployment)
        yield deployment
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        _report(deployment)


def _report(deployment: Deployment) -> None:
    """With ``BW_FAULT_REPORT=path``, one line per test for docs/reliability.md."""
    target = os.environ.get("BW_FAULT_REPORT")
    if not target or not deployment.answers:
        return
    test = os.environ.get("PYTEST_CURRENT_TEST", "?").split("::")[-1].split(" ")[0]
    statuses: dict[int, int] = {}
    for _, status, _ in deployment.answers:
        statuses[status] = statuses.get(status, 0) + 1
    slowest = max(seconds for _, _, seconds in deployment.answers)
    answers = ", ".join(
        f"{count} x {status or 'no answer'}" for status, count in sorted(statuses.items())
    )
    with open(target, "a") as report:
        report.write(f"| {test} | {answers} | slowest answer {slowest:.2f} s |\n")


def _wait_until_serving(deployment: Deployment) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            request = urllib.request.Request(deployment.url + ENDPOINT, method="HEAD")
            with urllib.request.urlopen(request, timeout=2):
                return
        except (OSError, urllib.error.URLError):
            time.sleep(0.2)
    raise AssertionError(f"gunicorn did not start:\n{deployment.log.read_text()}")


def assert_guarantee(deployment: Deployment) -> None:
    """Every 200 stored once and its receivers completed once; nothing left undone."""
    statuses = {status for _, status, _ in deployment.answers}
    assert 500 not in statuses, deployment.log.read_text()
    answered = [order for order, status, _ in deployment.answers if status == 200]
    stored = list(Notification.objects.values_list("order_id", flat=True))
    assert sorted(set(stored)) == sorted(stored)  # none stored twice
    assert set(answered) <= set(stored)
    assert runs() == dict.fromkeys(stored, 1)
    assert not Notification.objects.exclude(processing_state=ProcessingState.PROCESSED).exists()


def test_a_table_lock_longer_than_the_worker_timeout_is_spooled_within_the_budget(
    tmp_path: Path,
) -> None:
    # A migration, VACUUM FULL or REINDEX holds an exclusive lock on the table for
    # longer than gunicorn waits for a worker (6 s here). The time budget (3 s) answers
    # first: the deliveries are spooled, answered 200, and drained once the lock goes.
    with deployed(tmp_path, worker_timeout=6, FAULT_TIME_BUDGET="3") as deployment:
        locker = _lock_table_for(seconds=9)
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(deployment.deliver, [f"locked-{i}" for i in range(6)]))
        locker.join()
        assert {status for _, status, _ in deployment.answers} == {200}
        assert max(seconds for _, _, seconds in deployment.answers) < 3.5
        assert Notification.objects.count() == 0
        assert len(list(deployment.spool.glob("*.json"))) == 6
        drained = deployment.manage("bw_notifications_drain_spool")
        assert "6 stored" in drained.stdout
        deployment.manage("bw_notifications_dispatch_pending", "--older-than", "0")
        assert_guarantee(deployment)
        assert Notification.objects.count() == 6


def test_a_table_lock_without_a_spool_is_an_honest_503_with_the_body_logged(
    tmp_path: Path,
) -> None:
    with deployed(tmp_path, worker_timeout=6, spool=False, FAULT_TIME_BUDGET="2") as deployment:
        locker = _lock_table_for(seconds=4)
        status = deployment.deliver("locked-nospool")
        locker.join()
        assert status == 503
        assert deployment.answers[0][2] < 2.5
    assert Notification.objects.count() == 0
    # The body is in the error log, the one place it can be recovered from.
    assert "locked-nospool" in deployment.log.read_text()


def test_a_table_lock_makes_probe_scrape_and_health_answer_503_in_time_not_hold_workers(
    tmp_path: Path,
) -> None:
    # A monitor polling the probe and Prometheus scraping during a long lock: each gives
    # up within the time budget (3 s) with an honest 503 instead of holding one of the
    # two workers until gunicorn kills it (6 s) with a 500, so Bandwidth's deliveries
    # still find a worker and are spooled; the cron health check says so and exits 1.
    scrape = "Basic " + base64.b64encode(b"prometheus:scrape-password-for-the-faults").decode()
    with deployed(tmp_path, worker_timeout=6, FAULT_TIME_BUDGET="3") as deployment:
        locker = _lock_table_for(seconds=20)
        with ThreadPoolExecutor(6) as pool:
            polls = [pool.submit(deployment.get, "/ops/bandwidth/probe/") for _ in range(3)]
            polls.append(pool.submit(deployment.get, "/ops/bandwidth/metrics/", scrape))
            deliveries = [pool.submit(deployment.deliver, f"polled-{i}") for i in range(2)]
            health = deployment.manage("bw_notifications_health", "--no-alerts", check=False)
            statuses = [poll.result() for poll in polls]
            delivered = [delivery.result() for delivery in deliveries]
        assert locker.is_alive()  # all of it answered while the lock was still held
        locker.join()
        assert statuses == [503, 503, 503, 503]
        assert delivered == [200, 200]
        # Two workers, six requests, each given up at 3 s: three rounds at most, none
        # waited for a worker's kill.
        assert max(seconds for _, _, seconds in deployment.answers) < 3 * 3 + 2
        assert "WORKER TIMEOUT" not in deployment.log.read_text()
        assert health.returncode == 1
        assert "cannot be read within BW_NOTIFICATIONS_TIME_BUDGET" in health.stderr
        # Told once per worker and outage, not once per poll, and no traceback.
        log = deployment.log.read_text()
        assert 1 <= log.count("The uptime probe cannot read the health") <= 2
        lines = log.splitlines()
        told = [i for i, line in enumerate(lines) if "cannot read the health" in line]
        assert not any(lines[i + 1].startswith("Traceback") for i in told)  # no traceback
        for _ in range(10):  # until a worker that failed answers (either may)
            assert deployment.get("/ops/bandwidth/probe/") in (200, 503)
            if "The uptime probe reads the health again" in deployment.log.read_text():
                break
        else:
            raise AssertionError(deployment.log.read_text())
        deployment.manage("bw_notifications_drain_spool")
        deployment.manage("bw_notifications_dispatch_pending", "--older-than", "0")
        deployment.answers = [a for a in deployment.answers if a[0].startswith("polled-")]
        assert_guarantee(deployment)
        assert Notification.objects.count() == 2


def test_a_database_address_that_never_accepts_is_spooled_within_the_budget(
    tmp_path: Path,
) -> None:
    # A listening socket that never accepts: libpq's connect would wait forever
    # without connect_timeout (check W009); with it, the delivery is spooled in time.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        port = str(silent.getsockname()[1])
        with deployed(
            tmp_path, worker_timeout=10, FAULT_DB_PORT=port, FAULT_CONNECT_TIMEOUT="1"
        ) as deployment:
            for i in range(3):
                assert deployment.deliver(f"silent-{i}") == 200
    assert max(seconds for _, _, seconds in deployment.answers) < 3
    assert len(list(deployment.spool.glob("*.json"))) == 3
    assert "3 stored" in deployment.manage("bw_notifications_drain_spool").stdout
    assert_guarantee(deployment)


class FreezingProxy:
    """A TCP proxy to PostgreSQL that can stop forwarding, both ways, while keeping every
    connection open: a server, failover or network that stops answering mid-statement."""

    def __init__(self) -> None:
        self.frozen = threading.Event()
        self.stopped = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.listener.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed
            server = socket.create_connection(
                (connection.settings_dict["HOST"], int(connection.settings_dict["PORT"]))
            )
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        source.settimeout(0.2)
        while not self.stopped.is_set():
            if self.frozen.is_set():
                time.sleep(0.05)
                continue
            try:
                data = source.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:
                break
            try:
                target.sendall(data)
            except OSError:
                break
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.close()

    def close(self) -> None:
        self.stopped.set()
        self.listener.close()


@contextmanager
def deployed_behind_a_freezing_proxy(
    tmp_path: Path, *, worker_timeout: int
) -> Iterator[tuple[Deployment, FreezingProxy]]:
    """A deployment whose workers reach PostgreSQL through a :class:`FreezingProxy`,
    keeping their connections (so a freeze meets a live one) with a 3-second budget.
    The cron jobs (:meth:`Deployment.manage`) reach the database directly."""
    proxy = FreezingProxy()
    try:
        with deployed(
            tmp_path,
            worker_timeout=worker_timeout,
            FAULT_DB_PORT=str(proxy.port),
            FAULT_CONN_MAX_AGE="60",
            FAULT_TIME_BUDGET="3",
        ) as deployment:
            try:
                yield deployment, proxy
            finally:
                proxy.frozen.clear()
    finally:
        proxy.close()


def test_a_frozen_database_on_kept_connections_answers_the_api_and_probe_in_time(
    tmp_path: Path,
) -> None:
    # DRF reads the staff user before the view runs: on a kept connection to a server
    # that stopped answering, that read held the worker until gunicorn killed it. Now
    # the whole request reads within the budget (3 s): 503, never a 500 or a kill.
    from django.contrib.auth.models import Permission, User

    ops = User.objects.create_user("ops", password="ops-password-long-enough", is_staff=True)
    ops.user_permissions.add(*Permission.objects.filter(codename="view_notification"))
    staff = "Basic " + base64.b64encode(b"ops:ops-password-long-enough").decode()
    with deployed_behind_a_freezing_proxy(tmp_path, worker_timeout=8) as (deployment, proxy):
        for _ in range(6):  # each worker keeps a connection
            assert deployment.get("/api/bandwidth/health/", staff) == 200
        proxy.frozen.set()
        statuses = [deployment.get("/api/bandwidth/health/", staff) for _ in range(2)]
        statuses.append(deployment.get("/ops/bandwidth/probe/"))
        proxy.frozen.clear()
        log = deployment.log.read_text()
    assert statuses == [503, 503, 503], log
    frozen = deployment.answers[-3:]
    # The budget, the watchdog's grace and a little: not gunicorn's 8 s, nor a
    # connect_timeout more for a reconnection within the request.
    assert max(seconds for _, _, seconds in frozen) < 3 + 1.5, frozen
    assert "WORKER TIMEOUT" not in log
    assert "Internal Server Error" not in log


def test_a_database_that_stops_answering_mid_conversation_is_spooled_within_the_budget(
    tmp_path: Path,
) -> None:
    # statement_timeout is the server's: it cannot end a wait for a server that no
    # longer answers at all. The watchdog severs the connection at the deadline.
    with deployed_behind_a_freezing_proxy(tmp_path, worker_timeout=8) as (
        deployment,
        proxy,
    ):
        with ThreadPoolExecutor(2) as pool:  # both workers hold a live connection
            assert list(pool.map(deployment.deliver, ["warm-0", "warm-1"])) == [200, 200]
        time.sleep(0.5)  # their dispatches after the answer
        proxy.frozen.set()
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(deployment.deliver, [f"frozen-{i}" for i in range(4)]))
        proxy.frozen.clear()
        log = deployment.log.read_text()
    assert "WORKER TIMEOUT" not in log
    frozen = [a for a in deployment.answers if a[0].startswith("frozen")]
    assert [status for _, status, _ in frozen] == [200] * 4
    # Each answered within its own budget; two queue for the two workers.
    assert max(seconds for _, _, seconds in frozen) < 2 * 3.5
    assert "severed it" in log
    deployment.manage("bw_notifications_drain_spool")
    deployment.manage("bw_notifications_dispatch_pending", "--older-than", "0")
    assert_guarantee(deployment)
    assert Notification.objects.count() == 6


def test_a_database_that_stops_answering_between_two_receivers_frees_the_worker(
    tmp_path: Path,
) -> None:
    # The first receiver has written its row and is still busy when the database stops
    # answering; the dispatch's own SAVEPOINT for the next receiver would wait for ever
    # (until gunicorn kills the worker). It is bounded like the claim: severed after a
    # second, the attempt rolls back whole and the sweeper completes it once.
    with deployed_behind_a_freezing_proxy(tmp_path, worker_timeout=8) as (
        deployment,
        proxy,
    ):
        deployment.behave("between", "then-sleep 0.6")
        assert deployment.deliver("between") == 200
        time.sleep(0.3)  # its first receiver has written and is sleeping
        proxy.frozen.set()
        time.sleep(2.0)  # the SAVEPOINT for the next receiver waits, then is severed
        proxy.frozen.clear()
        assert deployment.deliver("after-the-freeze") == 200
        log = deployment.log.read_text()
    assert "WORKER TIMEOUT" not in log
    assert "severed it" in log
    answered = {order: seconds for order, _, seconds in deployment.answers}
    assert answered["after-the-freeze"] < 3.5, answered
    deployment.manage("bw_notifications_dispatch_pending", "--older-than", "0")
    assert_guarantee(deployment)
    assert runs().get("between") == 1


def test_a_copy_whose_count_is_severed_is_answered_within_the_budget(tmp_path: Path) -> None:
    # A copy arrives while a session holds its notification's row; the database then
    # stops answering while the copy waits to be counted. The watchdog severs the
    # connection at the deadline; the copy is spooled at once, without a reconnection
    # inside the request (a connect_timeout more, past the budget).
    with deployed_behind_a_freezing_proxy(tmp_path, worker_timeout=10) as (
        deployment,
        proxy,
    ):
        assert deployment.deliver("counted") == 200
        _wait_for(lambda: _state("counted") == ProcessingState.PROCESSED)
        pk = Notification.objects.get(order_id="counted").pk
        held, release = threading.Event(), threading.Event()

        def hold() -> None:
            with other_session() as other:
                table = Notification._meta.db_table
                other.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR UPDATE", [pk])
                held.set()
                release.wait(15)

        holder = threading.Thread(target=hold)
        holder.start()
        assert held.wait(10)
        try:
            freezer = threading.Timer(0.4, proxy.frozen.set)
            freezer.start()
            assert deployment.deliver("counted") == 200
            freezer.join()
        finally:
            proxy.frozen.clear()
            release.set()
            holder.join()
        log = deployment.log.read_text()
    copy_seconds = [seconds for order, _, seconds in deployment.answers if order == "counted"]
    assert copy_seconds[1] < 3.5, copy_seconds
    assert "severed it" in log
    assert len(list(deployment.spool.glob("*.json"))) == 1
    deployment.manage("bw_notifications_drain_spool")
    assert Notification.objects.filter(order_id="counted").count() == 1


def test_kill_9_of_a_worker_during_50_concurrent_deliveries_loses_nothing(
    tmp_path: Path,
) -> None:
    with deployed(tmp_path) as deployment:
        orders = [f"kill-{i:02d}" for i in range(50)]
        for order in orders:
            deployment.behave(order, "sleep 0.2")
        killed: list[int] = []

        def kill_one() -> None:
            time.sleep(1.0)
            victim = deployment.workers()[0]
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

        killer = threading.Thread(target=kill_one)
        killer.start()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(deployment.deliver, orders))
        killer.join()
        assert killed
        time.sleep(1)  # the surviving worker's last dispatches
    # The sweeper, as cron runs it, once the server is gone: what the killed worker
    # stored but had not (or not completely) dispatched.
    for order in orders:
        deployment.behave(order, "")
    deployment.manage("bw_notifications_dispatch_pending", "--older-than", "0")
    assert_guarantee(deployment)
    answered = [order for order, status, _ in deployment.answers if status == 200]
    assert len(answered) >= 40  # most were answered; the rest were cut off, not lied to


def test_a_receiver_slower_than_the_worker_timeout_neither_delays_nor_loses(
    tmp_path: Path,
) -> None:
    with deployed(tmp_path, worker_timeout=3) as deployment:
        deployment.behave("slow", "sleep 8")
        assert deployment.deliver("slow") == 200
        # The answer went out before the receiver started sleeping.
        assert deployment.answers[0][2] < 2
        time.sleep(5)  # gunicorn kills the worker at 3 s, mid-receiver
        assert "WORKER TIMEOUT" in deployment.log.read_text()
    notification = Notification.objects.get()
    assert notification.processing_state == ProcessingState.PENDING  # rolled back whole
    assert runs() == {}
    deployment.behave("slow", "sleep 0.1")
    deployment.manage("bw_notifications_dispatch_pending", "--older-than", "0")
    assert_guarantee(deployment)


def test_a_worker_killed_during_a_duplicates_retry_leaves_it_failed_for_replay(
    tmp_path: Path,
) -> None:
    with deployed(tmp_path, worker_timeout=3) as deployment:
        deployment.behave("retry", "fail")
        assert deployment.deliver("retry") == 200
        _wait_for(lambda: _state("retry") == ProcessingState.FAILED)
        # Bandwidth (or a network replay) sends the same notification again: the
        # failed dispatch is retried after the answer, and the worker dies in it.
        deployment.behave("retry", "sleep 8")
        assert deployment.deliver("retry") == 200
        time.sleep(5)
        assert "WORKER TIMEOUT" in deployment.log.read_text()
    notification = Notification.objects.get()
    assert (notification.processing_state, notification.duplicate_count) == ("failed", 1)
    assert notification.attempts == 1  # the killed retry was rolled back, not recorded
    deployment.behave("retry", "")
    replayed = deployment.manage("bw_notifications_replay", "--failed")
    assert "1 succeeded" in replayed.stdout
    assert_guarantee(deployment)


def test_a_row_lock_during_after_answer_work_frees_the_worker_and_copies_stay_stored(
    tmp_path: Path,
) -> None:
    # A session holds the row of a failed notification (an operator's psql, a long
    # migration step). Copies of it arrive on both workers: each is stored already, so
    # each is answered 200 at once (not spooled for waiting on the lock), and the retry
    # each schedules after its answer gives up its claim within a second instead of
    # holding the worker: a new delivery right after is answered within the budget.
    with deployed(tmp_path, worker_timeout=20, FAULT_TIME_BUDGET="3") as deployment:
        deployment.behave("held", "fail")
        assert deployment.deliver("held") == 200
        _wait_for(lambda: _state("held") == ProcessingState.FAILED)
        deployment.behave("held", "")
        pk = Notification.objects.get(order_id="held").pk
        held = threading.Event()
        release = threading.Event()

        def hold() -> None:
            with other_session() as other:
                table = Notification._meta.db_table
                other.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR UPDATE", [pk])
                held.set()
                release.wait(15)

        holder = threading.Thread(target=hold)
        holder.start()
        assert held.wait(10)
        try:
            with ThreadPoolExecutor(2) as pool:
                copies = list(pool.map(lambda _: deployment.deliver("held"), range(2)))
            time.sleep(0.2)  # both workers are now in their retries' claims
            assert deployment.deliver("after-the-copies") == 200
        finally:
            release.set()
            holder.join()
        log = deployment.log.read_text()
    assert copies == [200, 200]
    assert not list(deployment.spool.glob("*.json"))  # stored already: nothing spooled
    answered = {order: seconds for order, _, seconds in deployment.answers}
    assert answered["after-the-copies"] < 3 + 1.5, answered  # a claim's patience + budget
    assert "severed it" in log
    deployment.manage("bw_notifications_dispatch_pending", "--older-than", "0")
    deployment.manage("bw_notifications_replay", "--failed")
    assert_guarantee(deployment)


def test_two_replays_of_one_notification_at_once_run_it_once(tmp_path: Path) -> None:
    from django.contrib.auth.models import User

    User.objects.create_superuser("operator", "op@example.com", "operator-password-long")
    token = base64.b64encode(b"operator:operator-password-long").decode()
    with deployed(tmp_path) as deployment:
        deployment.behave("replayed", "fail")
        assert deployment.deliver("replayed") == 200
        _wait_for(lambda: _state("replayed") == ProcessingState.FAILED)
        deployment.behave("replayed", "sleep 2")
        pk = Notification.objects.get().pk
        url = f"{deployment.url}/api/bandwidth/notifications/{pk}/replay/"

        def replay(_: int) -> int:
            request = urllib.request.Request(
                url, data=b"", method="POST", headers={"Authorization": f"Basic {token}"}
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    return int(response.status)
            except urllib.error.HTTPError as err:
                return err.code

        with ThreadPoolExecutor(2) as pool:
            codes = sorted(pool.map(replay, range(2)))
    assert codes == [200, 409]
    assert runs() == {"replayed": 1}
    assert Notification.objects.get().attempts == 2


def test_two_operators_replaying_failed_at_once_in_the_admin_run_it_once(
    tmp_path: Path,
) -> None:
    from django.contrib.auth.models import User

    User.objects.create_superuser("operator", "op@example.com", "operator-password-long")
    with deployed(tmp_path) as deployment:
        deployment.behave("admin-replayed", "fail")
        assert deployment.deliver("admin-replayed") == 200
        _wait_for(lambda: _state("admin-replayed") == ProcessingState.FAILED)
        deployment.behave("admin-replayed", "sleep 2")
        operators = [_AdminSession(deployment.url) for _ in range(2)]
        page = "/admin/bw_notifications/notification/replay-failed/?processing_state=failed"
        with ThreadPoolExecutor(2) as pool:
            said = list(pool.map(lambda operator: operator.post(page), operators))
    assert runs() == {"admin-replayed": 1}
    assert Notification.objects.get().attempts == 2
    # Each operator is told what happened; neither gets an error page.
    assert sorted("Replayed 1: 1 succeeded" in text for text in said) == [False, True]
    assert any("skipped: being replayed by someone else" in text for text in said)


class _AdminSession:
    """An operator's browser: logged in to the admin, cookies and CSRF token kept."""

    def __init__(self, base: str) -> None:
        import http.cookiejar

        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))
        self.opener.open(base + "/admin/login/", timeout=30).read()
        self.post(
            "/admin/login/?next=/admin/",
            {"username": "operator", "password": "operator-password-long"},
        )

    def post(self, path: str, fields: dict[str, str] | None = None) -> str:
        """POST a form (the CSRF token added) and return the page it leads to."""
        token = next(c.value for c in self.cookies if c.name == "csrftoken")
        data = urllib.parse.urlencode({"csrfmiddlewaretoken": token, **(fields or {})})
        request = urllib.request.Request(
            self.base + path,
            data=data.encode(),
            method="POST",
            headers={"Referer": self.base + path},
        )
        with self.opener.open(request, timeout=60) as response:
            assert response.status == 200
            return str(response.read().decode())


def _state(order_id: str) -> str | None:
    return (
        Notification.objects.filter(order_id=order_id)
        .values_list("processing_state", flat=True)
        .first()
    )


def _wait_for(condition: Any, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting")


def _lock_table_for(seconds: float) -> threading.Thread:
    """Hold an ACCESS EXCLUSIVE lock on the notification table from another session."""
    locked = threading.Event()

    def hold() -> None:
        with other_session() as other:
            other.execute(f"LOCK TABLE {Notification._meta.db_table} IN ACCESS EXCLUSIVE MODE")
            locked.set()
            time.sleep(seconds)

    thread = threading.Thread(target=hold)
    thread.start()
    assert locked.wait(10)
    return thread
