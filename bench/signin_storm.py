"""Load for the sign-in storm, in its own process: ``python -m bench.signin_storm '<json>'``.

``visitors`` threads GET the landing page ``path`` in a loop for ``seconds``
(timed); meanwhile ``storm`` threads, each from its own address (an
``X-Forwarded-For`` header the service trusts for one hop), POST wrong
passwords to ``/login`` for unknown accounts as fast as they are answered, at
most ``attempts`` each. Loopback only; bounded by time and count. Prints one
JSON line: the landing page's p50/p95 and the sign-in answers by status.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections import Counter
from typing import Any
from urllib.parse import urlencode

from bench.load import Visitor, percentile

_CSRF = re.compile(r'<input[^>]*name="csrf_token"[^>]*value="([^"]*)"')


def run(spec: dict[str, Any]) -> dict[str, Any]:
    host, port = "127.0.0.1", spec["port"]
    visitors, storm = spec["visitors"], spec["storm"]
    latencies: list[float] = []
    answers: Counter[int] = Counter()
    lock = threading.Lock()
    start_at: list[float] = []

    def begin() -> None:
        start_at.append(time.time())
        print("ready", flush=True)  # the storm's scenario starts its visitors now

    ready = threading.Barrier(visitors + storm + 1, action=begin)

    def visitor() -> None:
        client = Visitor(host, port)
        client.request("GET", spec["path"])  # the connection and cookies, untimed
        mine: list[float] = []
        ready.wait()
        deadline = start_at[0] + spec["seconds"]
        while time.time() < deadline:
            t0 = time.perf_counter()
            client.request("GET", spec["path"])
            mine.append(time.perf_counter() - t0)
        with lock:
            latencies.extend(mine)

    def attacker(n: int) -> None:
        address = f"198.51.{100 + n // 250}.{n % 250 + 1}"
        client = Visitor(host, port, headers={"X-Forwarded-For": address})
        _, page = client.request("GET", "/login")
        token = _CSRF.search(page)
        body = urlencode(
            {
                "csrf_token": token.group(1) if token else "",
                "email": f"nobody-{n}@storm.example",
                "password": "a wrong password, again",
            }
        )
        seen: Counter[int] = Counter()
        ready.wait()
        deadline = start_at[0] + spec["seconds"]
        for _ in range(spec["attempts"]):
            if time.time() >= deadline:
                break
            status, _ = client.request("POST", "/login", body)
            seen[status] += 1
        with lock:
            answers.update(seen)

    threads = [threading.Thread(target=visitor, daemon=True) for _ in range(visitors)]
    threads += [threading.Thread(target=attacker, args=(n,), daemon=True) for n in range(storm)]
    for thread in threads:
        thread.start()
    ready.wait()
    for thread in threads:
        thread.join(timeout=spec["seconds"] + 120)
    latencies.sort()
    return {
        "requests": len(latencies),
        "p50_ms": percentile(latencies, 50) * 1000,
        "p95_ms": percentile(latencies, 95) * 1000,
        "sign_ins": {str(k): v for k, v in sorted(answers.items())},
    }


if __name__ == "__main__":
    print(json.dumps(run(json.loads(sys.argv[1]))))
