"""``make demo``: migrate, create an admin login, serve, post the samples, keep serving.

Every sample is posted by ``manage.py bw_notifications_send``, the way Bandwidth does it:
first without credentials (expecting ``401`` with a ``WWW-Authenticate`` challenge), then
with them.

    python example_project/demo.py [--port 8000] [--no-serve]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PAYLOADS = HERE.parent / "tests" / "payloads"
ADMIN_USER, ADMIN_PASSWORD = "admin", "admin"


def manage(*args: str, check: bool = True, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HERE / "manage.py"), *args], check=check, text=True, **kwargs
    )


def port_taken(port: int) -> bool:
    """True when something already listens on 127.0.0.1:``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


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


def samples() -> list[Path]:
    """The sample bodies worth showing: not the documentation's templates, whose
    placeholder values (an order type "portins | portouts | …") would pollute the list."""
    return [path for path in sorted(PAYLOADS.glob("*.xml")) if "_template" not in path.name]


def deliver_samples(url: str) -> bool:
    """Send every sample with the package's own sender, which plays Bandwidth's part."""
    files = [arg for path in samples() for arg in ("--file", str(path))]
    # Credentials: the first pair of BW_NOTIFICATIONS_BASIC_AUTH in example/settings.py.
    return manage("bw_notifications_send", url, *files, check=False).returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--no-serve", action="store_true", help="stop after posting")
    args = parser.parse_args()

    if port_taken(args.port):
        sys.exit(
            f"Port {args.port} is already in use (another server holds it), so the demo "
            f"stops before posting anything. Choose another: make demo PORT=8001 (or "
            f"python example_project/demo.py --port 8001)."
        )
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
        ],
        # The CRM receiver fails on its first attempt: a failure to look at and replay.
        env={**os.environ, "EXAMPLE_CRM_FLAKY": "1"},
    )
    try:
        wait_for_port(args.port, server)
        print(f"\nPosting the sample notifications to {base}/bandwidth/notifications/ ...")
        delivered = deliver_samples(f"{base}/bandwidth/notifications/")
        print(
            f"\nAdmin: {base}/admin/bw_notifications/notification/"
            f"  (login {ADMIN_USER} / {ADMIN_PASSWORD})\n"
            "One port-in FOC failed on purpose (the demo's CRM receiver is down on the first "
            "attempt): filter By processing: Failed, open it for the traceback, then replay it "
            "from the list (tick it, action 'Replay signals', or 'Replay failed in this list').\n"
            f"The endpoint {base}/bandwidth/notifications/ takes the callback credentials "
            "bandwidth / demo-password-change-me (example/settings.py).\n"
        )
        if not delivered:
            print("A sample was not delivered as expected (see above)", file=sys.stderr)
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
