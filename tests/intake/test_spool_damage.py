"""The spool when things go wrong around it: a file that cannot be made durable, files
written by hand or by an older version, a drain before anything was spooled, and a
refusal the audit table cannot take. Nothing is lost or left half-written."""

from __future__ import annotations

import errno
import json
import os
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, OperationalError

from django_bw_notifications.intake import spool, storage
from django_bw_notifications.intake.delivery import Delivery
from django_bw_notifications.models import Notification, RejectedDelivery
from tests.support import payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def spool_dir(tmp_path: Path, settings: Any) -> Path:
    settings.BW_NOTIFICATIONS_SPOOL_DIR = str(tmp_path / "spool")
    return tmp_path / "spool"


def drain() -> tuple[str, str | None]:
    """The drain's output, and its error's message when it exits non-zero."""
    out = StringIO()
    try:
        call_command("bw_notifications_drain_spool", stdout=out, stderr=out)
    except CommandError as err:
        return out.getvalue(), str(err)
    return out.getvalue(), None


def test_a_spool_file_that_cannot_be_made_durable_is_503_and_leaves_nothing(
    post: Any, spool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def database_down(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("could not connect to server: Connection refused")

    def disk_full(descriptor: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(storage, "store", database_down)
    monkeypatch.setattr(os, "fsync", disk_full)  # what the spool calls to make it durable
    assert post(payload("01")).status_code == 503  # not a 200 for a file that may be lost
    assert list(spool_dir.iterdir()) == []  # the temporary file is gone too


def test_a_drain_before_anything_was_spooled_does_nothing(spool_dir: Path) -> None:
    assert not spool_dir.exists()
    output, error = drain()
    assert error is None
    assert output.startswith("Drained 0")
    assert not spool_dir.exists()


def test_a_file_that_is_not_a_json_object_is_set_aside(spool_dir: Path) -> None:
    spool_dir.mkdir()
    (spool_dir / "20260101T000000000000Z-list.json").write_text("[1, 2, 3]")
    output, error = drain()
    assert error is not None
    assert "unreadable (not a JSON object)" in output
    assert (spool_dir / "20260101T000000000000Z-list.json.corrupt").exists()


def test_a_file_with_a_naive_arrival_time_is_read_as_utc(spool_dir: Path) -> None:
    path = spool.write(
        spool_dir,
        Delivery(body=payload("01"), received_at=datetime(2026, 3, 1, 9, 30, tzinfo=UTC)),
    )
    record = json.loads(path.read_text())
    record["received_at"] = "2026-03-01T09:30:00"  # as a person or an old version wrote it
    path.write_text(json.dumps(record))
    output, error = drain()
    assert error is None, output
    assert Notification.objects.get().received_at == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def test_a_refusal_the_audit_table_cannot_take_is_set_aside_not_deleted(
    spool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = spool.write(spool_dir, Delivery(body=b"<Order/>", received_at=datetime.now(UTC)))

    def audit_table_broken(*args: Any, **kwargs: Any) -> Any:
        raise DatabaseError("relation bw_notifications_rejecteddelivery does not exist")

    monkeypatch.setattr(RejectedDelivery.objects, "create", audit_table_broken)
    output, error = drain()
    assert error is not None  # a person has to look
    assert f"{path.name}: refused (the root element is <Order>" in output
    assert "0 refused, 1 set aside" in output
    kept = spool_dir / (path.name + ".corrupt")
    assert json.loads(kept.read_text())["body"]  # the body is still there for a person
    assert "not recorded" in kept.with_name(kept.name + ".reason").read_text()
