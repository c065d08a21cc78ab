"""A campaign burst, run in its own process: ``python -m bench.burst '<json spec>'``.

Patients arrive at ``rate`` a second for ``seconds`` (an open loop: each
arrives on time whether or not the service kept up with the last), each from
an address of their own (``X-Forwarded-For``, one trusted hop) on a
connection of their own. Each loads the form page, then sends the form with
an email address and phone number of their own; only the POST is timed.
Prints one JSON line: posts, errors, the POST's p50/p95/p99 in milliseconds,
how late the last arrivals started, and when the last POST was answered.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
import uuid
from typing import Any

from bench.load import _HIDDEN, form_body, percentile


def _patient(spec: dict[str, Any], n: int, out: dict[str, Any], lock: threading.Lock) -> None:
    address = f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255 or 1}"
    headers = {"X-Forwarded-For": address, "User-Agent": "Mozilla/5.0 (burst patient)"}
    conn = http.client.HTTPConnection(spec["host"], spec["port"], timeout=60)
    try:
        conn.request("GET", spec["path"], headers=headers)
        response = conn.getresponse()
        html = response.read().decode("utf-8", "replace")
        if response.status != 200:
            raise RuntimeError(f"GET {response.status}")
        body = form_body(dict(_HIDDEN.findall(html)), f"burst-{uuid.uuid4().hex[:12]}@example.org")
        started = time.perf_counter()
        conn.request(
            "POST",
            spec["path"],
            body=body,
            headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
        )
        response = conn.getresponse()
        response.read()
        took = (time.perf_counter() - started) * 1000
        with lock:
            if response.status == 303:
                out["latencies"].append(took)
            else:
                out["errors"][str(response.status)] = out["errors"].get(str(response.status), 0) + 1
            out["last_answer"] = max(out["last_answer"], time.time())
    except Exception as exc:  # counted, not lost: the table shows the errors
        with lock:
            out["errors"][type(exc).__name__] = out["errors"].get(type(exc).__name__, 0) + 1
    finally:
        conn.close()


def run(spec: dict[str, Any]) -> dict[str, Any]:
    rate, seconds = float(spec["rate"]), float(spec["seconds"])
    total = int(rate * seconds)
    out: dict[str, Any] = {"latencies": [], "errors": {}, "last_answer": 0.0}
    lock = threading.Lock()
    threads: list[threading.Thread] = []
    lateness: list[float] = []
    start = time.perf_counter() + 0.2
    for n in range(total):
        due = start + n / rate
        now = time.perf_counter()
        if due > now:
            time.sleep(due - now)
        lateness.append(max(0.0, time.perf_counter() - due) * 1000)
        thread = threading.Thread(target=_patient, args=(spec, n, out, lock), daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join(timeout=120)
    latencies = sorted(out["latencies"])
    lateness.sort()
    return {
        "posts": len(latencies),
        "errors": out["errors"],
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99),
        "late_p95_ms": percentile(lateness, 95),
        "last_answer": out["last_answer"],
    }


if __name__ == "__main__":
    print(json.dumps(run(json.loads(sys.argv[1]))), flush=True)
