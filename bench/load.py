"""The load generator, run in its own process: ``python -m bench.load '<json spec>'``.

Plain ``http.client`` over keep-alive connections, one per thread; each thread
is one visitor with its own cookies. Prints one JSON line: requests, errors,
seconds, requests per second, p50/p99 latency in milliseconds.

Modes:
- ``get``: GET ``path`` in a loop for ``seconds``.
- ``form``: each thread first loads the form page ``tokens`` times (one session,
  a fresh submission token each time, untimed), then sends one POST per token;
  only the POSTs are timed.
- ``post``: POST ``path`` (the bare insert) ``tokens`` times per thread.
- ``probe``: like ``form`` with one thread, one POST every ``interval`` seconds;
  prints the time each was sent, keyed by the patient's email address.
"""

from __future__ import annotations

import http.client
import json
import math
import re
import sys
import threading
import time
import uuid
import zlib
from typing import Any
from urllib.parse import urlencode

_HIDDEN = re.compile(r'<input[^>]*name="(rendered)"[^>]*value="([^"]*)"')


class Visitor:
    def __init__(self, host: str, port: int, headers: dict[str, str] | None = None) -> None:
        self.connection = http.client.HTTPConnection(host, port, timeout=30)
        self.cookies: dict[str, str] = {}
        self.headers = dict(headers or {})

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, str]:
        headers = {"Host": f"{self.connection.host}:{self.connection.port}", **self.headers}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
        except (http.client.HTTPException, OSError):
            # The server closed a kept-alive connection: one fresh try.
            self.connection.close()
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
        data = response.read().decode("utf-8", "replace")
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        if response.getheader("Connection", "").lower() == "close":
            self.connection.close()
        return response.status, data

    def tokens(self, path: str) -> dict[str, str]:
        """The form's hidden value: its signed stamp."""
        status, html = self.request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}")
        return dict(_HIDDEN.findall(html))


def form_body(hidden: dict[str, str], email: str) -> str:
    return urlencode(
        {
            **hidden,
            "full_name": "Bench Patient",
            "email": email,
            # A number of each patient's own: the same number at the same
            # location within 30 minutes would be the same enquiry sent again.
            "phone": f"077{zlib.crc32(email.encode()) % 100_000_000:08d}",
            "treatment": "mesotherapy",
            "contact_method": "phone",
            "contact_time": "any",
            "message": "Measuring, please ignore.",
            "consent_enquiry": "y",
        }
    )


def run(spec: dict[str, Any]) -> dict[str, Any]:
    host, port, mode = spec["host"], spec["port"], spec["mode"]
    threads = spec.get("threads", 8)
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors = [0] * threads
    start_at: list[float] = []
    # Every thread ready, then the clock starts, then they go.
    ready = threading.Barrier(threads + 1, action=lambda: start_at.append(time.perf_counter()))
    probes: dict[str, float] = {}

    def worker(n: int) -> None:
        visitor = Visitor(host, port)
        mine = latencies[n]
        prepared: list[str] = []
        if mode == "form":
            for i in range(spec["tokens"]):
                hidden = visitor.tokens(spec["path"])
                email = f"bench-{uuid.uuid4().hex[:12]}-{i}@example.org"
                prepared.append(form_body(hidden, email))
        elif mode == "post":
            prepared = [urlencode({"note": f"row {n}-{i}"}) for i in range(spec["tokens"])]
        elif mode == "get":
            visitor.request("GET", spec["path"])  # the connection and cookies, untimed
        ready.wait()
        if mode == "get":
            deadline = start_at[0] + spec["seconds"]
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                status, _ = visitor.request("GET", spec["path"])
                mine.append(time.perf_counter() - t0)
                errors[n] += status != 200
        elif mode in ("form", "post"):
            target = spec.get("post_path", spec["path"])
            for body in prepared:
                t0 = time.perf_counter()
                status, _ = visitor.request("POST", target, body)
                mine.append(time.perf_counter() - t0)
                errors[n] += status not in (201, 303)
        elif mode == "probe":
            for _ in range(spec["count"]):
                hidden = visitor.tokens(spec["path"])
                email = f"probe-{uuid.uuid4().hex[:12]}@example.org"
                body = form_body(hidden, email)
                probes[email] = time.time()
                t0 = time.perf_counter()
                status, _ = visitor.request("POST", spec["path"], body)
                mine.append(time.perf_counter() - t0)
                errors[n] += status != 303
                time.sleep(spec.get("interval", 0.2))

    pool = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(threads)]
    for thread in pool:
        thread.start()
    ready.wait()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - start_at[0]
    everything = sorted(t for per_thread in latencies for t in per_thread)
    return {
        "requests": len(everything),
        "errors": sum(errors),
        "seconds": round(elapsed, 3),
        "rps": len(everything) / elapsed if elapsed else 0.0,
        "p50_ms": percentile(everything, 50) * 1000,
        "p95_ms": percentile(everything, 95) * 1000,
        "p99_ms": percentile(everything, 99) * 1000,
        "probes": probes,
    }


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of sorted ``values``."""
    if not values:
        return float("nan")
    rank = max(1, math.ceil(pct / 100 * len(values)))
    return values[rank - 1]


if __name__ == "__main__":
    print(json.dumps(run(json.loads(sys.argv[1]))))
