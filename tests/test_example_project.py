"""`make demo` keeps working: the demo script migrates, serves, and delivers every sample."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_demo_posts_every_sample_through_the_real_endpoint(tmp_path: Path) -> None:
    database = tmp_path / "demo.sqlite3"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "example_project" / "demo.py"),
            "--port",
            str(_free_port()),
            "--no-serve",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env={"EXAMPLE_DB": str(database), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Every real sample; not the documentation's templates (placeholder values).
    payloads = list((ROOT / "tests" / "payloads").glob("*.xml"))
    samples = len([path for path in payloads if "_template" not in path.name])
    assert 0 < samples < len(payloads)
    assert result.stdout.count("401, challenge: Basic") == samples
    assert result.stdout.count("200: delivered") == samples
    assert "received portins ee456cfb" in result.stderr  # the example receiver ran
    with closing(sqlite3.connect(database)) as db:
        assert db.execute("select count(*) from bw_notifications_notification").fetchone() == (
            samples,
        )
        assert db.execute("select count(*) from auth_user where is_superuser").fetchone() == (1,)
        # The demo's CRM receiver fails once, so there is a failure to look at and replay.
        failed = "select order_type, status from bw_notifications_notification where processing_state = 'failed'"
        assert db.execute(failed).fetchall() == [("portins", "FOC")]
        assert not db.execute(
            "select 1 from bw_notifications_notification where order_type like '%|%'"
        ).fetchall()


def test_demo_on_a_taken_port_stops_before_posting_and_says_how_to_choose(
    tmp_path: Path,
) -> None:
    database = tmp_path / "demo.sqlite3"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, str(ROOT / "example_project" / "demo.py"), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            env={"EXAMPLE_DB": str(database), "PATH": "/usr/bin:/bin"},
            check=False,
        )
    assert result.returncode == 1
    assert f"Port {port} is already in use" in result.stderr
    assert "make demo PORT=" in result.stderr
    assert "Posting" not in result.stdout
    assert not database.exists()  # nothing migrated, nothing posted
