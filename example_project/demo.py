"""``make demo``: migrate, create an admin login, serve, post the samples, keep serving.

Every sample is posted the way Bandwidth does it: first without credentials (expecting
``401`` with a ``WWW-Authenticate`` challenge), then with them.

    python example_project/demo.py [--port 8000] [--no-serve]
"""

from __future__ import annotations

import argparse
import base64
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
PAYLOADS = HERE.parent / "tests" / "payloads"
ADMIN_USER, ADMIN_PASSWORD = "admin", "admin"
BW_USERNAME = os.environ.get("BW_USERNAME", "bandwidth")
BW_PASSWORD = os.environ.get("BW_PASSWORD", "demo-password-change-me")


def manage(*args: str, check: bool = True, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HERE / "manage.py"), *args], check=check, text=True, **kwargs
    )


def wait_for_port(port: int, server: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"runserver exited with code {server.returncode}; is port {port} free?")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    server.terminate()
    sys.exit(f"runserver did not listen on port {port} within {seconds:.0f} s")


def post(url: str, body: bytes, authorization: str | None) -> tuple[int, str]:
    headers = {"Content-Type": "application/xml; charset=utf-8"}
    if authorization:
        headers["Authorization"] = authorization
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers.get("WWW-Authenticate", "")
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("WWW-Authenticate", "")


def deliver_samples(url: str) -> int:
    token = base64.b64encode(f"{BW_USERNAME}:{BW_PASSWORD}".encode()).decode()
    failures = 0
    for path in sorted(PAYLOADS.glob("*.xml")):
        body = path.read_bytes()
        first, challenge = post(url, body, None)
        second, _ = post(url, body, f"Basic {token}")
        ok = first == 401 and challenge.startswith("Basic") and second == 200
        failures += not ok
        print(f"  {'ok ' if ok else 'BAD'} {path.name}: {first} challenge, then {second}")
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--no-serve", action="store_true", help="stop after posting")
    args = parser.parse_args()

    manage("migrate", "--noinput", "--verbosity", "0")
    env = {
        **os.environ,
        "DJANGO_SUPERUSER_USERNAME": ADMIN_USER,
        "DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD,
        "DJANGO_SUPERUSER_EMAIL": "admin@example.com",
    }
    # Fails harmlessly when the user exists from an earlier run.
    manage("createsuperuser", "--noinput", check=False, env=env, capture_output=True)

    base = f"http://127.0.0.1:{args.port}"
    server = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "manage.py"),
            "runserver",
            f"127.0.0.1:{args.port}",
            "--noreload",
        ]
    )
    try:
        wait_for_port(args.port, server)
        print(f"\nPosting the sample notifications to {base}/bandwidth/notifications/ ...")
        failures = deliver_samples(f"{base}/bandwidth/notifications/")
        print(
            f"\nAdmin: {base}/admin/bw_notifications/notification/"
            f"  (login {ADMIN_USER} / {ADMIN_PASSWORD})\n"
        )
        if failures:
            print(f"{failures} sample(s) were not accepted as expected", file=sys.stderr)
            return 1
        if args.no_serve:
            return 0
        print("Serving; press Ctrl-C to stop.")
        return server.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
