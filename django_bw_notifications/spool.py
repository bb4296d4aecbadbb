"""A local spool for deliveries the database could not take.

When storing a notification fails (database down, insert refused), the raw delivery is
written here, durably, before Bandwidth gets its ``200``: Bandwidth never sends it again,
so the spool is the notification's only copy until ``bw_notifications_drain_spool``
stores and dispatches it.

One JSON file per delivery (body base64-encoded, arrival time, address, allow-listed
headers). Writing is atomic: a hidden temporary file is written and ``fsync``-ed, renamed
into place, and the directory is ``fsync``-ed, so a crash leaves either the whole file or
none. Draining claims a file by renaming it (``*.json`` → ``*.json.draining``), which only
one process can do, so concurrent drains never take the same delivery.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["SpooledDelivery", "claim", "write"]

logger = logging.getLogger(__name__)

_CLAIMED = ".draining"
#: A claimed file older than this belongs to a drain that died; it is taken back.
ABANDONED_AFTER_SECONDS = 600


@dataclass(frozen=True, slots=True)
class SpooledDelivery:
    """One delivery read back from the spool."""

    path: Path
    body: bytes
    received_at: datetime
    remote_addr: str | None
    headers: dict[str, str]
    #: The account whose endpoint received it ("" when none).
    account: str = ""

    def release(self) -> None:
        """Give the delivery back to the spool (it could not be stored yet)."""
        os.replace(self.path, self.path.with_name(self.path.name.removesuffix(_CLAIMED)))

    def remove(self) -> None:
        """Delete the delivery once it is stored."""
        self.path.unlink()
        _fsync_directory(self.path.parent)


def write(
    directory: Path,
    body: bytes,
    *,
    received_at: datetime,
    remote_addr: str | None,
    headers: dict[str, str],
    account: str = "",
) -> Path:
    """Write one delivery durably and return its path. Raises ``OSError`` on failure."""
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{received_at.astimezone(UTC):%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex}.json"
    record = {
        "version": 1,
        "received_at": received_at.astimezone(UTC).isoformat(),
        "remote_addr": remote_addr,
        "headers": headers,
        "account": account,
        "body": base64.b64encode(body).decode("ascii"),
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


def claim(directory: Path) -> Iterator[SpooledDelivery]:
    """Claim and read the spooled deliveries, oldest first.

    Each yielded delivery is claimed: call ``remove()`` once stored, ``release()`` if not.
    Files claimed by a drain that died long ago are taken back first.
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
            yield _load(claimed)
        except (ValueError, KeyError, TypeError):
            # Unreadable: set aside for a person, never retried in a loop.
            os.replace(claimed, path.with_name(path.name + ".corrupt"))
            logger.error("Spooled delivery %s is unreadable; kept as %s.corrupt", path, path.name)


def _load(path: Path) -> SpooledDelivery:
    record = json.loads(path.read_bytes())
    return SpooledDelivery(
        path=path,
        body=base64.b64decode(record["body"]),
        received_at=datetime.fromisoformat(record["received_at"]),
        remote_addr=record.get("remote_addr"),
        headers=dict(record.get("headers") or {}),
        account=str(record.get("account") or ""),
    )


def _fsync_directory(directory: Path) -> None:
    # Makes the rename or unlink itself durable, not only the file's content.
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
