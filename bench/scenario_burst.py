"""A campaign burst as in production: patients at 40 POST/s for 15 seconds,
each from an address of their own, with two ``worker.py`` workers delivering
meanwhile. Targets (issue 16): POST p95 under 500 ms, and every delivery sent
within 60 s of the burst's last answer. Picked up by ``make bench``; alone:
``python -m bench.run --only more``.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys

from bench.run import FORM_PATH, ROOT, Bench, Row, _drop_queued, _wait

RATE = 40
SECONDS = 15
WORKERS = 2


def _last_delivery_id(bench: Bench) -> int:
    from leads.extensions import db
    from leads.models import Delivery

    with bench.app.app_context():
        found = db.session.scalar(db.select(db.func.max(Delivery.id))) or 0
        db.session.remove()
    return found


def _deliveries_since(bench: Bench, last_id: int) -> int:
    from leads.extensions import db
    from leads.models import Delivery

    with bench.app.app_context():
        found = db.session.scalar(db.select(db.func.count()).where(Delivery.id > last_id))
        db.session.remove()
    return int(found or 0)


def run(bench: Bench) -> list[Row]:
    _drop_queued(bench)
    bench.sink.reset()
    before = _last_delivery_id(bench)
    bench.start_workers(WORKERS)
    try:
        spec = {"host": "127.0.0.1", "port": bench.port, "path": FORM_PATH}
        completed = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.burst",
                json.dumps({**spec, "rate": RATE, "seconds": SECONDS}),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        )
        result = json.loads(completed.stdout.strip().splitlines()[-1])
        # Each lead is two messages, the clinic's inbox and the patient's
        # acknowledgement; but a patient whose number (made from their
        # address) matches a recent lead's sent that enquiry again, which
        # makes no new lead: every delivery the burst made is counted instead.
        expected = _deliveries_since(bench, before)
        with contextlib.suppress(RuntimeError):  # the row says how many came
            _wait(lambda: bench.sink.count >= expected, 300, "the burst's deliveries")
        drained = max(bench.sink.arrivals, default=result["last_answer"]) - result["last_answer"]
        sent = bench.sink.count
    finally:
        bench.stop_workers()
    errors = ", ".join(f"{n} x {k}" for k, n in result["errors"].items()) or "none"
    print(
        f"\n  burst {RATE}/s x {SECONDS} s: {result['posts']} posts, errors {errors}; POST p50 "
        f"{result['p50_ms']:.0f} ms p95 {result['p95_ms']:.0f} ms; arrivals late p95 "
        f"{result['late_p95_ms']:.0f} ms; {sent} of {expected} messages, the last "
        f"{drained:.1f} s after the last answer",
        flush=True,
    )
    note = f"{result['posts']} posts, errors: {errors}; {sent} of {expected} messages sent"
    return [
        Row(f"Burst {RATE} POST/s, POST p95", result["p95_ms"], None, "ms", "< 500", note=note),
        Row(
            f"Burst {RATE} POST/s, last delivery after the burst",
            drained if sent >= expected else None,
            None,
            "s",
            "< 60",
            note=f"{WORKERS} workers; {sent} of {expected} messages",
        ),
    ]
