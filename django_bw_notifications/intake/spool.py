"""A local spool for deliveries the database could not take in time.

When storing a notification fails or stalls past the time budget, the delivery is
written here, durably, before Bandwidth gets its ``200``: Bandwidth never sends it
again, so the spool is the notification's only copy until ``bw_notifications_drain_spool``
stores and dispatches it.

One JSON file per delivery (the :class:`~django_bw_notifications.intake.delivery.Delivery`, its
body base64-encoded). Writing is atomic: a hidden temporary file is written and
``fsync``-ed, renamed into place, and the directory is ``fsync``-ed, so a crash leaves
either the whole file or none. Draining claims a file by renaming it (``*.json`` →
``*.json.draining``), which only one process can do, so concurrent drains never take the
same delivery. A file that cannot be stored is never deleted: it is set aside
(``*.json.corrupt`` when unreadable, ``*.json.refused`` when the database refuses it for
good) with its reason beside it (``….reason``), for a person.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .delivery import DELIVERED, Delivery

__all__ = ["ClaimedFile", "claim", "write"]

logger = logging.getLogger(__name__)

_CLAIMED = ".draining"
#: A claimed file older than this belongs to a drain that died; it is taken back.
ABANDONED_AFTER_SECONDS = 600
#: Suffix of a file that could not be read (``set_aside`` without ``refused``).
CORRUPT = ".corrupt"
#: Suffix of a file the database refused for a reason retrying will not fix.
REFUSED = ".refused"


@dataclass(frozen=True, slots=True)
class ClaimedFile:
    """One spool file claimed by this drain: its delivery, or why it cannot be read."""

    path: Path
    #: None when the file cannot be read (see ``problem``).
    delivery: Delivery | None
    problem: str = ""

    @property
    def name(self) -> str:
        """The file's name as spooled (without the claim's suffix)."""
        return self.path.name.removesuffix(_CLAIMED)

    def release(self) -> None:
        """Give the delivery back to the spool (it could not be stored yet)."""
        os.replace(self.path, self.path.with_name(self.name))

    def remove(self) -> None:
        """Delete the delivery once it is stored."""
        self.path.unlink()
        _fsync_directory(self.path.parent)

    def set_aside(self, reason: str, *, refused: bool = False) -> Path:
        """Keep the file for a person, never retried, with ``reason`` written beside it."""
        target = self.path.with_name(self.name + (REFUSED if refused else CORRUPT))
        note = target.with_name(target.name + ".reason")
        note.write_text(reason + "\n", encoding="utf-8")
        os.replace(self.path, target)
        _fsync_directory(self.path.parent)
        logger.error("Spooled delivery %s set aside as %s: %s", self.name, target.name, reason)
        return target


def write(directory: Path, delivery: Delivery) -> Path:
    """Write one delivery durably and return its path. Raises ``OSError`` on failure."""
    directory.mkdir(parents=True, exist_ok=True)
    received_at = delivery.received_at.astimezone(UTC)
    name = f"{received_at:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex}.json"
    record = {
        "version": 1,
        "received_at": received_at.isoformat(),
        "remote_addr": delivery.remote_addr,
        "headers": dict(delivery.headers),
        "account": delivery.account,
        "source": delivery.source,
        "content_type": delivery.content_type,
        "body": base64.b64encode(delivery.body).decode("ascii"),
    }
    temporary = directory / f".{name}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(json.dumps(record).encode("utf-8"))
            file.flush()
            os.fsync(file.fileno())
        final = directory / name
        os.replace(temporary, final)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_directory(directory)
    return final


def claim(directory: Path) -> Iterator[ClaimedFile]:
    """Claim and read the spooled deliveries, oldest first.

    Each yielded file is claimed: ``remove()`` it once stored, ``release()`` it if the
    database is not back, ``set_aside()`` it if it can never be stored (an unreadable
    one has ``delivery`` None and its ``problem``). Files claimed by a drain that died
    long ago are taken back first.
    """
    if not directory.is_dir():
        return
    now = time.time()
    for stale in directory.glob(f"*.json{_CLAIMED}"):
        try:
            if now - stale.stat().st_mtime > ABANDONED_AFTER_SECONDS:
                os.replace(stale, stale.with_name(stale.name.removesuffix(_CLAIMED)))
        except FileNotFoundError:
            pass  # another drain took it back first
    for path in sorted(directory.glob("*.json")):
        claimed = path.with_name(path.name + _CLAIMED)
        try:
            os.rename(path, claimed)
            os.utime(claimed)  # the claim's age, for the abandonment rule above
        except FileNotFoundError:
            continue  # another drain claimed it
        try:
            yield ClaimedFile(claimed, _load(claimed))
        except _Unreadable as err:
            yield ClaimedFile(claimed, None, str(err))


def writable(directory: Path) -> bool:
    """Can this process write a delivery into ``directory`` (creating it if it must)?
    Asked by system check W004 and by the readiness probe."""
    existing = next((p for p in (directory, *directory.parents) if p.exists()), None)
    return existing is not None and existing.is_dir() and os.access(existing, os.W_OK | os.X_OK)


def can_write_now(directory: Path) -> bool:
    """Write and remove a file in ``directory`` (created if missing): the readiness
    probe's test, which :func:`writable`'s permission bits cannot be for root."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            return True
    except OSError:
        return False


class _Unreadable(Exception):
    pass


def _load(path: Path) -> Delivery:
    try:
        record = json.loads(path.read_bytes())
        if not isinstance(record, dict):
            raise _Unreadable("not a JSON object")
        received_at = datetime.fromisoformat(record["received_at"])
        if received_at.tzinfo is None:
            received_at = received_at.replace(tzinfo=UTC)
        try:
            # validate: a damaged body is an error, never silently b"" or garbage.
            body = base64.b64decode(record["body"], validate=True)
        except (binascii.Error, TypeError, ValueError) as err:
            raise _Unreadable(f"the body is not valid base64 ({err})") from None
        return Delivery(
            body=body,
            received_at=received_at,
            remote_addr=record.get("remote_addr"),
            headers={str(k): str(v) for k, v in dict(record.get("headers") or {}).items()},
            account=str(record.get("account") or ""),
            source=str(record.get("source") or DELIVERED),
            content_type=str(record.get("content_type") or ""),
        )
    except _Unreadable:
        raise
    except KeyError as err:
        raise _Unreadable(f"no {err.args[0]!r} in the file") from None
    except (ValueError, TypeError, binascii.Error, OSError) as err:
        raise _Unreadable(f"{type(err).__name__}: {err}") from None


def _fsync_directory(directory: Path) -> None:
    # Makes the rename or unlink itself durable, not only the file's content.
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
