"""``make bench``: our endpoint against three anchors, under gunicorn, driven by wrk.

    python bench/run.py [--short] [--db postgres --db sqlite] [--seconds 10]

For each database: migrate, start gunicorn (2 sync workers), and for bodies of 1, 100
and 5,000 telephone numbers run wrk (2 threads, 4 connections, a unique OrderId per
request, valid Basic auth) against ``bare``, ``raw``, ``naive`` and our endpoint, one
after the other on the same server. Then the worker memory: growth over 10,000
one-number notifications, and the peak while ingesting 5,000-number bodies. Then the
deterministic measures, in-process: SQL statements per notification, and parse time
against plain ``xml.etree`` on the same bytes.

Prints a Markdown report and writes it to ``bench/results/`` (``--short``: seconds
per point, for CI, written nowhere unless ``--write``).
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import platform
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
BIN = Path(sys.executable).parent
SIZES = (1, 100, 5000)
#: Our endpoint on a second server with the order book off (BW_NOTIFICATIONS_KEEP_STATE
#: False): measured right after ``ours``, so the book's cost is a ratio of neighbours.
NOBOOK = "ours-nobook"
# naive last: it leaves work queued.
ENDPOINTS = ("bare", "raw", "floor", "claimed", "rows", "ours", NOBOOK, "naive")
PORT = int(os.environ.get("BENCH_PORT", "8765"))  # the second server takes PORT + 1
NOBOOK_PORT = PORT + 1
MEMORY_REQUESTS = 10_000


@dataclass
class Point:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", action="append", choices=["postgres", "sqlite"])
    parser.add_argument("--seconds", type=float, default=10.0, help="per measured point")
    parser.add_argument("--short", action="store_true", help="CI mode: 1 s per point")
    parser.add_argument("--write", type=Path, help="report file (default: bench/results/…)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    seconds = 1.0 if args.short else args.seconds
    databases = args.db or ["postgres", "sqlite"]

    sections = [_header(seconds)]
    for db in databases:
        sections.append(_bench_database(db, seconds, short=args.short))
    report = "\n".join(sections)
    print(report)
    target = args.write or (
        None if args.short else BENCH / "results" / time.strftime("bench-%Y%m%d-%H%M.md")
    )
    if target:
        target.write_text(report)
        print(f"written to {target.relative_to(ROOT) if target.is_absolute() else target}")
    return 0


def _env(db: str, *, keep_state: bool = True) -> dict[str, str]:
    return {
        **os.environ,
        "BENCH_DB": db,
        "BENCH_KEEP_STATE": "1" if keep_state else "0",
        "DJANGO_SETTINGS_MODULE": "bench.server.settings",
        "PYTHONPATH": str(ROOT),
    }


def _port(endpoint: str) -> int:
    return NOBOOK_PORT if endpoint == NOBOOK else PORT


def _gunicorn(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [
            BIN / "gunicorn",
            "bench.server.wsgi:application",
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--timeout",
            "300",
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
    )
    _wait_for_port(server, port)
    return server


def _bench_database(db: str, seconds: float, *, short: bool) -> str:
    env = _env(db)
    if db == "postgres":
        _create_postgres_database(env.get("BENCH_DB_NAME", "bw_bench"))
    else:
        for suffix in ("", "-wal", "-shm"):
            (BENCH / f"bench.sqlite3{suffix}").unlink(missing_ok=True)
    subprocess.run(
        [BIN / "python", "-m", "django", "migrate", "--verbosity", "0"], env=env, check=True
    )
    auth = "Basic " + base64.b64encode(b"bandwidth:bench-password-long-enough-1234").decode()
    server = _gunicorn(env, PORT)
    nobook = _gunicorn(_env(db, keep_state=False), NOBOOK_PORT)
    try:
        _wrk("ours", 1, auth, 1.0, "warmup")
        _wrk(NOBOOK, 1, auth, 1.0, "warmup")
        _drain(PORT)
        _drain(NOBOOK_PORT)
        growth = _memory_growth(server.pid, auth, short=short)
        results: dict[tuple[int, str], Point] = {}
        for size in SIZES:
            for endpoint in ENDPOINTS:
                _wrk(endpoint, size, auth, min(1.0, seconds), f"warm-{endpoint}-{size}")
                results[size, endpoint] = _wrk(endpoint, size, auth, seconds, f"{endpoint}-{size}")
                _drain(_port(endpoint))
                print(
                    f"  {db} {size:>5} {endpoint:>5}: {results[size, endpoint].rps:8.1f} req/s",
                    file=sys.stderr,
                    flush=True,
                )
        peak = max(_proc_kb(pid, "VmHWM") for pid in _workers(server.pid)) / 1024
    finally:
        for running in (server, nobook):
            running.terminate()
            running.wait(timeout=30)
    deterministic = json.loads(
        subprocess.run(
            [BIN / "python", str(BENCH / "deterministic.py")],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    return _section(db, results, growth, peak, deterministic)


def _wrk(endpoint: str, size: int, auth: str, seconds: float, tag: str) -> Point:
    path = "/ours/" if endpoint in ("ours", NOBOOK) else f"/{endpoint}/"
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            "-c4",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "120s",
            "-s",
            str(BENCH / "notification.lua"),
            f"http://127.0.0.1:{_port(endpoint)}{path}",
            "--",
            str(size),
            auth,
            f"{tag}-{time.time_ns()}",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    data = json.loads(out.strip().splitlines()[-1])
    return Point(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        non_2xx=data["non_2xx"],
        socket_errors=data["socket_errors"],
    )


def _drain(port: int) -> None:
    """Wait until both workers are free: wrk stops, but requests it left keep running.

    Two concurrent requests to ``bare`` are answered only when each worker has finished
    what it was doing (a sync worker serves one request at a time).
    """

    def hit() -> None:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/bare/", data=b"x", method="POST")
        with urllib.request.urlopen(request, timeout=600) as response:
            response.read()

    threads = [threading.Thread(target=hit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _memory_growth(master: int, auth: str, *, short: bool) -> dict[str, float]:
    """RSS of each worker before and after MEMORY_REQUESTS one-number notifications."""
    wanted = 500 if short else MEMORY_REQUESTS
    before = {pid: _proc_kb(pid, "VmRSS") for pid in _workers(master)}
    sent = 0
    while sent < wanted:
        sent += _wrk("ours", 1, auth, 5.0 if not short else 1.0, f"memory-{sent}").requests
    after = {pid: _proc_kb(pid, "VmRSS") for pid in _workers(master)}
    growth = max(after[pid] - before.get(pid, after[pid]) for pid in after) / 1024
    return {"requests": sent, "growth_mb": growth, "rss_mb": max(after.values()) / 1024}


def _workers(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


def _proc_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


def _wait_for_port(server: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"gunicorn exited with {server.returncode}; is port {port} free?")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                time.sleep(0.5)  # both workers booted
                return
        except OSError:
            time.sleep(0.2)
    server.terminate()
    sys.exit("gunicorn did not start within 30 s")


def _create_postgres_database(name: str) -> None:
    import psycopg

    with psycopg.connect(
        host=os.environ.get("PGHOST", "127.0.0.1"),
        user=os.environ.get("PGUSER", "postgres"),
        dbname="postgres",
        autocommit=True,
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _header(seconds: float) -> str:
    import django

    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[
        0
    ]
    return (
        f"# Benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n\n"
        f"{platform.machine()}, {os.cpu_count()} CPUs (shared), Python "
        f"{platform.python_version()}, Django {django.get_version()}, "
        f"{wrk_version.strip()}; gunicorn 2 sync workers; wrk 2 threads, 4 connections, "
        f"{seconds:g} s per point after a warm-up; a unique OrderId in every body.\n"
    )


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "-"


def _section(
    db: str,
    results: dict[tuple[int, str], Point],
    growth: dict[str, float],
    peak_mb: float,
    det: dict[str, object],
) -> str:
    lines = [
        f"## {db}",
        "",
        "| numbers | endpoint | req/s | p50 ms | p99 ms | ours ÷ it, req/s | ours ÷ it, p99 | non-2xx |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for size in SIZES:
        ours = results[size, "ours"]
        for endpoint in ENDPOINTS:
            p = results[size, endpoint]
            mine = endpoint == "ours"
            lines.append(
                f"| {size} | {'**ours**' if mine else endpoint} | {p.rps:.1f} | {p.p50_ms:.1f} | {p.p99_ms:.1f} "
                f"| {'' if mine else _ratio(ours.rps, p.rps)} | {'' if mine else _ratio(ours.p99_ms, p.p99_ms)} "
                f"| {p.non_2xx + p.socket_errors} |"
            )
    statements = det["statements"]
    parse = det["parse"]
    assert isinstance(statements, dict) and isinstance(parse, dict)
    lines += [
        "",
        "SQL statements sent per notification, and parse time per body (best of 7 `timeit` rounds):",
        "",
        "| numbers | SQL: ours | raw | floor | naive | parse µs: ours | XML stage | xml.etree | ours ÷ etree | XML stage ÷ etree |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in SIZES:
        s, t = statements[str(size)], parse[str(size)]
        lines.append(
            f"| {size} | {s['ours']} | {s['raw']} | {s['floor']} | {s['naive']} | {t['ours']:.1f} | {t['ours_xml']:.1f} | {t['etree']:.1f} | {t['ours'] / t['etree']:.2f} | {t['ours_xml'] / t['etree']:.2f} |"
        )
    lines += [
        "",
        f"Worker memory: {growth['growth_mb']:+.1f} MB over {growth['requests']:,} one-number "
        f"notifications (RSS {growth['rss_mb']:.1f} MB after); peak {peak_mb:.1f} MB (VmHWM) "
        "after the 5,000-number runs.",
        "",
    ]
    lines += _targets(db, results, growth, det)
    return "\n".join(lines)


def _targets(
    db: str,
    results: dict[tuple[int, str], Point],
    growth: dict[str, float],
    det: dict[str, object],
) -> list[str]:
    """Issue 17's targets, each with the anchor that shows its limit where one applies."""
    r = results
    statements = det["statements"]
    parse = det["parse"]
    assert isinstance(statements, dict) and isinstance(parse, dict)

    def rps(size: int, endpoint: str) -> float:
        return r[size, endpoint].rps

    def over(size: int, a: str, b: str) -> float:
        # Short runs: naive may finish no request at all in the window (infinite).
        return rps(size, a) / rps(size, b) if rps(size, b) else math.inf

    if db == "sqlite":
        rows = [
            ("1 number: ours ÷ naive, req/s", over(1, "ours", "naive"), "≥ 0.8", 0.8, True),
            ("(limit) 1 number: floor ÷ naive, req/s", over(1, "floor", "naive"), "", None, True),
            (
                "(limit) 1 number: claimed ÷ naive, req/s",
                over(1, "claimed", "naive"),
                "",
                None,
                True,
            ),
            ("100 numbers: ours ÷ naive, req/s", over(100, "ours", "naive"), "", None, True),
            *_book_rows(over),
        ]
    else:
        ours_statements = {statements[k]["ours"] for k in statements}
        rows = [
            ("1 number: ours ÷ naive, req/s", over(1, "ours", "naive"), "≥ 1.0", 1.0, True),
            ("(limit) 1 number: floor ÷ naive, req/s", over(1, "floor", "naive"), "", None, True),
            (
                "(limit) 1 number: claimed ÷ naive, req/s",
                over(1, "claimed", "naive"),
                "",
                None,
                True,
            ),
            ("1 number: ours ÷ claimed, req/s", over(1, "ours", "claimed"), "", None, True),
            ("1 number: ours ÷ raw, req/s (stretch)", over(1, "ours", "raw"), "≥ 0.8", 0.8, True),
            (
                "1 number: ours p99 ÷ naive p99",
                r[1, "ours"].p99_ms / r[1, "naive"].p99_ms,
                "≤ 1.5",
                1.5,
                False,
            ),
            ("100 numbers: ours ÷ naive, req/s", over(100, "ours", "naive"), "≥ 10", 10, True),
            ("5,000 numbers: ours ÷ raw, req/s", over(5000, "ours", "raw"), "≥ 0.15", 0.15, True),
            ("(limit) 5,000 numbers: rows ÷ raw, req/s", over(5000, "rows", "raw"), "", None, True),
            ("5,000 numbers: ours ÷ naive, req/s", over(5000, "ours", "naive"), "≥ 50", 50, True),
            (
                "SQL statements per notification, ours (1 / 100 / 5,000)",
                max(ours_statements),
                "the same for every size",
                None,
                len(ours_statements) == 1,
            ),
            (
                "worker memory growth over 10,000 one-number requests, MB",
                growth["growth_mb"],
                "< 10",
                10,
                False,
            ),
        ]
        rows += _book_rows(over)
        for size in SIZES:
            ratio = parse[str(size)]["ours"] / parse[str(size)]["etree"]
            rows.append(
                (f"parse_notification ÷ xml.etree, {size:,} numbers", ratio, "≤ 1.5", 1.5, False)
            )
    lines = [f"### Targets ({db})", "", "| measure | value | target | |", "|---|---:|---|---|"]
    for name, value, target, bound, higher in rows:
        shown = "∞ (the anchor finished no request)" if math.isinf(value) else f"{value:.2f}"
        if bound is None:
            verdict = "" if not target else ("met" if higher else "**missed**")
        else:
            met = (
                value >= bound
                if higher
                else value < bound
                if target.startswith("<")
                else value <= bound
            )
            verdict = "met" if met else "**missed**"
        lines.append(f"| {name} | {shown} | {target} | {verdict} |")
    return [*lines, ""]


def _book_rows(
    over: Callable[[int, str, str], float],
) -> list[tuple[str, float, str, float | None, bool]]:
    """Issue 22's cost targets: the order book kept on the dispatch path."""
    return [
        (
            "1 number: ours ÷ ours without the book, req/s",
            over(1, "ours", NOBOOK),
            "≥ 0.90",
            0.9,
            True,
        ),
        (
            "100 numbers: ours ÷ ours without the book, req/s",
            over(100, "ours", NOBOOK),
            "",
            None,
            True,
        ),
        (
            "5,000 numbers: ours ÷ ours without the book, req/s",
            over(5000, "ours", NOBOOK),
            "≥ 0.75",
            0.75,
            True,
        ),
    ]


if __name__ == "__main__":
    raise SystemExit(main())
