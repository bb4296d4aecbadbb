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
from django.db import DataError, OperationalError, connection

from django_bw_notifications.intake import spool, storage
from django_bw_notifications.intake.delivery import Delivery
from django_bw_notifications.models import Notification, ProcessingState, RejectedDelivery
from tests.support import on_postgres, payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def spool_dir(tmp_path: Path, settings: Any) -> Path:
    settings.BW_NOTIFICATIONS_SPOOL_DIR = str(tmp_path / "spool")
    return tmp_path / "spool"


@pytest.fixture
def database_down(monkeypatch: Any) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("could not connect to server: Connection refused")

    monkeypatch.setattr(storage, "store", refuse)


def drain(*args: str) -> str:
    out = StringIO()
    call_command("bw_notifications_drain_spool", *args, stdout=out, stderr=out)
    return out.getvalue()


def drain_failing(*args: str) -> str:
    """Run a drain that must exit non-zero; its output and the error's message."""
    out = StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("bw_notifications_drain_spool", *args, stdout=out, stderr=out)
    return out.getvalue() + str(raised.value)


def write(directory: Path, body: bytes, **fields: Any) -> Path:
    return spool.write(
        directory, Delivery(body, fields.pop("received_at", datetime.now(UTC)), **fields)
    )


def test_spool_files_are_complete_private_and_read_back(tmp_path: Path) -> None:
    when = datetime(2024, 2, 22, 20, 40, 47, 539000, tzinfo=UTC)
    path = write(
        tmp_path, b"<x/>", received_at=when, remote_addr="10.0.0.1", headers={"User-Agent": "BW"}
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary left behind
    [claimed] = list(spool.claim(tmp_path))
    delivery = claimed.delivery
    assert delivery is not None
    assert (delivery.body, delivery.received_at, delivery.remote_addr) == (
        b"<x/>",
        when,
        "10.0.0.1",
    )
    assert delivery.headers == {"User-Agent": "BW"}
    claimed.release()
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_two_drains_never_claim_the_same_delivery(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    for i in range(5):
        write(tmp_path, f"<n{i}/>".encode(), received_at=now)
    first, second = spool.claim(tmp_path), spool.claim(tmp_path)
    claims = [next(first), next(second), next(first), *second, *first]
    bodies = [c.delivery.body for c in claims if c.delivery is not None]
    assert sorted(bodies) == sorted(f"<n{i}/>".encode() for i in range(5))


def test_abandoned_claims_are_taken_back_and_corrupt_files_set_aside(tmp_path: Path) -> None:
    path = write(tmp_path, b"<a/>")
    claimed = path.with_name(path.name + ".draining")
    path.rename(claimed)
    old = time.time() - spool.ABANDONED_AFTER_SECONDS - 1
    os.utime(claimed, (old, old))
    (tmp_path / "0-broken.json").write_text("{not json")
    broken, taken_back = spool.claim(tmp_path)
    assert (broken.delivery, taken_back.delivery and taken_back.delivery.body) == (None, b"<a/>")
    broken.set_aside(broken.problem)
    assert (tmp_path / "0-broken.json.corrupt").exists()
    assert "JSONDecodeError" in (tmp_path / "0-broken.json.corrupt.reason").read_text()


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
            storage, "store", lambda *a, **k: (_ for _ in ()).throw(OperationalError("down"))
        )
        assert post(payload("07")).status_code == 200
        assert post(payload("16")).status_code == 200
    arrival = {json.loads(p.read_text())["received_at"] for p in spool_dir.glob("*.json")}
    rec = recorder()
    with django_capture_on_commit_callbacks(execute=True):
        output = drain()
    assert "Drained 2: 2 stored, 0 already stored, 0 refused, 0 set aside." in output
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
    write(spool_dir, payload("01"))
    with django_capture_on_commit_callbacks(execute=True):
        assert "1 already stored" in drain()
    assert Notification.objects.count() == 1
    assert len(rec.calls) == 1


def test_drain_while_the_database_is_still_down_keeps_the_spool(
    spool_dir: Path, database_down: None
) -> None:
    write(spool_dir, payload("01"))
    with pytest.raises(CommandError, match="still unavailable"):
        drain()
    assert len(list(spool_dir.glob("*.json"))) == 1


def test_a_spooled_body_that_no_longer_parses_becomes_a_rejected_delivery(spool_dir: Path) -> None:
    write(spool_dir, b"<Order/>")
    assert "1 refused" in drain_failing()  # a person has to look: non-zero exit
    assert RejectedDelivery.objects.get().body_size == len(b"<Order/>")
    assert list(spool_dir.iterdir()) == []  # kept in the database, so the file may go


def test_a_damaged_file_is_set_aside_never_deleted_and_the_drain_goes_on(
    spool_dir: Path, recorder: Any, django_capture_on_commit_callbacks: Any
) -> None:
    damaged = write(spool_dir, payload("01"), received_at=datetime(2020, 1, 1, tzinfo=UTC))
    record = json.loads(damaged.read_text())
    record["body"] = record["body"][:-7] + "!!!" + record["body"][-4:]  # not base64 any more
    damaged.write_text(json.dumps(record))
    (spool_dir / "19990101T000000000000Z-x.json").write_text('{"version": 1}')  # no body
    write(spool_dir, payload("16"))
    rec = recorder()
    with django_capture_on_commit_callbacks(execute=True):
        output = drain_failing()
    assert "1 stored, 0 already stored, 0 refused, 2 set aside" in output
    assert Notification.objects.get().order_type == "portins"
    assert len(rec.calls) == 1
    kept = sorted(p.name for p in spool_dir.iterdir())
    assert kept == sorted(
        [
            "19990101T000000000000Z-x.json.corrupt",
            "19990101T000000000000Z-x.json.corrupt.reason",
            damaged.name + ".corrupt",
            damaged.name + ".corrupt.reason",
        ]
    )
    assert (
        "no 'received_at'"
        in (spool_dir / "19990101T000000000000Z-x.json.corrupt.reason").read_text()
    )
    assert "Drained 0:" in drain()  # set-aside files are never retried


def test_a_file_the_database_refuses_for_good_is_set_aside_and_the_drain_goes_on(
    spool_dir: Path, monkeypatch: Any, recorder: Any, django_capture_on_commit_callbacks: Any
) -> None:
    poisoned = write(spool_dir, payload("01"), received_at=datetime(2020, 1, 1, tzinfo=UTC))
    write(spool_dir, payload("07"))
    write(spool_dir, payload("16"))
    real_store = storage.store

    def store(parsed: Any, delivery: Delivery, **kwargs: Any) -> Any:
        if parsed.order_id == "a8ef295b-fcf4-44a7-945c-0520c8f49123":
            raise DataError("value too long for type character varying(64)")
        return real_store(parsed, delivery, **kwargs)

    monkeypatch.setattr(storage, "store", store)
    rec = recorder()
    with django_capture_on_commit_callbacks(execute=True):
        output = drain_failing()
    assert "2 stored, 0 already stored, 0 refused, 1 set aside" in output
    assert Notification.objects.count() == 2
    assert len(rec.calls) == 2
    reason = (spool_dir / (poisoned.name + ".refused.reason")).read_text()
    assert "DataError: value too long" in reason
    assert (spool_dir / (poisoned.name + ".refused")).exists()


def test_spool_files_keep_every_field_of_the_delivery(tmp_path: Path) -> None:
    delivery = Delivery(
        b"<x/>",
        datetime(2024, 2, 22, tzinfo=UTC),
        "2001:db8::1",
        {"User-Agent": "BW"},
        account="east",
        source="reconciled",
        content_type="application/xml; charset=utf-8",
    )
    spool.write(tmp_path, delivery)
    [claimed] = spool.claim(tmp_path)
    assert claimed.delivery == delivery


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


@on_postgres
def test_a_file_postgresql_refuses_for_good_is_set_aside_and_the_rest_drained(
    spool_dir: Path, recorder: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # An account name longer than the column (a file written by another version, or
    # edited by hand): PostgreSQL refuses it with DataError whatever the retry.
    refused = write(
        spool_dir, payload("01"), account="x" * 100, received_at=datetime(2020, 1, 1, tzinfo=UTC)
    )
    write(spool_dir, payload("07"))
    rec = recorder()
    with django_capture_on_commit_callbacks(execute=True):
        output = drain_failing()
    assert "1 stored, 0 already stored, 0 refused, 1 set aside" in output
    assert "DataError" in (spool_dir / (refused.name + ".refused.reason")).read_text()
    assert len(rec.calls) == 1
    assert "Drained 0:" in drain()
