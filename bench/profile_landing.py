"""What a landing page view costs in one process, beside its bare twin.

``python -m bench.profile_landing`` builds the service as ``make bench`` does
(production settings, the demo data on SQLite, the embedded Redis), warms the
treatment page and ``bench/bare.py``'s page of the same size, then serves
``--views`` views of each through Flask's test client, in ``--rounds``
alternating rounds, and prints the CPU time (``time.process_time``) per view
of each round. No HTTP server is involved: this is the app's own share of a
view.

``--only real`` or ``--only bare`` serves just one of them, for counting
instructions, which unlike CPU time do not change with what else the machine
is doing: run it under ``valgrind --tool=callgrind`` with ``--views 500`` and
with ``--views 0``, and divide the difference of the two totals by 500
(``PYTHONHASHSEED=0`` keeps the runs alike).
"""

from __future__ import annotations

import argparse
import tempfile
import time

PAGE = "/aurelia/harley-street/mesotherapy/"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--views", type=int, default=2000, help="views per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=("real", "bare"), default=None)
    args = parser.parse_args()

    from flask_migrate import upgrade

    from bench.bare import create_bare_app
    from leads import create_app
    from leads.demo import load_demo
    from leads.extensions import db

    folder = tempfile.mkdtemp(prefix="clinic-leads-profile-")
    database = f"sqlite:///{folder}/leads.db"
    app = create_app(
        {
            "ENV_NAME": "production",
            "SECRET_KEY": "profile-" + "x" * 40,
            "DATABASE_URL": database,
            "INSTANCE_PATH": folder,
            # Counted views wait here rather than go to Redis during the rounds.
            "PAGE_VIEWS_PUSH_SECONDS": 3600,
        }
    )
    with app.app_context():
        upgrade()
        load_demo()
        db.session.remove()
    clients = {
        "real": (app.test_client(), PAGE),
        "bare": (create_bare_app(database).test_client(), "/landing"),
    }
    if args.only:
        clients = {args.only: clients[args.only]}
    for client, path in clients.values():
        for _ in range(20):
            assert client.get(path).status_code == 200
    for _ in range(args.rounds if args.views else 0):
        line = []
        for name, (client, path) in clients.items():
            started = time.process_time()
            for _ in range(args.views):
                client.get(path)
            line.append(f"{name} {(time.process_time() - started) / args.views * 1000:.3f} ms")
        print(", ".join(line) + " of CPU per view", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
