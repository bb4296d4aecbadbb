"""One process, one thread: time per notification of each endpoint, side by side.

    BENCH_DB=postgres python bench/inprocess.py [--requests 400] [--numbers 1] [--profile ours]

Calls the WSGI handler through Django's test client (no server, no network), with the
bench project's settings, so what it shows is our own Python and the database's work.
Rounds alternate between the endpoints (raw, naive, ours, raw, …) so a noisy neighbour
slows them alike; the best round of each is reported, then the ratios. ``--profile``
runs one endpoint under cProfile and prints the 25 most expensive functions.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.server.settings")

import django

django.setup()

from django.test import Client  # noqa: E402

from bench.deterministic import AUTH  # noqa: E402
from django_bw_notifications.testing import build_order_notification, generate_numbers  # noqa: E402

PATHS = {
    "raw": "/raw/",
    "naive": "/naive/",
    "floor": "/floor/",
    "claimed": "/claimed/",
    "rows": "/rows/",
    "ours": "/ours/",
}


def post(client: Client, path: str, numbers: list[str]) -> None:
    body = build_order_notification(
        "orders", "COMPLETE", order_id=str(uuid.uuid4()), numbers=numbers
    )
    response = client.post(path, body, content_type="application/xml", HTTP_AUTHORIZATION=AUTH)
    assert response.status_code == 200, response.content
    response.close()  # runs what the server runs after the answer (our dispatch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--numbers", type=int, default=1)
    parser.add_argument("--profile", choices=sorted(PATHS))
    parser.add_argument("--endpoints", default="raw,naive,floor,ours")
    args = parser.parse_args()
    client = Client()
    numbers = generate_numbers(args.numbers)
    if args.profile:
        for _ in range(50):
            post(client, PATHS[args.profile], numbers)
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(args.requests):
            post(client, PATHS[args.profile], numbers)
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)
        return
    endpoints = args.endpoints.split(",")
    best = dict.fromkeys(endpoints, float("inf"))
    for name in endpoints:
        for _ in range(20):
            post(client, PATHS[name], numbers)
    per_round = max(1, args.requests // args.rounds)
    for _ in range(args.rounds):
        for name in endpoints:
            started = time.perf_counter()
            for _ in range(per_round):
                post(client, PATHS[name], numbers)
            best[name] = min(best[name], (time.perf_counter() - started) / per_round)
    for name in endpoints:
        ratio = best["ours"] / best[name] if "ours" in best else float("nan")
        print(f"{name:6} {best[name] * 1000:7.3f} ms   ours / it: {ratio:5.2f}")


if __name__ == "__main__":
    main()
