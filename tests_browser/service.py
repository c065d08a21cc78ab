"""The real service for the browser tests: gunicorn, an RQ worker, Redis, SMTP.

It runs in child processes, as in production, from a fresh instance folder:
SQLite there, or the PostgreSQL database named by ``TEST_DATABASE_URL`` (its
schema is rebuilt); the embedded Redis server, or ``REDIS_URL`` (database 12,
emptied first). Mail goes by SMTP to an aiosmtpd server inside the test
process, so a test can read what patients and clinics receive.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from tests.support import SmtpServer, free_port, start_embedded_redis

ROOT = Path(__file__).resolve().parent.parent
STAFF_PASSWORD = "correct horse battery staple"


@dataclass
class Service:
    instance: Path
    logs: Path
    base_url: str = ""
    smtp: SmtpServer | None = None
    env: dict[str, str] = field(default_factory=dict)
    staff: dict[str, str] = field(default_factory=dict)  # role -> email
    # True: no SMTP server, so clinic inboxes are Maildirs under instance/mail/
    # (the embedded defaults); wait_for_mail is then not available.
    maildir: bool = False
    _children: list[subprocess.Popen] = field(default_factory=list)
    _redis: Any = None

    def start(self) -> Service:
        self.instance.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        self.smtp = SmtpServer().start()
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        self.env = {
            **os.environ,
            "CLINIC_LEADS_ENV": "development",
            "INSTANCE_PATH": str(self.instance),
            "DATABASE_URL": self._database_url(),
            "REDIS_URL": self._redis_url(),
            "SMTP_URL": self.smtp.url,
            "PUBLIC_BASE_URL": self.base_url,
            "SECRET_KEY": "browser-tests-" + os.urandom(16).hex(),
            "MAIL_FROM": "Clinic Leads <leads@clinic-leads.test>",
            # A browser fills the form faster than any person, and every test
            # posts from 127.0.0.1: the spam traps are tested in tests/test_spam.py.
            "SPAM_MIN_FILL_SECONDS": "0",
            "SPAM_INSTANT_SECONDS": "0",
            "SPAM_SENDER_LIMIT": "10000 per hour",
            "SPAM_ADDRESS_LIMIT": "10000 per hour",
            "SPAM_FORM_LIMIT": "10000 per hour",
            "FORM_POST_LIMIT": "10000 per minute",
            # Overdue leads are looked for every few seconds, not every minute.
            "ESCALATION_INTERVAL_SECONDS": "3",
        }
        if self.maildir:
            del self.env["SMTP_URL"]
        self._prepare()
        self._spawn(
            "web",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--no-control-socket",
                "--access-logfile",
                "-",
                "leads:create_app()",
            ],
        )
        self._spawn("worker", [sys.executable, str(ROOT / "worker.py")])
        self._wait_until_up()
        return self

    def stop(self) -> None:
        for child in self._children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in self._children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if self.smtp is not None:
            self.smtp.stop()
        if self._redis is not None:
            self._redis.shutdown()

    def url(self, path: str) -> str:
        return self.base_url + path

    def wait_for_mail(self, to: str, containing: str = "", timeout: float = 30) -> EmailMessage:
        """The first message to ``to`` whose text has ``containing``, once it arrives."""
        assert self.smtp is not None
        deadline = time.monotonic() + timeout
        while True:
            for message in self.smtp.inbox.to(to):
                if containing in message.get_body(("plain",)).get_content():
                    return message
            if time.monotonic() > deadline:
                raise AssertionError(f"no message for {to} containing {containing!r} arrived")
            time.sleep(0.1)

    # -- setting up -----------------------------------------------------------

    def _database_url(self) -> str:
        return os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{self.instance / 'leads.db'}"

    def _redis_url(self) -> str:
        url = os.environ.get("REDIS_URL")
        if url:
            base = url.rsplit("/", 1)[0] if re.search(r"/\d+$", url) else url.rstrip("/")
            return f"{base}/12"
        self._redis, url = start_embedded_redis(str(self.instance))
        return url

    def _prepare(self) -> None:
        """A fresh schema from the migrations, the demo data and two staff accounts."""
        from redis import Redis

        from leads import create_app
        from leads.demo import load_demo
        from leads.extensions import db
        from leads.models import Clinic
        from leads.services.accounts import create_user
        from tests.support import rebuild_schema
        from tests_browser.pictures import add_pictures

        Redis.from_url(self.env["REDIS_URL"]).flushdb()
        app = create_app(
            {
                "ENV_NAME": "development",
                "DATABASE_URL": self.env["DATABASE_URL"],
                "REDIS_URL": self.env["REDIS_URL"],
                "INSTANCE_PATH": str(self.instance),
            }
        )
        with app.app_context():
            rebuild_schema()
            load_demo()
            add_pictures()
            aurelia = db.session.scalar(db.select(Clinic).where(Clinic.slug == "aurelia"))
            for role, clinics in (("manager", [aurelia]), ("marketing", [aurelia]), ("admin", [])):
                email = f"{role}@staff.example.org"
                create_user(email, role, STAFF_PASSWORD, clinics, name=f"Demo {role}")
                self.staff[role] = email
            db.session.remove()
            db.engine.dispose()

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the child
        child = subprocess.Popen(argv, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self._children.append(child)

    def _wait_until_up(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for child in self._children:
                if child.poll() is not None:
                    raise RuntimeError(f"a service process stopped; see the logs in {self.logs}")
            try:
                with urllib.request.urlopen(self.url("/"), timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except OSError:  # not listening yet, or still starting
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the service did not answer within {timeout}s; see {self.logs}")
