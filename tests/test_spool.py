"""Database faults: a delivery the database cannot take is spooled, then drained once."""

from __future__ import annotations

import json
import os
import socket
import stat
import time
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError, connection

from django_bw_notifications import ingest, spool
from django_bw_notifications.models import Notification, ProcessingState, RejectedDelivery

from .conftest import on_postgres, payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def spool_dir(tmp_path: Path, settings: Any) -> Path:
    settings.BW_NOTIFICATIONS_SPOOL_DIR = str(tmp_path / "spool")
    return tmp_path / "spool"


@pytest.fixture
def database_down(monkeypatch: Any) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("could not connect to server: Connection refused")

    monkeypatch.setattr(ingest, "store", refuse)


def drain(*args: str) -> str:
    out = StringIO()
    call_command("bw_notifications_drain_spool", *args, stdout=out, stderr=out)
    return out.getvalue()


def test_spool_files_are_complete_private_and_read_back(tmp_path: Path) -> None:
    when = datetime(2024, 2, 22, 20, 40, 47, 539000, tzinfo=UTC)
    path = spool.write(
        tmp_path, b"<x/>", received_at=when, remote_addr="10.0.0.1", headers={"User-Agent": "BW"}
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary left behind
    [delivery] = list(spool.claim(tmp_path))
    assert (delivery.body, delivery.received_at, delivery.remote_addr) == (
        b"<x/>",
        when,
        "10.0.0.1",
    )
    assert delivery.headers == {"User-Agent": "BW"}
    delivery.release()
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_two_drains_never_claim_the_same_delivery(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    for i in range(5):
        spool.write(tmp_path, f"<n{i}/>".encode(), received_at=now, remote_addr=None, headers={})
    first, second = spool.claim(tmp_path), spool.claim(tmp_path)
    bodies = [next(first).body, next(second).body, next(first).body]
    bodies += [d.body for d in second] + [d.body for d in first]
    assert sorted(bodies) == sorted(f"<n{i}/>".encode() for i in range(5))


def test_abandoned_claims_are_taken_back_and_corrupt_files_set_aside(tmp_path: Path) -> None:
    path = spool.write(
        tmp_path, b"<a/>", received_at=datetime.now(UTC), remote_addr=None, headers={}
    )
    claimed = path.with_name(path.name + ".draining")
    path.rename(claimed)
    old = time.time() - spool.ABANDONED_AFTER_SECONDS - 1
    os.utime(claimed, (old, old))
    (tmp_path / "0-broken.json").write_text("{not json")
    assert [d.body for d in spool.claim(tmp_path)] == [b"<a/>"]
    assert (tmp_path / "0-broken.json.corrupt").exists()


def test_database_failure_is_spooled_and_answered_200(
    post: Any, spool_dir: Path, database_down: None
) -> None:
    response = post(payload("07"))
    assert response.status_code == 200
    [path] = spool_dir.glob("*.json")
    record = json.loads(path.read_text())
    assert record["remote_addr"] == "127.0.0.1"
    assert "Authorization" not in json.dumps(record)


def test_without_a_spool_a_database_failure_is_503(post: Any, database_down: None) -> None:
    assert post(payload("01")).status_code == 503


def test_an_unwritable_spool_is_503_not_a_lie(
    post: Any, tmp_path: Path, settings: Any, database_down: None
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    settings.BW_NOTIFICATIONS_SPOOL_DIR = str(blocker)
    assert post(payload("01")).status_code == 503


def test_drain_stores_dispatches_once_and_keeps_the_arrival_time(
    post: Any,
    spool_dir: Path,
    monkeypatch: Any,
    recorder: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with monkeypatch.context() as patched:
        patched.setattr(
            ingest, "store", lambda *a, **k: (_ for _ in ()).throw(OperationalError("down"))
        )
        assert post(payload("07")).status_code == 200
        assert post(payload("16")).status_code == 200
    arrival = {json.loads(p.read_text())["received_at"] for p in spool_dir.glob("*.json")}
    rec = recorder()
    with django_capture_on_commit_callbacks(execute=True):
        output = drain()
    assert "Drained 2: 2 stored, 0 already stored, 0 refused." in output
    assert list(spool_dir.iterdir()) == []
    assert len(rec.calls) == 2
    assert {n.received_at.isoformat() for n in Notification.objects.all()} == arrival
    assert set(Notification.objects.values_list("processing_state", flat=True)) == {
        ProcessingState.PROCESSED
    }
    assert "Drained 0:" in drain()


def test_a_delivery_drained_twice_is_stored_and_dispatched_once(
    post: Any, spool_dir: Path, recorder: Any, django_capture_on_commit_callbacks: Any
) -> None:
    rec = recorder()
    with django_capture_on_commit_callbacks(execute=True):
        post(payload("01"))
    spool.write(
        spool_dir, payload("01"), received_at=datetime.now(UTC), remote_addr=None, headers={}
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert "1 already stored" in drain()
    assert Notification.objects.count() == 1
    assert len(rec.calls) == 1


def test_drain_while_the_database_is_still_down_keeps_the_spool(
    spool_dir: Path, database_down: None
) -> None:
    spool.write(
        spool_dir, payload("01"), received_at=datetime.now(UTC), remote_addr=None, headers={}
    )
    with pytest.raises(CommandError, match="still unavailable"):
        drain()
    assert len(list(spool_dir.glob("*.json"))) == 1


def test_a_spooled_body_that_no_longer_parses_becomes_a_rejected_delivery(spool_dir: Path) -> None:
    spool.write(spool_dir, b"<Order/>", received_at=datetime.now(UTC), remote_addr=None, headers={})
    assert "1 refused" in drain()
    assert RejectedDelivery.objects.get().body_size == len(b"<Order/>")


def test_drain_without_a_spool_directory_says_how_to_set_one() -> None:
    with pytest.raises(CommandError, match="BW_NOTIFICATIONS_SPOOL_DIR"):
        drain()


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_a_real_postgresql_outage_loses_nothing(
    post: Any, spool_dir: Path, monkeypatch: Any, recorder: Any
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead_port = str(sock.getsockname()[1])
    rec = recorder()
    connection.close()
    with monkeypatch.context() as outage:
        outage.setitem(connection.settings_dict, "PORT", dead_port)
        for name in ("01", "07", "16"):
            assert post(payload(name)).status_code == 200
        connection.close()
    assert len(list(spool_dir.glob("*.json"))) == 3
    assert "Drained 3: 3 stored" in drain()
    assert Notification.objects.count() == 3
    assert len(rec.calls) == 3
